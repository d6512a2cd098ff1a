"""Staff screens for the model registry: metrics and pictures, activation, comparison, training runs."""

from __future__ import annotations

from functools import partial

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from core.errors import StarlingError
from core.job_admin import JobRunStartAdmin
from ml.charts import confusion_matrix_svg, training_curves_svg
from ml.forms import TrainingRunStartForm
from ml.live_quality_admin import live_quality_view
from ml.models import ModelVersion, TrainingRun
from ml.services import (
    model_version_activate,
    model_version_evaluate_gold,
    training_run_retry,
    training_run_start,
)
from reviews.labels import LABELS


def size_text(size_bytes: int | None) -> str:
    """A checkpoint's size the one way every page shows it: decimal megabytes (1 MB = 1,000,000 bytes)."""
    return "—" if size_bytes is None else f"{size_bytes / 1_000_000:.1f} MB"


def key_value_table(values: dict) -> str:
    """A flat dict as a two-column table (nested dicts as their own small table), instead of raw JSON."""
    if not values:
        return "—"
    rows = format_html_join(
        "",
        '<tr><th scope="row">{}</th><td>{}</td></tr>',
        ((key, key_value_table(value) if isinstance(value, dict) else value) for key, value in values.items()),
    )
    return format_html('<table class="starling-table"><tbody>{}</tbody></table>', rows)


def effective_options(params: dict) -> dict[str, str]:
    """A run's options as training used them: 0 for epochs, batch size or learning rate is the
    architecture's default, shown as its value."""
    from ml.config import TrainingOptions, TrainingOptionsError
    from ml.train import resolve

    try:
        options = TrainingOptions.from_params(params)
    except TrainingOptionsError:
        return {key: str(value) for key, value in (params or {}).items()}
    spec = resolve(options)
    shown = {key: str(value) for key, value in options.to_params().items()}
    for name in ("epochs", "batch_size", "learning_rate"):
        if not getattr(options, name):
            shown[name] = f"{getattr(spec, name)} ({options.architecture} default)"
    return shown


def version_history(version: ModelVersion) -> list[dict]:
    run = version.training_runs.order_by("-pk").first()
    return run.history if run else []


def version_test(version: ModelVersion) -> dict:
    return (version.metrics or {}).get("test") or {}


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("name", "is_active", "accuracy", "macro_f1", "size", "created_at")
    list_filter = ("architecture", "is_active")
    search_fields = ("name",)
    actions = ("activate", "compare", "score_gold")
    change_form_template = "admin/ml/modelversion/change_form.html"
    readonly_fields = (
        "name",
        "architecture",
        "is_active",
        "created_at",
        "file",
        "size",
        "metrics_table",
        "gold_table",
        "curves",
        "confusion",
        "dataset_table",
        "hyperparameters_table",
    )
    fields = readonly_fields

    class Media:
        css = {"all": ("admin/starling-admin.css",)}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # versions come from training runs

    def has_change_permission(self, request: HttpRequest, obj: ModelVersion | None = None) -> bool:
        # Nothing on a version's page can be edited (so it shows no Save buttons); the list keeps its actions.
        return False if obj is not None else super().has_change_permission(request, obj)

    @admin.display(description="accuracy")
    def accuracy(self, version: ModelVersion):
        return (version.metrics or {}).get("accuracy")

    @admin.display(description="macro-F1")
    def macro_f1(self, version: ModelVersion):
        return (version.metrics or {}).get("macro_f1")

    @admin.display(description="size", ordering="size_bytes")
    def size(self, version: ModelVersion) -> str:
        return size_text(version.size_bytes)

    @admin.display(description="dataset")
    def dataset_table(self, version: ModelVersion) -> str:
        return key_value_table(version.dataset or {})

    @admin.display(description="hyper-parameters")
    def hyperparameters_table(self, version: ModelVersion) -> str:
        return key_value_table(version.hyperparameters or {})

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

    @admin.display(description="gold set")
    def gold_table(self, version: ModelVersion) -> str:
        gold = version.gold_metrics or {}
        if not gold:
            return "Not scored yet: use the list action “Score on the gold set”."
        if not gold.get("n"):
            return "No verified reviews yet: verify labels in the label audit queue or the scraped-review list."
        return format_html(
            "<p>n={} · accuracy {} · macro-F1 {} · scored {}</p>",
            gold["n"],
            gold.get("accuracy"),
            gold.get("macro_f1"),
            gold.get("scored_at", "—"),
        )

    @admin.display(description="training curves")
    def curves(self, version: ModelVersion) -> str:
        return mark_safe(training_curves_svg(version_history(version), f"{version.name}: training"))

    @admin.display(description="confusion matrix (test split)")
    def confusion(self, version: ModelVersion) -> str:
        test = version_test(version)
        svg = confusion_matrix_svg(test.get("confusion") or [], test.get("labels") or list(LABELS), version.name)
        return mark_safe(svg)

    @admin.action(description="Score on the gold set (reviews staff verified)")
    def score_gold(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        for version in queryset.order_by("pk"):
            try:
                gold = model_version_evaluate_gold(version=version)
            except StarlingError as exc:
                self.message_user(request, f"{version.name}: {exc.message}", messages.ERROR)
                continue
            if gold.get("n"):
                summary = f"macro-F1 {gold['macro_f1']} on {gold['n']} verified reviews."
            else:
                summary = "no verified reviews to score yet."
            self.message_user(request, f"Gold set, {version.name}: {summary}", messages.SUCCESS)

    @admin.action(description="Activate the selected version (serve it on the site)")
    def activate(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to activate.", messages.ERROR)
            return
        self._activate(request, queryset.get())

    def _activate(self, request: HttpRequest, version: ModelVersion) -> None:
        try:
            model_version_activate(version=version)
        except StarlingError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        # admin/base.html shows messages through |capfirst: a message starting with the name
        # would read "Fasttext-…"; starting with a word keeps the name as written.
        self.message_user(request, f"Activated: {version.name} is now served.", messages.SUCCESS)

    def activate_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The Activate button on a version's page (POST only, with the CSRF token)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not super().has_change_permission(request):
            raise PermissionDenied
        version = get_object_or_404(ModelVersion, pk=object_id)
        self._activate(request, version)
        return HttpResponseRedirect(reverse("admin:ml_modelversion_change", args=[version.pk]))

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        extra = {**(extra_context or {}), "can_activate": super().has_change_permission(request)}
        return super().change_view(request, object_id, form_url, extra)

    @admin.action(description="Compare the selected versions side by side")
    def compare(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> HttpResponse | None:
        if queryset.count() < 2:
            self.message_user(request, "Select two or more versions to compare.", messages.WARNING)
            return None
        ids = ",".join(str(pk) for pk in queryset.values_list("pk", flat=True))
        return HttpResponseRedirect(f"{reverse('admin:ml_modelversion_compare')}?ids={ids}")

    def get_urls(self):
        extra = [
            path("compare/", self.admin_site.admin_view(self.compare_view), name="ml_modelversion_compare"),
            path(  # linked from the list by templates/admin/ml/modelversion/change_list.html
                "live-quality/",
                self.admin_site.admin_view(partial(live_quality_view, model_admin=self)),
                name="ml_modelversion_live_quality",
            ),
            path(
                "<path:object_id>/activate/",
                self.admin_site.admin_view(self.activate_view),
                name="ml_modelversion_activate",
            ),
        ]
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
                    "sizes": " · ".join(f"{k} {v}" for k, v in ((version.dataset or {}).get("sizes") or {}).items()),
                    "size": size_text(version.size_bytes),
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
class TrainingRunAdmin(JobRunStartAdmin, admin.ModelAdmin):
    start_form = TrainingRunStartForm
    start_title = "Start a training run"
    start_template = "admin/ml/trainingrun/start.html"
    run_noun = "Training"
    list_display = ("__str__", "progress_percent", "model_version", "created_at")
    list_filter = ("status",)
    actions = ("retry",)
    change_form_template = "admin/ml/trainingrun/change_form.html"
    readonly_fields = (
        "status",
        "progress_percent",
        "progress_message",
        "error_text",
        "curves",
        "options",
        "dataset_table",
        "dataset_snapshot",
        "model_version",
        "created_by",
        "job_id",
        "created_at",
        "started_at",
        "finished_at",
        "heartbeat_at",
    )
    exclude = ("history", "progress", "error", "params", "dataset")

    class Media:
        css = {"all": ("admin/starling-admin.css",)}

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False if obj is not None else super().has_change_permission(request, obj)

    @admin.display(description="progress")
    def progress_percent(self, run: TrainingRun) -> str:
        percent = round(run.progress * 100)
        message = (
            format_html('<div class="progress-message">{}</div>', run.progress_message) if run.progress_message else ""
        )
        return format_html('<progress max="100" value="{}">{}%</progress> {}%{}', percent, percent, percent, message)

    @admin.display(description="options (as trained)")
    def options(self, run: TrainingRun) -> str:
        return key_value_table(effective_options(run.params))

    @admin.display(description="dataset")
    def dataset_table(self, run: TrainingRun) -> str:
        return key_value_table(run.dataset or {})

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

    def run_start(self, request: HttpRequest, params: dict) -> TrainingRun:
        return training_run_start(params=params, user=request.user)
