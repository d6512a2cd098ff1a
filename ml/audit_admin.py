"""Staff screens for the label audit: start an audit and watch it, then review its suspects one click at a time.

Registered from `MlConfig.ready()`. Every decision goes through `ml.audit.label_suspects_resolve`,
which writes the audit trail (`reviews.LabelChange`).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import Truncator

from core.errors import StarlingError
from core.job_admin import JobRunStartAdmin
from ml.audit import AuditOptions, Resolution, audit_run_start, label_suspects_resolve
from ml.models import AuditRun, LabelSuspect

ACTION_WORDS = {
    Resolution.RELABEL: "Relabel",
    Resolution.CONFIRM: "Confirm",
    Resolution.EXCLUDE: "Exclude",
    Resolution.VERIFY: "Verify (gold)",
}


class AuditStartForm(forms.Form):
    """The audit's options, with the bounds `AuditOptions` checks."""

    folds = forms.IntegerField(initial=AuditOptions.folds, min_value=2, max_value=20, help_text="k of the k-fold.")
    seeds = forms.IntegerField(
        initial=AuditOptions.seeds, min_value=1, max_value=5, help_text="Models averaged per row: more is steadier."
    )
    passes = forms.IntegerField(
        initial=AuditOptions.passes,
        min_value=1,
        max_value=3,
        help_text="2: a second pass trains without the first pass's most doubtful rows (twice the time).",
    )
    language = forms.CharField(
        initial=AuditOptions.language, required=False, max_length=16, help_text="Empty: every language."
    )
    include_user_reviews = forms.BooleanField(
        required=False, help_text="Audit visitors' reviews whose rating they picked, too."
    )


@admin.register(AuditRun)
class AuditRunAdmin(JobRunStartAdmin, admin.ModelAdmin):
    start_form = AuditStartForm
    start_title = "Start a label audit"
    start_template = "admin/ml/auditrun/start.html"
    run_noun = "Label audit"
    list_display = ("__str__", "progress_percent", "rows", "suspects_link", "created_at")
    list_filter = ("status",)
    change_form_template = "admin/ml/auditrun/change_form.html"
    readonly_fields = (
        "status",
        "progress_percent",
        "rows",
        "suspects_link",
        "summary",
        "params",
        "error",
        "created_by",
        "job_id",
        "created_at",
        "started_at",
        "finished_at",
    )
    fields = readonly_fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuditRun]:
        open_suspects = Count("suspects", filter=Q(suspects__resolution=LabelSuspect.Resolution.OPEN))
        return super().get_queryset(request).annotate(open_suspects=open_suspects, all_suspects=Count("suspects"))

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False if obj is not None else super().has_change_permission(request, obj)

    @admin.display(description="progress")
    def progress_percent(self, run: AuditRun) -> str:
        percent = round(run.progress * 100)
        return format_html(
            '<progress max="100" value="{}">{}%</progress> {}% <div class="progress-message">{}</div>',
            percent,
            percent,
            percent,
            run.progress_message,
        )

    @admin.display(description="suspects")
    def suspects_link(self, run: AuditRun) -> str:
        url = reverse("admin:ml_labelsuspect_changelist") + f"?audit_run__id__exact={run.pk}&resolution__exact=open"
        return format_html('<a href="{}">{} to review</a> of {}', url, run.open_suspects, run.all_suspects)

    def run_start(self, request: HttpRequest, params: dict) -> AuditRun:
        return audit_run_start(params=params, user=request.user)


@admin.register(LabelSuspect)
class LabelSuspectAdmin(admin.ModelAdmin):
    """The review queue: most likely wrong first, a button per decision on each row, the same as bulk actions."""

    list_display = ("rank", "review_text", "label", "suggested_label", "confidence", "reason", "resolution", "decide")
    list_display_links = None
    list_filter = ("audit_run", "resolution", "reason", "label", "suggested_label")
    list_select_related = ("scraped_review", "user_review")
    search_fields = ("scraped_review__text", "user_review__text")
    ordering = ("-audit_run", "rank")
    list_per_page = 50
    show_full_result_count = False
    actions = ("relabel_suspects", "confirm_suspects", "exclude_suspects", "verify_suspects")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="text")
    def review_text(self, suspect: LabelSuspect) -> str:
        review = suspect.review
        if suspect.scraped_review_id:
            url = reverse("admin:reviews_scrapedreview_change", args=[review.pk])
        else:
            url = reverse("admin:reviews_userreview_change", args=[review.pk])
        return format_html('<a href="{}" title="{}">{}</a>', url, review.text, Truncator(review.text).chars(160))

    @admin.display(description="decide")
    def decide(self, suspect: LabelSuspect) -> str:
        if suspect.resolution != LabelSuspect.Resolution.OPEN:
            return "—"
        choices = ACTION_WORDS if suspect.scraped_review_id else {Resolution.CONFIRM: ACTION_WORDS[Resolution.CONFIRM]}
        # Buttons of the changelist's own form (it carries the CSRF token), each posting to its own URL.
        return format_html_join(
            " ",
            '<button type="submit" class="button" formaction="{}" formmethod="post">{}</button>',
            (
                (
                    reverse("admin:ml_labelsuspect_resolve", args=[suspect.pk, action]),
                    f"{word} {suspect.suggested_label}" if action == Resolution.RELABEL else word,
                )
                for action, word in choices.items()
            ),
        )

    def resolve_view(self, request: HttpRequest, object_id: str, action: str) -> HttpResponse:
        """One click on a row's button (POST with the CSRF token): decide that suspect, back to the list."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_change_permission(request):
            raise PermissionDenied
        suspect = get_object_or_404(LabelSuspect, pk=object_id)
        self._resolve(request, LabelSuspect.objects.filter(pk=suspect.pk), action)
        back = request.META.get("HTTP_REFERER", "")
        if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
            back = reverse("admin:ml_labelsuspect_changelist")
        return HttpResponseRedirect(back)

    def get_urls(self):
        extra = [
            path(
                "<path:object_id>/resolve/<str:action>/",
                self.admin_site.admin_view(self.resolve_view),
                name="ml_labelsuspect_resolve",
            )
        ]
        return extra + super().get_urls()

    def _resolve(self, request: HttpRequest, queryset: QuerySet[LabelSuspect], action: str) -> None:
        suspects = list(queryset.filter(resolution=LabelSuspect.Resolution.OPEN).order_by("rank"))
        try:
            done = label_suspects_resolve(suspects=suspects, action=action, user=request.user)
        except StarlingError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        skipped = len(suspects) - done
        note = f" ({skipped} visitors' reviews left: they can only be confirmed)" if skipped else ""
        self.message_user(request, f"{ACTION_WORDS[action]}: {done} suspects{note}.", messages.SUCCESS)

    @admin.action(description="Relabel to the suggested label", permissions=["change"])
    def relabel_suspects(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._resolve(request, queryset, Resolution.RELABEL)

    @admin.action(description="Confirm the label (it is right)", permissions=["change"])
    def confirm_suspects(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._resolve(request, queryset, Resolution.CONFIRM)

    @admin.action(description="Exclude from the training dataset", permissions=["change"])
    def exclude_suspects(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._resolve(request, queryset, Resolution.EXCLUDE)

    @admin.action(description="Verify label (gold): right, and kept for evaluation", permissions=["change"])
    def verify_suspects(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._resolve(request, queryset, Resolution.VERIFY)
