from django.apps import AppConfig
from django.core.exceptions import ImproperlyConfigured


class CoreConfig(AppConfig):
    """The base layer: jobs, the API error contract, middleware, privacy, health checks, process supervision."""

    name = "core"
    verbose_name = "Site"

    def ready(self) -> None:
        from core import login_throttle  # noqa: F401  (connects the sign-in signal receivers)

        _throttle_rates_check()


def _throttle_rates_check() -> None:
    """A mistyped THROTTLE_* value stops the start, instead of answering 500 on the first request it governs."""
    from django.conf import settings

    from core.rate_limits import rate_parse

    for scope, rate in settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {}).items():
        if rate is None:
            continue
        try:
            rate_parse(rate)
        except ValueError as exc:
            raise ImproperlyConfigured(f"The throttle rate of {scope!r}: {exc} Set THROTTLE_{scope.upper()}.") from exc
