from django.apps import AppConfig


class SiteConfig(AppConfig):
    """Site-wide pieces that belong to no single feature: the process stack, jobs, health."""

    name = "config"
    label = "site_config"
    verbose_name = "Site"
