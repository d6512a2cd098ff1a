"""Admin for crawls: watch runs (counters, errors, progress), start one, retry one, crawl selected brands."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from brands.models import Category, Company
from core.errors import StarlingError
from crawling.forms import CrawlStartForm
from crawling.models import CrawlRun
from crawling.options import DEFAULT_START_URL
from crawling.services import crawl_run_retry, crawl_run_start


@admin.register(CrawlRun)
class CrawlRunAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "status",
        "start_url",
        "progress_percent",
        "pages_fetched",
        "companies_done",
        "companies_total",
        "reviews_new",
        "reviews_updated",
        "reviews_skipped",
        "error_count",
        "created_at",
        "parent",
    )
    list_filter = ("status",)
    list_select_related = ("parent",)
    actions = ("retry",)
    readonly_fields = (
        "status",
        "progress_percent",
        "progress_message",
        "params",
        "pages_fetched",
        "companies_found",
        "companies_done",
        "companies_total",
        "reviews_new",
        "reviews_updated",
        "reviews_skipped",
        "errors_by_kind",
        "errors_table",
        "batches_summary",
        "error",
        "job_id",
        "parent",
        "created_at",
        "started_at",
        "heartbeat_at",
        "finished_at",
    )
    exclude = ("last_errors", "progress")

    def has_change_permission(self, request: HttpRequest, obj: CrawlRun | None = None) -> bool:
        return False

    @admin.display(description="start URL")
    def start_url(self, run: CrawlRun) -> str:
        return (run.params or {}).get("start_url", "")

    @admin.display(description="progress")
    def progress_percent(self, run: CrawlRun) -> str:
        return f"{run.progress:.0%}"

    @admin.display(description="errors")
    def error_count(self, run: CrawlRun) -> int:
        return sum((run.errors_by_kind or {}).values())

    @admin.display(description="last errors")
    def errors_table(self, run: CrawlRun) -> str:
        if not run.last_errors:
            return "—"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (e.get("at", ""), e.get("kind", ""), e.get("url", ""), e.get("detail", ""))
                for e in reversed(run.last_errors)
            ),
        )
        return format_html("<table><tr><th>at</th><th>kind</th><th>URL</th><th>detail</th></tr>{}</table>", rows)

    @admin.display(description="batches")
    def batches_summary(self, run: CrawlRun) -> str:
        batches = list(run.batches.values_list("status", "reviews_new", "companies_done", "companies_total"))
        if not batches:
            return "—"
        done = sum(1 for status, *_ in batches if status == CrawlRun.Status.SUCCEEDED)
        reviews = sum(n for _, n, _, _ in batches)
        companies = sum(d for *_, d, _ in batches), sum(t for *_, t in batches)
        return (
            f"{done} of {len(batches)} batches done; {reviews} new reviews; {companies[0]} of {companies[1]} companies"
        )

    def get_urls(self):
        start = path("start/", self.admin_site.admin_view(self.start_view), name="crawling_crawlrun_start")
        return [start, *super().get_urls()]

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context=None) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:crawling_crawlrun_start"))

    def start_view(self, request: HttpRequest) -> HttpResponse:
        """A form with the crawl's options; starting queues the run and shows it."""
        if not self.has_add_permission(request):
            return HttpResponseRedirect(reverse("admin:index"))
        form = CrawlStartForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            run = _start(request, form.params())
            if run is not None:
                return HttpResponseRedirect(reverse("admin:crawling_crawlrun_change", args=[run.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Start a crawl",
            "form": form,
        }
        return TemplateResponse(request, "admin/crawling/crawlrun/start.html", context)

    @admin.action(description="Retry the selected crawls (same options)")
    def retry(self, request: HttpRequest, queryset: QuerySet[CrawlRun]) -> None:
        started = []
        for run in queryset:
            try:
                started.append(crawl_run_retry(run=run, user=request.user).pk)
            except (StarlingError, ValidationError) as exc:
                self.message_user(request, _reason(exc), messages.ERROR)
        if started:
            self.message_user(request, f"Started crawl(s) {', '.join(f'#{pk}' for pk in started)}.")


def _start(request: HttpRequest, params: dict) -> CrawlRun | None:
    """Start a crawl and tell the user; None (with the reason shown) when it could not start."""
    try:
        run = crawl_run_start(params=params, user=request.user)
    except (StarlingError, ValidationError) as exc:
        messages.error(request, _reason(exc))
        return None
    messages.success(request, f"Crawl #{run.pk} is queued; this page shows its progress.")
    return run


def _reason(exc: StarlingError | ValidationError) -> str:
    """What to tell staff: a StarlingError's message, or every message of a ValidationError."""
    return "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)


@admin.action(description="Crawl the selected companies' reviews")
def crawl_selected_companies(modeladmin, request: HttpRequest, queryset: QuerySet[Company]) -> HttpResponse | None:
    domains = [c.source_identifier or c.domain for c in queryset if c.source_identifier or c.domain]
    if not domains:
        messages.error(request, "None of the selected companies has a domain on the review site.")
        return None
    run = _start(request, {"start_url": DEFAULT_START_URL, "companies": domains})
    return HttpResponseRedirect(reverse("admin:crawling_crawlrun_change", args=[run.pk])) if run else None


@admin.action(description="Crawl the selected categories (discovery and reviews)")
def crawl_selected_categories(modeladmin, request: HttpRequest, queryset: QuerySet[Category]) -> HttpResponse | None:
    run = _start(request, {"start_url": DEFAULT_START_URL, "categories": [c.slug for c in queryset]})
    return HttpResponseRedirect(reverse("admin:crawling_crawlrun_change", args=[run.pk])) if run else None


def _add_action(model, action) -> None:
    """Offer a crawl action on another app's admin (brands registers its admins before crawling loads)."""
    model_admin = admin.site._registry.get(model)
    if model_admin is not None and action not in (model_admin.actions or ()):
        model_admin.actions = (*(model_admin.actions or ()), action)


_add_action(Company, crawl_selected_companies)
_add_action(Category, crawl_selected_categories)
