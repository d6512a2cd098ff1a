"""The admin's "Live quality" page: how each served model's suggestions fare against visitors' ratings."""

from __future__ import annotations

from django.contrib.admin import ModelAdmin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.safestring import mark_safe

from ml.live_charts import LIVE_CHARTS, live_chart_svg
from ml.models import ModelVersion
from reviews.quality import PERIODS, LiveQualityError, ModelQuality, QualityFigures, live_quality, live_quality_window

DASH = "—"  # no review counted


def live_quality_view(request: HttpRequest, *, model_admin: ModelAdmin) -> HttpResponse:
    """The per-model table and the charts over time, for the `since`/`until`/`period` in the query."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    since_text, until_text = request.GET.get("since", "").strip(), request.GET.get("until", "").strip()
    period = request.GET.get("period", "week")
    error, models = "", []
    try:
        since, until = live_quality_window(since=since_text, until=until_text)
        models = live_quality(since=since, until=until, period=period)
    except LiveQualityError as exc:
        error = exc.message
    versions = dict(ModelVersion.objects.filter(name__in=[m.model for m in models]).values_list("name", "pk"))
    context = {
        **model_admin.admin_site.each_context(request),
        "title": "Live quality",
        "opts": model_admin.model._meta,
        "rows": [_row(quality, versions.get(quality.model)) for quality in models],
        "charts": [mark_safe(live_chart_svg(models, chart, period)) for chart in LIVE_CHARTS] if models else [],
        "since": since_text,
        "until": until_text,
        "period": period,
        "periods": list(PERIODS),
        "filtered": bool(since_text or until_text),
        "error": error,
    }
    return TemplateResponse(request, "admin/ml/modelversion/live_quality.html", context)


def _percent(value: float | None) -> str:
    return DASH if value is None else f"{value:.1%}"


def _decimal(value: float | None, places: int) -> str:
    return DASH if value is None else f"{value:.{places}f}"


def _figures(figures: QualityFigures, prefix: str) -> list[str]:
    """Exact, within one, macro-F1 and MAE as the table prints them, overall (prefix "") or picked-only."""
    return [
        _percent(getattr(figures, f"{prefix}exact")),
        _percent(getattr(figures, f"{prefix}within_one")),
        _decimal(getattr(figures, f"{prefix}macro_f1"), 3),
        _decimal(getattr(figures, f"{prefix}mae"), 2),
    ]


def _row(quality: ModelQuality, version_id: int | None) -> dict:
    """One model's line of the table: its name (linked to its version when it has one) and printed figures."""
    return {
        "model": quality.model,
        "version_id": version_id,
        "reviews": quality.reviews,
        "overall": _figures(quality, ""),
        "acceptance_rate": _percent(quality.acceptance_rate),
        "picked": quality.picked,
        "picked_figures": _figures(quality, "picked_"),
        "first": quality.first_review_at,
        "last": quality.last_review_at,
    }
