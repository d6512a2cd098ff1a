"""Top-level URL map."""

from django.contrib import admin
from django.urls import include, path

from core import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/django-rq/", include("django_rq.urls")),
    path("admin/", admin.site.urls),
    path("api/", include("config.api_urls")),
    path("brands/", include("brands.urls")),
    path("", include("reviews.urls")),
]
