"""The review form at `/`: a random brand, live sentiment while typing, one stored review per submission."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from brands.models import Company
from brands.selectors import company_active_by_slug, company_random_active, company_website_url
from core.privacy import client_ip
from reviews.forms import ReviewForm, form_token_key, form_token_new
from reviews.services import user_review_create

_MAX_EXCLUDED = 20  # "review another brand" avoids at most this many recent brands


def _brand_context(company: Company) -> dict:
    """What the page (and the "review another brand" fetch) shows about a brand."""
    return {
        "slug": company.slug,
        "name": company.name,
        "website": company_website_url(company),
        "url": company.get_absolute_url(),
        "logo": reverse("brands:logo", kwargs={"slug": company.slug}),
    }


def _render_form(request: HttpRequest, company: Company | None, form: ReviewForm | None, status: int = 200):
    if company is not None and form is None:
        form = ReviewForm(initial={"brand": company.slug, "form_token": form_token_new()})
    context = {
        "company": company,
        "brand": _brand_context(company) if company else None,
        "form": form,
        "min_chars": settings.REVIEW_MIN_CHARS,
        "max_chars": settings.REVIEW_MAX_CHARS,
        "prediction_max_chars": settings.PREDICTION_MAX_CHARS,
    }
    return render(request, "reviews/home.html", context, status=status)


def _thank_you(request: HttpRequest, company: Company) -> HttpResponse:
    messages.success(request, f"Thank you for reviewing {company.name}! Here is another brand.")
    return redirect(f"{reverse('reviews:home')}?{urlencode({'after': company.slug})}")


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def review_home(request: HttpRequest) -> HttpResponse:
    """GET: the form for a random brand (`?brand=slug` for one brand). POST: store the visitor's review."""
    if request.method == "POST":
        return review_submit(request)
    company = None
    if request.GET.get("brand"):
        company = company_active_by_slug(slug=request.GET["brand"])
    if company is None:
        company = company_random_active(exclude_slugs=request.GET.getlist("after")[:_MAX_EXCLUDED])
    return _render_form(request, company, None)


def review_submit(request: HttpRequest) -> HttpResponse:
    """Validate and store the review (once per form token) through the one service that scores it."""
    form = ReviewForm(request.POST)
    company = company_active_by_slug(slug=request.POST.get("brand", ""))
    if company is None:
        messages.error(request, "That brand is no longer open for reviews: here is another one.")
        return _render_form(request, company_random_active(), None, status=400)
    if not form.is_valid():
        return _render_form(request, company, form, status=400)
    try:
        user_review_create(
            company=company,
            text=form.cleaned_data["text"],
            rating=form.cleaned_data["rating"],
            ip=client_ip(request),
            user_agent=request.headers.get("user-agent", ""),
            user=request.user,
            submission_key=form_token_key(form.cleaned_data["form_token"]),
        )
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in ("text", "rating") else None, errors)
        return _render_form(request, company, form, status=400)
    return _thank_you(request, company)


@never_cache
@require_safe
def next_brand(request: HttpRequest) -> JsonResponse:
    """The next brand to review, as JSON, avoiding `?exclude=` slugs: lets the page switch brands without a reload."""
    company = company_random_active(exclude_slugs=request.GET.getlist("exclude")[:_MAX_EXCLUDED])
    if company is None:
        return JsonResponse({"error": "No brands to review yet."}, status=404)
    return JsonResponse({"brand": _brand_context(company), "form_token": form_token_new()})
