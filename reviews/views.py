"""The review form at `/`: a random brand, live sentiment while typing, one stored review per submission."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from brands.models import Company
from brands.selectors import company_active_by_slug, company_by_slug, company_random_active, company_website_url
from core.errors import StarlingError
from core.privacy import client_ip
from reviews.forms import ReviewForm, form_token_brand, form_token_key, form_token_new
from reviews.models import UserReview
from reviews.scoring import review_score
from reviews.services import user_review_create
from reviews.wording import SENTIMENT_WORDS, sentiment_word

_MAX_EXCLUDED = 20  # "review another brand" avoids at most this many recent brands
_FORM_FIELDS = ("text", "title", "display_name", "experienced_on")  # what a re-rendered form keeps
_ERROR_FIELDS = ("text", "rating", "title", "display_name", "experienced_on")


def _brand_context(company: Company) -> dict:
    """What the page (and the "review another brand" fetch) shows about a brand."""
    return {
        "slug": company.slug,
        "name": company.name,
        "website": company_website_url(company),
        "url": company.get_absolute_url(),
        "logo": reverse("brands:logo", kwargs={"slug": company.slug}),
    }


def _suggestion(text: str) -> dict | None:
    """The server's suggestion for a text shown again (after an error, or asked for without JavaScript)."""
    if not text.strip():
        return None
    scored = review_score(text[: settings.PREDICTION_MAX_CHARS])
    if scored.suggested_rating is None:
        return None
    return {"stars": scored.suggested_rating, "word": sentiment_word(scored.suggested_rating), "score": scored.score}


def _render_form(
    request: HttpRequest,
    company: Company | None,
    form: ReviewForm | None,
    *,
    status: int = 200,
    notice: str = "",
    suggestion: dict | None = None,
) -> HttpResponse:
    if company is not None and form is None:
        form = ReviewForm(initial={"brand": company.slug, "form_token": form_token_new(company)}, company=company)
    # A suggestion the visitor accepted comes back as a suggestion, never as stars they chose.
    chosen = "" if form is None or form.accepted_suggestion() else str(form["rating"].value() or "")
    context = {
        "company": company,
        "brand": _brand_context(company) if company else None,
        "form": form,
        "chosen_rating": chosen,
        "notice": notice,
        "suggestion": suggestion,
        "today": timezone.localdate().isoformat(),
        "sentiment_words": json.dumps(SENTIMENT_WORDS),
        "min_chars": settings.REVIEW_MIN_CHARS,
        "max_chars": settings.REVIEW_MAX_CHARS,
        "prediction_max_chars": settings.PREDICTION_MAX_CHARS,
    }
    return render(request, "reviews/home.html", context, status=status)


def _form_again(request: HttpRequest, company: Company) -> ReviewForm:
    """The visitor's form shown again without errors: what they wrote, and the stars only if they picked them."""
    token = request.POST.get("form_token", "")
    initial = {
        "brand": company.slug,
        "form_token": token if form_token_brand(token) == company.pk else form_token_new(company),
        **{field: request.POST.get(field, "") for field in _FORM_FIELDS},
    }
    if request.POST.get("rating_source") != UserReview.RatingSource.ACCEPTED:
        initial["rating"] = request.POST.get("rating", "")
    return ReviewForm(initial=initial, company=company)


def _unknown_brand_notice(slug: str) -> str:
    closed = company_by_slug(slug=slug)
    if closed is not None:
        return f"{closed.name} is not open for reviews right now; here is another brand."
    return "We could not find that brand; here is another."


def _thank_you(request: HttpRequest, company: Company) -> HttpResponse:
    messages.success(request, f"Thank you for reviewing {company.name}! Here is another brand.")
    return redirect(f"{reverse('reviews:home')}?{urlencode({'after': company.slug})}")


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def review_home(request: HttpRequest) -> HttpResponse:
    """GET: the form for a random brand (`?brand=slug` for one brand). POST: store the visitor's review."""
    if request.method == "POST":
        return review_submit(request)
    company, notice = None, ""
    if slug := request.GET.get("brand", "").strip():
        company = company_active_by_slug(slug=slug)
        if company is None:
            notice = _unknown_brand_notice(slug)
    if company is None:
        company = company_random_active(exclude_slugs=request.GET.getlist("after")[:_MAX_EXCLUDED])
    return _render_form(request, company, None, notice=notice)


def review_submit(request: HttpRequest) -> HttpResponse:
    """Validate and store the review (once per form token) through the one service that scores it."""
    company = company_active_by_slug(slug=request.POST.get("brand", ""))
    if company is None:
        messages.error(request, "That brand is no longer open for reviews: here is another one.")
        return _render_form(request, company_random_active(), None, status=400)
    if "suggest" in request.POST:  # "Suggest a rating" without JavaScript: score the text, store nothing
        form = _form_again(request, company)
        return _render_form(request, company, form, suggestion=_suggestion(request.POST.get("text", "")))
    form = ReviewForm(request.POST, company=company)
    if form.is_valid():
        data = form.cleaned_data
        try:
            user_review_create(
                company=company,
                text=data["text"],
                rating=data["rating"],
                rating_source=data["rating_source"],
                display_name=data["display_name"],
                title=data["title"],
                experienced_on=data["experienced_on"],
                ip=client_ip(request),
                user_agent=request.headers.get("user-agent", ""),
                user=request.user,
                submission_key=form_token_key(data["form_token"]),
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in _ERROR_FIELDS else None, errors)
        except StarlingError as exc:  # the review budget (429) and any other refusal the service explains
            form.add_error(None, exc.message)
            response = _render_form(request, company, form, status=exc.status)
            if retry_after := getattr(exc, "retry_after", None):
                response["Retry-After"] = str(int(retry_after))
            return response
        else:
            return _thank_you(request, company)
    return _render_form(request, company, form, status=400, suggestion=_suggestion(request.POST.get("text", "")))


@never_cache
@require_safe
def next_brand(request: HttpRequest) -> JsonResponse:
    """The next brand to review, as JSON, avoiding `?exclude=` slugs: lets the page switch brands without a reload."""
    company = company_random_active(exclude_slugs=request.GET.getlist("exclude")[:_MAX_EXCLUDED])
    if company is None:
        return JsonResponse({"error": "No brands to review yet."}, status=404)
    return JsonResponse({"brand": _brand_context(company), "form_token": form_token_new(company)})
