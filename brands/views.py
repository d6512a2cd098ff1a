"""Brand pages: the searchable list at /brands/ and one brand's page with its reviews."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from brands.logos import monogram_svg
from brands.models import Company
from brands.selectors import (
    COMPANY_SORTS,
    DEFAULT_COMPANY_SORT,
    category_by_slug,
    category_choices,
    company_by_slug,
    company_list,
    company_website_url,
)
from reviews.selectors import scraped_reviews_with_stars, user_reviews_visible

BRANDS_PER_PAGE = 24
REVIEWS_PER_PAGE = 10
SORT_LABELS = {"rating": "Best rated", "reviews": "Most reviewed", "name": "Name (A to Z)"}


@require_safe
def brand_list(request: HttpRequest) -> HttpResponse:
    """Active brands: search by name, filter by category, sort by rating, review count or name."""
    query = request.GET.get("q", "").strip()[:100]
    category = category_by_slug(slug=request.GET.get("category", ""))
    sort = request.GET.get("sort", DEFAULT_COMPANY_SORT)
    if sort not in COMPANY_SORTS:
        sort = DEFAULT_COMPANY_SORT
    companies = company_list(query=query, category=category, sort=sort).prefetch_related("categories")
    page = Paginator(companies, BRANDS_PER_PAGE).get_page(request.GET.get("page"))
    categories = category_choices()
    return render(
        request,
        "brands/list.html",
        {
            "page": page,
            "query": query,
            "category": category,
            "categories": categories,
            "top_categories": [option for option in categories if option.parent_id is None],
            "sort": sort,
            "sorts": SORT_LABELS,
        },
    )


def _stars_filter(value: str | None) -> int | None:
    """`?stars=N` as 1-5, anything else as no filter."""
    return int(value) if value in {"1", "2", "3", "4", "5"} else None


@require_safe
def brand_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """One brand: rating out of 5, star distribution, mean sentiment, visitors' and collected reviews."""
    company = company_by_slug(slug=slug)
    if company is None:
        raise Http404("No brand with that name.")
    stars = _stars_filter(request.GET.get("stars"))
    total = company.review_count
    distribution = [
        {"stars": star, "count": count, "percent": round(100 * count / total) if total else 0}
        for star, count in sorted(company.star_distribution.items(), reverse=True)
    ]
    visitor_page = Paginator(user_reviews_visible(company=company, stars=stars), REVIEWS_PER_PAGE).get_page(
        request.GET.get("vpage")
    )
    scraped_page = Paginator(scraped_reviews_with_stars(company=company, stars=stars), REVIEWS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "brands/detail.html",
        {
            "company": company,
            "website": company_website_url(company),
            "distribution": distribution,
            "stars": stars,
            "visitor_page": visitor_page,
            "scraped_page": scraped_page,
        },
    )


@cache_control(max_age=86400, public=True)
def logo(request: HttpRequest, slug: str) -> HttpResponse:
    """The brand's generated monogram logo."""
    company = get_object_or_404(Company.objects.only("name"), slug=slug)
    return HttpResponse(monogram_svg(company.name), content_type="image/svg+xml")
