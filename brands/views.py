"""Brand pages."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import cache_control

from brands.logos import monogram_svg
from brands.models import Company


def home(request: HttpRequest) -> HttpResponse:
    """The start page: for now, the list of active brands."""
    companies = Company.objects.filter(is_active=True).order_by("name")[:200]
    return render(request, "brands/home.html", {"companies": companies})


@cache_control(max_age=86400, public=True)
def logo(request: HttpRequest, slug: str) -> HttpResponse:
    """The brand's generated monogram logo."""
    company = get_object_or_404(Company.objects.only("name"), slug=slug)
    return HttpResponse(monogram_svg(company.name), content_type="image/svg+xml")
