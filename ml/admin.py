"""Staff screens for the model registry: metrics and pictures, activation, comparison, training runs."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from core.errors import StarlingError
from ml.charts import confusion_matrix_svg, training_curves_svg
from ml.forms import TrainingRunStartForm
from ml.models import ModelVersion, TrainingRun
from ml.services import model_version_activate, training_run_retry, training_run_start
from reviews.labels import LABELS


def version_history(version: ModelVersion) -> list[dict]:
    run = version.training_runs.order_by("-pk").first()
    return run.history if run else []


def version_test(version: ModelVersion) -> dict:
    return (version.metrics or {}).get("test") or {}


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("name", "architecture", "is_active", "accuracy", "macro_f1", "size_mb", "created_at")
    list_filter = ("architecture", "is_active")
    search_fields = ("name",)
    actions = ("activate", "compare")
    readonly_fields = (
        "name",
        "architecture",
        "is_active",
        "created_at",
        "file",
        "size_bytes",
        "metrics_table",
        "curves",
        "confusion",
        "dataset",
        "hyperparameters",
    )
    exclude = ("metrics",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # versions come from training runs

    @admin.display(description="accuracy")
    def accuracy(self, version: ModelVersion):
        return (version.metrics or {}).get("accuracy")

    @admin.display(description="macro-F1")
    def macro_f1(self, version: ModelVersion):
        return (version.metrics or {}).get("macro_f1")

    @admin.display(description="MB")
    def size_mb(self, version: ModelVersion) -> str:
        return f"{version.size_bytes / 1e6:.1f}"

    @admin.display(description="test metrics")
    def metrics_table(self, version: ModelVersion) -> str:
        test = version_test(version)
        if not test:
            return "—"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (label, row["precision"], row["recall"], row["f1"], row["support"])
                for label, row in test.get("per_class", {}).items()
            ),
        )
        return format_html(
            "<p>n={} · accuracy {} · macro-F1 {}</p><table><tr><th>label</th><th>precision</th><th>recall</th>"
            "<th>F1</th><th>support</th></tr>{}</table>",
            test.get("n"),
            test.get("accuracy"),
            test.get("macro_f1"),
            rows,
        )

    @admin.display(description="training curves")
    def curves(self, version: ModelVersion) -> str:
        return mark_safe(training_curves_svg(version_history(version), f"{version.name}: training"))

    @admin.display(description="confusion matrix (test split)")
    def confusion(self, version: ModelVersion) -> str:
        test = version_test(version)
        svg = confusion_matrix_svg(test.get("confusion") or [], test.get("labels") or list(LABELS), version.name)
        return mark_safe(svg)

    @admin.action(description="Activate the selected version (serve it on the site)")
    def activate(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to activate.", messages.ERROR)
            return
        version = queryset.get()
        try:
            model_version_activate(version=version)
        except StarlingError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(request, f"{version.name} is now served.", messages.SUCCESS)

    @admin.action(description="Compare the selected versions side by side")
    def compare(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> HttpResponse | None:
        if queryset.count() < 2:
            self.message_user(request, "Select two or more versions to compare.", messages.WARNING)
            return None
        ids = ",".join(str(pk) for pk in queryset.values_list("pk", flat=True))
        return HttpResponseRedirect(f"{reverse('admin:ml_modelversion_compare')}?ids={ids}")

    def get_urls(self):
        extra = [path("compare/", self.admin_site.admin_view(self.compare_view), name="ml_modelversion_compare")]
        return extra + super().get_urls()

    def compare_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        ids = [int(part) for part in request.GET.get("ids", "").split(",") if part.strip().isdigit()]
        versions = list(ModelVersion.objects.filter(pk__in=ids).order_by("created_at"))
        columns = []
        for version in versions:
            test = version_test(version)
            columns.append(
                {
                    "version": version,
                    "accuracy": test.get("accuracy"),
                    "macro_f1": test.get("macro_f1"),
                    "f1": [(test.get("per_class") or {}).get(label, {}).get("f1") for label in LABELS],
                    "sizes": (version.dataset or {}).get("sizes"),
                    "hash": ((version.dataset or {}).get("row_ids_sha256") or "")[:12],
                    "hyperparameters": {
                        k: v for k, v in (version.hyperparameters or {}).items() if not isinstance(v, dict)
                    },
                    "curves": mark_safe(training_curves_svg(version_history(version), version.name)),
                    "confusion": mark_safe(
                        confusion_matrix_svg(test.get("confusion") or [], list(LABELS), version.name)
                    ),
                }
            )
        context = {
            **self.admin_site.each_context(request),
            "title": "Compare model versions",
            "columns": columns,
            "labels": LABELS,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/ml/modelversion/compare.html", context)


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = ("__str__", "status", "progress_percent", "progress_message", "model_version", "created_at")
    list_filter = ("status",)
    actions = ("retry",)
    change_form_template = "admin/ml/trainingrun/change_form.html"
    readonly_fields = (
        "status",
        "progress_percent",
        "progress_message",
        "error_text",
        "curves",
        "params",
        "dataset",
        "model_version",
        "created_by",
        "job_id",
        "created_at",
        "started_at",
        "finished_at",
        "heartbeat_at",
    )
    exclude = ("history", "progress", "error")

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False if obj is not None else super().has_change_permission(request, obj)

    @admin.display(description="progress")
    def progress_percent(self, run: TrainingRun) -> str:
        percent = round(run.progress * 100)
        return format_html('<progress max="100" value="{}"></progress> {}%', percent, percent)

    @admin.display(description="error")
    def error_text(self, run: TrainingRun) -> str:
        return format_html('<pre style="white-space:pre-wrap;color:#ba2121">{}</pre>', run.error) if run.error else "—"

    @admin.display(description="training curves")
    def curves(self, run: TrainingRun) -> str:
        return mark_safe(training_curves_svg(run.history, f"Training #{run.pk}"))

    @admin.action(description="Retry: start a new run with the same options")
    def retry(self, request: HttpRequest, queryset: QuerySet[TrainingRun]) -> None:
        for run in queryset:
            try:
                new = training_run_retry(run=run, user=request.user)
            except StarlingError as exc:
                self.message_user(request, str(exc), messages.ERROR)
                return
            self.message_user(request, f"Started training #{new.pk} (retry of #{run.pk}).", messages.SUCCESS)

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context=None) -> HttpResponse:
        """The start form: options → an RQ job on the "training" queue."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = TrainingRunStartForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                run = training_run_start(params=form.cleaned_data, user=request.user)
            except StarlingError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(request, f"Training #{run.pk} is queued.", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:ml_trainingrun_change", args=[run.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": "Start a training run",
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/ml/trainingrun/start.html", context)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        run = get_object_or_404(TrainingRun, pk=object_id)
        extra = {**(extra_context or {}), "refresh_seconds": None if run.is_finished else 5}
        return super().change_view(request, object_id, form_url, extra)
