from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The base layer: jobs, the API error contract, middleware, privacy, health checks, process supervision."""

    name = "core"
    verbose_name = "Site"

    def ready(self) -> None:
        from core import login_throttle  # noqa: F401  (connects the sign-in signal receivers)
