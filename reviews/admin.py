"""Staff screens for scraped (training) reviews and visitors' reviews, built for 100,000+ rows.

Reviews arrive from the crawler, imports and the review form, so they cannot be added or deleted
here; staff take scraped rows out of the dataset and hide or show visitors' reviews, through the
same services the rest of the site uses (brand aggregates follow).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator

from brands.admin import pk_batches
from reviews.admin_filters import (
    CategoryFilter,
    CompanyFilter,
    CorrectedFilter,
    CrawlRunFilter,
    GoldFilter,
    SuggestionFilter,
)
from reviews.dataset_admin import DatasetSnapshotAdmin  # noqa: F401  (registers the snapshot screens)
from reviews.label_changes import (
    scraped_review_exclude,
    scraped_review_relabel,
    scraped_review_verify,
)
from reviews.models import LabelChange, ScrapedReview, UserReview
from reviews.services import user_review_set_status
from reviews.suggestions import suggestion_change, suggestion_summary


def company_link(review: ScrapedReview | UserReview) -> str:
    """A link to the review's company in the admin."""
    url = reverse("admin:brands_company_change", args=[review.company_id])
    return format_html('<a href="{}">{}</a>', url, review.company.name)


class ReviewAdmin(admin.ModelAdmin):
    """What both review screens share: no adding or deleting, fast counts, short texts."""

    list_select_related = ("company",)
    raw_id_fields = ("company",)
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # facet counts over 100,000+ rows cost a query per choice
    list_per_page = 50

    class Media:
        css = {"all": ("admin/starling-admin.css",)}  # headers and long values wrap inside a 1280-pixel window

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="text")
    def short_text(self, review: ScrapedReview | UserReview) -> str:
        return Truncator(review.text).chars(60)

    @admin.display(description="company", ordering="company__name")
    def company_name(self, review: ScrapedReview | UserReview) -> str:
        return company_link(review)


@admin.register(ScrapedReview)
class ScrapedReviewAdmin(ReviewAdmin):
    list_display = (
        "id",
        "short_text",
        "company_name",
        "stars",
        "training_label",
        "crawl_run_link",
        "dataset_role",
        "published_at",
    )
    list_display_links = ("id", "short_text")
    list_filter = (
        "excluded",
        GoldFilter,
        CorrectedFilter,
        "stars",
        "label",
        "corrected_label",
        ("language", admin.AllValuesFieldListFilter),
        ("published_at", admin.DateFieldListFilter),
        "source",
        CompanyFilter,
        CategoryFilter,
        CrawlRunFilter,
    )
    list_select_related = ("company", "crawl_run")
    search_fields = ("text", "title", "=source_id")
    search_help_text = "Words from the title or text, or an exact source id."
    # No date_hierarchy here: its DISTINCT date_trunc scans every row, slow on a large table;
    # the date filter above (today / past 7 days / this month / this year) costs nothing extra.
    readonly_fields = (
        "company_name",
        "source",
        "source_id",
        "stars",
        "label",
        "corrected_label",
        "verified_at",
        "verified_by",
        "title",
        "text",
        "language",
        "published_at",
        "experienced_at",
        "author_name",
        "author_country",
        "is_verified",
        "reply_text",
        "crawl_run_link",
        "label_history",
        "created_at",
        "updated_at",
    )
    fields = ("excluded", *readonly_fields)
    actions = (
        "exclude_from_dataset",
        "include_in_dataset",
        "verify_gold",
        "unverify_gold",
        "relabel_bad",
        "relabel_average",
        "relabel_good",
    )

    @admin.display(description="label", ordering="label")
    def training_label(self, review: ScrapedReview) -> str:
        if review.corrected_label is None:
            return review.label
        return format_html("{} <small>(was {})</small>", review.corrected_label, review.label)

    @admin.display(description="label history")
    def label_history(self, review: ScrapedReview) -> str:
        changes = review.label_changes.select_related("changed_by")[:50]
        if not changes:
            return "—"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} → {}</td><td>{}</td></tr>",
            (
                (c.created_at, c.changed_by or "—", c.get_action_display(), c.old_label, c.new_label, c.reason)
                for c in changes
            ),
        )
        return format_html(
            "<table><tr><th>when</th><th>who</th><th>what</th><th>label</th><th>why</th></tr>{}</table>", rows
        )

    @admin.display(description="in the dataset as")
    def dataset_role(self, review: ScrapedReview) -> str:
        if review.excluded:
            return "excluded"
        return "gold (evaluation)" if review.is_gold else "training"

    @admin.display(description="gold", boolean=True, ordering="verified_at")
    def gold(self, review: ScrapedReview) -> bool:
        return review.is_gold

    @admin.display(description="crawl run", ordering="crawl_run")
    def crawl_run_link(self, review: ScrapedReview) -> str:
        if review.crawl_run_id is None:
            return "-"
        label = f"Crawl #{review.crawl_run_id}"
        try:
            url = reverse("admin:crawling_crawlrun_change", args=[review.crawl_run_id])
        except NoReverseMatch:  # the crawl run screen is not registered
            return label
        return format_html('<a href="{}">{}</a>', url, label)

    def save_model(self, request: HttpRequest, obj: ScrapedReview, form, change: bool) -> None:
        if change and "excluded" in form.changed_data:
            scraped_review_exclude(review_ids=[obj.pk], excluded=obj.excluded, user=request.user, reason="Edited")

    @admin.action(description="Exclude from the training dataset", permissions=["change"])
    def exclude_from_dataset(self, request: HttpRequest, queryset: QuerySet) -> None:
        changed = sum(
            scraped_review_exclude(review_ids=ids, excluded=True, user=request.user) for ids in pk_batches(queryset)
        )
        self.message_user(request, f"{changed} reviews excluded from the dataset.", messages.SUCCESS)

    @admin.action(description="Include in the training dataset", permissions=["change"])
    def include_in_dataset(self, request: HttpRequest, queryset: QuerySet) -> None:
        changed = sum(
            scraped_review_exclude(review_ids=ids, excluded=False, user=request.user) for ids in pk_batches(queryset)
        )
        self.message_user(request, f"{changed} reviews put back in the dataset.", messages.SUCCESS)

    @admin.action(description="Verify label (gold): read, right, kept for evaluation only", permissions=["change"])
    def verify_gold(self, request: HttpRequest, queryset: QuerySet) -> None:
        changed = sum(scraped_review_verify(review_ids=ids, user=request.user) for ids in pk_batches(queryset))
        self.message_user(request, f"{changed} reviews added to the gold set (training leaves them out).")

    @admin.action(description="Remove from the gold set", permissions=["change"])
    def unverify_gold(self, request: HttpRequest, queryset: QuerySet) -> None:
        changed = sum(
            scraped_review_verify(review_ids=ids, verified=False, user=request.user) for ids in pk_batches(queryset)
        )
        self.message_user(request, f"{changed} reviews taken out of the gold set.")

    def _relabel(self, request: HttpRequest, queryset: QuerySet, label: str) -> None:
        changed = sum(
            scraped_review_relabel(review_ids=ids, label=label, user=request.user, reason="Relabelled in the admin")
            for ids in pk_batches(queryset)
        )
        self.message_user(request, f"{changed} reviews relabelled {label} (their collected label is kept).")

    @admin.action(description="Relabel as bad", permissions=["change"])
    def relabel_bad(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._relabel(request, queryset, "bad")

    @admin.action(description="Relabel as average", permissions=["change"])
    def relabel_average(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._relabel(request, queryset, "average")

    @admin.action(description="Relabel as good", permissions=["change"])
    def relabel_good(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._relabel(request, queryset, "good")


@admin.register(LabelChange)
class LabelChangeAdmin(admin.ModelAdmin):
    """The audit trail of label decisions: read-only."""

    list_display = ("created_at", "review_link", "action", "old_label", "new_label", "changed_by", "reason")
    list_filter = ("action", "new_label")
    list_select_related = ("review", "changed_by")
    search_fields = ("reason", "=review__id")
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="review")
    def review_link(self, change: LabelChange) -> str:
        url = reverse("admin:reviews_scrapedreview_change", args=[change.review_id])
        return format_html('<a href="{}">#{}</a>', url, change.review_id)


@admin.register(UserReview)
class UserReviewAdmin(ReviewAdmin):
    list_display = (
        "id",
        "short_text",
        "company_name",
        "stars_given",
        "model_name",
        "status",
        "created_at",
    )
    list_display_links = ("id", "short_text")
    list_filter = ("status", "rating", "rating_source", SuggestionFilter, "model_name", CompanyFilter, CategoryFilter)
    search_fields = ("text", "=ip_hash")
    search_help_text = "Words from the text, or an exact IP hash."
    date_hierarchy = "created_at"
    readonly_fields = (
        "company_name",
        "display_name",
        "title",
        "text",
        "experienced_on",
        "rating",
        "rating_source",
        "suggested_rating",
        "change_from_suggestion",
        "score",
        "probabilities",
        "model_name",
        "model_version",
        "user",
        "ip_hash",
        "user_agent",
        "created_at",
        "updated_at",
    )
    fields = ("status", *readonly_fields)
    actions = ("hide", "show")

    @admin.display(description="stars (suggested · change · how given)", ordering="rating")
    def stars_given(self, review: UserReview) -> str:
        suggested = "no suggestion" if review.suggested_rating is None else f"suggested {review.suggested_rating}"
        details = [suggested, self.change_from_suggestion(review), review.rating_source or "not recorded"]
        return format_html("{} <small>({})</small>", review.rating, " · ".join(d for d in details if d != "-"))

    @admin.display(description="change")
    def change_from_suggestion(self, review: UserReview) -> str:
        change = suggestion_change(rating=review.rating, suggested_rating=review.suggested_rating)
        if change is None:
            return "-"
        return "kept" if change == 0 else f"{change:+d}"

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:  # the summary follows whatever filters and search are applied
            response.context_data["suggestion_summary"] = suggestion_summary(changelist.queryset)
        return response

    def save_model(self, request: HttpRequest, obj: UserReview, form, change: bool) -> None:
        if change and "status" in form.changed_data:
            user_review_set_status(review_ids=[obj.pk], status=obj.status)

    @admin.action(description="Hide from the site", permissions=["change"])
    def hide(self, request: HttpRequest, queryset: QuerySet) -> None:
        changed = sum(
            user_review_set_status(review_ids=ids, status=UserReview.Status.HIDDEN) for ids in pk_batches(queryset)
        )
        self.message_user(request, f"{changed} reviews hidden.", messages.SUCCESS)

    @admin.action(description="Show on the site", permissions=["change"])
    def show(self, request: HttpRequest, queryset: QuerySet) -> None:
        changed = sum(
            user_review_set_status(review_ids=ids, status=UserReview.Status.VISIBLE) for ids in pk_batches(queryset)
        )
        self.message_user(request, f"{changed} reviews shown.", messages.SUCCESS)
