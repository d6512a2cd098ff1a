from django.apps import AppConfig


class SiteConfig(AppConfig):
    """Site-wide pieces that belong to no single feature: the process stack, jobs, health."""

    name = "config"
    label = "site_config"
    verbose_name = "Site"

    def ready(self) -> None:
        from config import login_throttle  # noqa: F401  (connects the sign-in signal receivers)
