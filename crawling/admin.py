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
from core.jobs import JobRun
from crawling.console import reviews_read_line
from crawling.forms import CrawlStartForm
from crawling.models import CrawlRun
from crawling.options import DEFAULT_START_URL
from crawling.services import crawl_run_retry, crawl_run_start


def progress_bar(run: JobRun) -> str:
    """A run's progress as a bar with its percentage and what it is doing (the crawl and training pages)."""
    percent = round(run.progress * 100)
    message = f" · {run.progress_message}" if run.progress_message else ""
    return format_html(
        '<progress class="run-progress" max="100" value="{}" aria-label="progress">{}%</progress> {}%{}',
        percent,
        percent,
        percent,
        message,
    )


@admin.register(CrawlRun)
class CrawlRunAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "progress_percent",
        "companies_progress",
        "reviews_summary",
        "error_count",
        "created_at",
    )
    list_filter = ("status",)
    list_select_related = ("parent",)
    actions = ("retry",)
    fieldsets = (
        (None, {"fields": ("status", "progress_bar", "options", "error")}),
        ("Counts", {"fields": ("reviews_counts", "companies_counts", "pages_fetched", "batches_summary")}),
        ("Errors", {"fields": ("errors_grouped",)}),
        (
            "Job",
            {
                "classes": ("collapse",),
                "fields": ("job_id", "parent", "created_at", "started_at", "heartbeat_at", "finished_at"),
            },
        ),
    )
    readonly_fields = (
        "status",
        "progress_bar",
        "options",
        "error",
        "reviews_counts",
        "companies_counts",
        "pages_fetched",
        "batches_summary",
        "errors_grouped",
        "job_id",
        "parent",
        "created_at",
        "started_at",
        "heartbeat_at",
        "finished_at",
    )

    class Media:
        css = {"all": ("admin/starling-admin.css",)}

    def has_change_permission(self, request: HttpRequest, obj: CrawlRun | None = None) -> bool:
        return False

    @admin.display(description="start URL")
    def start_url(self, run: CrawlRun) -> str:
        return (run.params or {}).get("start_url", "")

    @admin.display(description="progress")
    def progress_percent(self, run: CrawlRun) -> str:
        percent = round(run.progress * 100)
        return format_html('<progress max="100" value="{}">{}%</progress> {}%', percent, percent, percent)

    @admin.display(description="progress")
    def progress_bar(self, run: CrawlRun) -> str:
        return progress_bar(run)

    @admin.display(description="companies")
    def companies_progress(self, run: CrawlRun) -> str:
        return f"{run.companies_done} of {run.companies_total}"

    @admin.display(description="reviews read (new)")
    def reviews_summary(self, run: CrawlRun) -> str:
        read = run.reviews_new + run.reviews_updated + run.reviews_unchanged + run.reviews_skipped
        return f"{read} ({run.reviews_new})"

    @admin.display(description="reviews")
    def reviews_counts(self, run: CrawlRun) -> str:
        return reviews_read_line(run)

    @admin.display(description="companies")
    def companies_counts(self, run: CrawlRun) -> str:
        new = run.companies_new
        opened = format_html(
            ' (<a href="{}?is_active__exact=0">closed to reviews until opened</a>)',
            reverse("admin:brands_company_changelist"),
        )
        return format_html(
            "found {} · crawled {} of {} · new {}{}",
            run.companies_found,
            run.companies_done,
            run.companies_total,
            new,
            opened if new else "",
        )

    @admin.display(description="options")
    def options(self, run: CrawlRun) -> str:
        shown = [(name, _option_text(value)) for name, value in (run.params or {}).items()]
        return format_html(
            '<table class="starling-table"><tbody>{}</tbody></table>',
            format_html_join("", '<tr><th scope="row">{}</th><td>{}</td></tr>', shown),
        )

    @admin.display(description="errors")
    def error_count(self, run: CrawlRun) -> int:
        return sum((run.errors_by_kind or {}).values())

    @admin.display(description="errors by kind")
    def errors_grouped(self, run: CrawlRun) -> str:
        groups = run.error_groups()
        if not groups:
            return "None."
        rows = format_html_join(
            "",
            '<tr><th scope="row"><code>{}</code></th><td class="count">{}</td><td>{}</td></tr>',
            ((group["kind"], group["count"], _latest_errors(group["latest"])) for group in groups),
        )
        return format_html(
            '<table class="starling-table crawl-errors"><thead><tr><th scope="col">kind</th>'
            '<th scope="col">count</th><th scope="col">latest, newest first</th></tr></thead><tbody>{}</tbody>'
            "</table>",
            rows,
        )

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


def _latest_errors(errors: list[dict]) -> str:
    """The latest errors of one kind: URL, when, and the full detail (wrapped, never cut)."""
    if not errors:
        return "—"
    items = format_html_join(
        "",
        '<li><span class="url">{}</span> <span class="when">{}</span><div class="detail">{}</div></li>',
        ((error.get("url", ""), error.get("at", ""), error.get("detail", "")) for error in errors),
    )
    return format_html('<ul class="error-urls">{}</ul>', items)


def _option_text(value: object) -> str:
    """A crawl option as staff read it: lists joined, empty values as "—"."""
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "—"
    return "—" if value in (None, "") else str(value)


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
