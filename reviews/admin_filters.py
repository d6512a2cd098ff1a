"""Filters for the review changelists: company, category and crawl run by typed text, suggestion outcome."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet

from brands.admin_filters import TextSearchFilter, categories_matching, companies_matching
from brands.models import Company
from reviews.suggestions import SUGGESTION_OUTCOMES, suggestion_outcome_condition


class CompanyFilter(TextSearchFilter):
    """Reviews of the company whose slug or domain is typed, else of companies whose name contains it."""

    title = "company"
    parameter_name = "company"
    placeholder = "Name, domain or slug"

    def filter_text(self, queryset: QuerySet, text: str) -> QuerySet:
        return queryset.filter(company_id__in=companies_matching(text).values("pk"))


class CategoryFilter(TextSearchFilter):
    """Reviews of companies in a category (or its sub-categories)."""

    title = "category"
    parameter_name = "category"
    placeholder = "Category name"

    def filter_text(self, queryset: QuerySet, text: str) -> QuerySet:
        in_category = Company.objects.filter(categories__in=categories_matching(text)).values("pk")
        return queryset.filter(company_id__in=in_category)


class CrawlRunFilter(TextSearchFilter):
    """Reviews stored by one crawl (its number)."""

    title = "crawl run"
    parameter_name = "crawl_run"
    placeholder = "Crawl number, e.g. 12"

    def filter_text(self, queryset: QuerySet, text: str) -> QuerySet:
        number = text.lstrip("#")
        return queryset.filter(crawl_run_id=int(number)) if number.isdigit() else queryset.none()


class SuggestionFilter(admin.SimpleListFilter):
    """Did the visitor keep the suggested rating, or change it up or down?"""

    title = "suggested rating"
    parameter_name = "suggestion"

    def lookups(self, request, model_admin):
        return tuple(SUGGESTION_OUTCOMES.items())

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        if self.value() in SUGGESTION_OUTCOMES:
            return queryset.filter(suggestion_outcome_condition(self.value()))
        return queryset


class GoldFilter(admin.SimpleListFilter):
    """Reviews staff verified from their text (the gold evaluation set), or not."""

    title = "gold set"
    parameter_name = "gold"

    def lookups(self, request, model_admin):
        return (("yes", "Verified (gold)"), ("no", "Not verified"))

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        if self.value() in ("yes", "no"):
            return queryset.filter(verified_at__isnull=self.value() == "no")
        return queryset


class CorrectedFilter(admin.SimpleListFilter):
    """Reviews staff relabelled (the collected label is kept beside the correction), or not."""

    title = "relabelled"
    parameter_name = "relabelled"

    def lookups(self, request, model_admin):
        return (("yes", "Relabelled by staff"), ("no", "Collected label"))

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        if self.value() in ("yes", "no"):
            return queryset.filter(corrected_label__isnull=self.value() == "no")
        return queryset
