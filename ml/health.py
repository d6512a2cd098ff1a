"""The served model's readiness check, registered with `core.health` when the app loads."""

from __future__ import annotations

from core.health import CheckResult


def check_model() -> CheckResult:
    """The served model answers, and it is the active version when one is set."""
    from ml.inference import predict
    from ml.models import ModelVersion

    try:
        name = predict("Starling readiness check")["model"]
        active = ModelVersion.objects.filter(is_active=True).values_list("name", flat=True).first()
    except Exception as exc:
        return f"model unavailable: {type(exc).__name__}: {exc}", {"model": None}
    if active and name != active:
        return f"active model {active} is not loaded (serving {name})", {"model": name}
    return None, {"model": name}
