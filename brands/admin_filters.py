"""Admin filters that take typed text instead of listing every option (there are tens of thousands)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Q, QuerySet

from brands.domains import normalize_domain
from brands.models import Category, Company


class TextSearchFilter(admin.SimpleListFilter):
    """A list filter shown as one small text box; subclasses turn the text into a queryset filter."""

    template = "admin/brands/text_search_filter.html"
    placeholder = ""

    def __init__(self, request, params, model, model_admin) -> None:
        self._query = request.GET
        super().__init__(request, params, model, model_admin)

    def lookups(self, request, model_admin):
        return ()

    def has_output(self) -> bool:
        return True

    def choices(self, changelist):
        hidden = [
            (name, value)
            for name, values in self._query.lists()
            if name not in (self.parameter_name, "p")
            for value in values
        ]
        yield {
            "selected": self.value() is not None,
            "parameter_name": self.parameter_name,
            "value": self.value() or "",
            "placeholder": self.placeholder,
            "hidden_fields": hidden,
            "clear_query_string": changelist.get_query_string(remove=[self.parameter_name]),
        }

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        text = (self.value() or "").strip()
        return self.filter_text(queryset, text) if text else queryset

    def filter_text(self, queryset: QuerySet, text: str) -> QuerySet:
        raise NotImplementedError


def companies_matching(text: str) -> QuerySet:
    """Companies a typed text names: by slug or domain exactly when one matches, else by part of the name."""
    exact = Company.objects.filter(Q(slug=text) | Q(domain=normalize_domain(text) or None))
    return exact if exact.exists() else Company.objects.filter(name__icontains=text)


def categories_matching(text: str) -> QuerySet:
    """Categories a typed text names (slug, or part of the name), with their sub-categories."""
    named = Category.objects.filter(Q(slug=text) | Q(name__icontains=text))
    return Category.objects.filter(Q(pk__in=named.values("pk")) | Q(parent__in=named.values("pk")))


class CompanyCategoryFilter(TextSearchFilter):
    """Companies in a category (or one of its sub-categories) whose name or slug is typed."""

    title = "category"
    parameter_name = "category"
    placeholder = "Category name"

    def filter_text(self, queryset: QuerySet, text: str) -> QuerySet:
        in_category = Company.objects.filter(categories__in=categories_matching(text)).values("pk")
        return queryset.filter(pk__in=in_category)


class CategoryLevelFilter(admin.SimpleListFilter):
    """Top-level categories or sub-categories."""

    title = "level"
    parameter_name = "level"

    def lookups(self, request, model_admin):
        return (("top", "Top-level"), ("sub", "Sub-category"))

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        if self.value() == "top":
            return queryset.filter(parent__isnull=True)
        if self.value() == "sub":
            return queryset.filter(parent__isnull=False)
        return queryset


class OpenToReviewsFilter(admin.BooleanFieldListFilter):
    """The `is_active` filter under the words staff use: companies open (or closed) to reviews."""

    def __init__(self, field, request, params, model, model_admin, field_path) -> None:
        super().__init__(field, request, params, model, model_admin, field_path)
        self.title = "open to reviews"

    def choices(self, changelist):
        words = {"Yes": "Open", "No": "Closed"}
        for choice in super().choices(changelist):
            yield {**choice, "display": words.get(str(choice["display"]), choice["display"])}
