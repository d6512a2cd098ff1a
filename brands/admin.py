"""Staff screens for categories and companies, built for tens of thousands of rows."""

from __future__ import annotations

from collections.abc import Iterator

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from brands.admin_filters import CategoryLevelFilter, CompanyCategoryFilter, OpenToReviewsFilter
from brands.domains import normalize_domain
from brands.models import Category, Company
from brands.services import company_set_active
from reviews.services import company_refresh_aggregates

SOURCE_FIELDS = ("source", "source_id", "created_at", "updated_at")
ACTION_BATCH_SIZE = 1000


def pk_batches(queryset: QuerySet, size: int | None = None) -> Iterator[list[int]]:
    """The primary keys of a (possibly "select all": 100,000-row) selection, a bounded list at a time.

    Keeps each service call under the database's limit on query parameters (SQLite: 32,766).
    """
    size = size or ACTION_BATCH_SIZE
    ids = list(queryset.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _companies(count: int) -> str:
    return f"{count} {'company' if count == 1 else 'companies'}"


def reviews_changelist_link(model: str, company: Company, label: str) -> str:
    """A link to a review changelist filtered to one company."""
    url = reverse(f"admin:reviews_{model}_changelist") + "?" + urlencode({"company": company.slug})
    return format_html('<a href="{}">{}</a>', url, label)


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ("name", "parent", "slug", "company_count", "source_id")
    list_filter = (CategoryLevelFilter,)
    list_select_related = ("parent",)
    search_fields = ("name", "slug")
    autocomplete_fields = ("parent",)
    readonly_fields = SOURCE_FIELDS
    show_full_result_count = False
    list_per_page = 100

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(company_total=Count("companies", distinct=True))

    @admin.display(description="companies", ordering="company_total")
    def company_count(self, category: Category) -> str:
        url = reverse("admin:brands_company_changelist") + "?" + urlencode({"category": category.slug})
        return format_html('<a href="{}">{}</a>', url, category.company_total)


class CompanyForm(forms.ModelForm):
    website = forms.URLField(max_length=500, required=False, assume_scheme="https")

    class Meta:
        model = Company
        fields = ("name", "slug", "domain", "website", "description", "categories", "is_active")
        labels = {"is_active": "Open to reviews"}
        help_texts = {
            "is_active": "Offered on the review form and the brand list. Companies a crawl or an import finds "
            "start closed until staff open them."
        }

    def clean_domain(self) -> str | None:
        """Store the domain the way every other writer does: normalised, or empty."""
        return normalize_domain(self.cleaned_data.get("domain") or "") or None


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    form = CompanyForm
    list_display = (
        "logo",
        "name",
        "domain",
        "open_to_reviews_flag",
        "rating",
        "visitors",
    )
    list_display_links = ("logo", "name")
    list_filter = (
        ("is_active", OpenToReviewsFilter),
        "source",
        CompanyCategoryFilter,
        ("created_at", admin.DateFieldListFilter),
    )
    search_fields = ("name", "=domain", "=slug")
    search_help_text = "Part of the name, or an exact domain or slug."
    autocomplete_fields = ("categories",)
    readonly_fields = (
        "logo_large",
        "star_distribution_bars",
        "review_count",
        "average_stars",
        *(f"stars_{star}" for star in range(1, 6)),
        "user_review_count",
        "mean_sentiment",
        "source_logo_url",
        "source_identifier",
        "source_review_count",
        "source_trust_score",
        "review_links",
        *SOURCE_FIELDS,
    )
    fieldsets = (
        (
            None,
            {"fields": ("logo_large", "name", "slug", "domain", "website", "description", "categories", "is_active")},
        ),
        (
            "Reviews",
            {
                "fields": (
                    "star_distribution_bars",
                    "review_count",
                    "average_stars",
                    "user_review_count",
                    "mean_sentiment",
                    "review_links",
                )
            },
        ),
        (
            "Review site",
            {
                "classes": ("collapse",),
                "fields": (
                    "source",
                    "source_id",
                    "source_identifier",
                    "source_logo_url",
                    "source_review_count",
                    "source_trust_score",
                    "created_at",
                    "updated_at",
                ),
            },
        ),
    )
    actions = ("open_to_reviews", "close_to_reviews", "refresh_aggregates")
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    list_per_page = 50

    class Media:
        css = {"all": ("admin/starling-admin.css",)}

    @admin.display(description="open to reviews", boolean=True, ordering="is_active")
    def open_to_reviews_flag(self, company: Company) -> bool:
        return company.is_active

    @admin.display(description="rating (reviews)", ordering="-average_stars")
    def rating(self, company: Company) -> str:
        stars = "—" if company.average_stars is None else f"{company.average_stars:.1f} ★"
        return f"{stars} ({company.review_count})"

    @admin.display(description="visitors (sentiment)", ordering="-user_review_count")
    def visitors(self, company: Company) -> str:
        if company.mean_sentiment is None:
            return str(company.user_review_count)
        return f"{company.user_review_count} ({company.mean_sentiment:.2f})"

    @admin.display(description="")
    def logo(self, company: Company) -> str:
        url = reverse("brands:logo", kwargs={"slug": company.slug})
        return format_html('<img src="{}" width="28" height="28" alt="" loading="lazy">', url)

    @admin.display(description="logo")
    def logo_large(self, company: Company) -> str:
        if not company.pk:
            return "-"
        url = reverse("brands:logo", kwargs={"slug": company.slug})
        return format_html('<img src="{}" width="72" height="72" alt="{} logo">', url, company.name)

    @admin.display(description="star distribution")
    def star_distribution_bars(self, company: Company) -> str:
        distribution = company.star_distribution
        most = max(distribution.values()) or 1
        rows = (
            (star, max(1, round(160 * count / most)) if count else 0, count)
            for star, count in sorted(distribution.items(), reverse=True)
        )
        return format_html(
            '<table class="star-distribution">{}</table>',
            format_html_join(
                "",
                '<tr><th scope="row">{}★</th><td><span style="display:inline-block;height:10px;width:{}px;'
                'background:#f59e0b"></span></td><td>{}</td></tr>',
                rows,
            ),
        )

    @admin.display(description="reviews")
    def review_links(self, company: Company) -> str:
        if not company.pk:
            return "-"
        return format_html(
            "{} · {}",
            reviews_changelist_link("scrapedreview", company, "scraped"),
            reviews_changelist_link("userreview", company, "visitors"),
        )

    @admin.action(description="Open to reviews (offer on the review form and the brand list)")
    def open_to_reviews(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_open(request, queryset, active=True)

    @admin.action(description="Close to reviews (take off the review form and the brand list)")
    def close_to_reviews(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_open(request, queryset, active=False)

    def _set_open(self, request: HttpRequest, queryset: QuerySet, *, active: bool) -> None:
        """Open or close the selection and say how many changed and how many already were."""
        selected = changed = 0
        for ids in pk_batches(queryset):
            selected += len(ids)
            changed += company_set_active(company_ids=ids, active=active)
        state = "open" if active else "closed"
        message = f"{_companies(changed)} {'opened' if active else 'closed'} to reviews."
        if selected > changed:
            message += f" {_companies(selected - changed)} already {state}."
        self.message_user(request, message, messages.SUCCESS)

    @admin.action(description="Recount review aggregates")
    def refresh_aggregates(self, request: HttpRequest, queryset: QuerySet) -> None:
        count = 0
        for ids in pk_batches(queryset):
            company_refresh_aggregates(ids)
            count += len(ids)
        self.message_user(request, f"Aggregates recounted for {count} companies.", messages.SUCCESS)
