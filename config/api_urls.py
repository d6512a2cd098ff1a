"""The REST API under /api/: each app's API views, the OpenAPI schema and its docs."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from brands import api as brands_api
from core.api_errors import api_not_found
from crawling import api as crawling_api
from ml import api as ml_api
from reviews import api as reviews_api

urlpatterns = [
    path("predict/", ml_api.PredictView.as_view(), name="api-predict"),
    path("brands/", brands_api.BrandListView.as_view(), name="api-brands"),
    path("brands/random/", brands_api.RandomBrandView.as_view(), name="api-brand-random"),
    path("brands/<slug:slug>/", brands_api.BrandDetailView.as_view(), name="api-brand"),
    path("reviews/", reviews_api.ReviewListView.as_view(), name="api-reviews"),
    path("staff/crawl-runs/", crawling_api.CrawlRunListView.as_view(), name="api-staff-crawl-runs"),
    path("staff/crawl-runs/<int:pk>/", crawling_api.CrawlRunDetailView.as_view(), name="api-staff-crawl-run"),
    path("staff/training-runs/", ml_api.TrainingRunListView.as_view(), name="api-staff-training-runs"),
    path("staff/training-runs/<int:pk>/", ml_api.TrainingRunDetailView.as_view(), name="api-staff-training-run"),
    path("staff/model-versions/", ml_api.ModelVersionListView.as_view(), name="api-staff-model-versions"),
    path(
        "staff/model-versions/<int:pk>/activate/",
        ml_api.ModelVersionActivateView.as_view(),
        name="api-staff-model-version-activate",
    ),
    path("staff/live-metrics/", ml_api.LiveMetricsView.as_view(), name="api-staff-live-metrics"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script as a file, so the site's CSP needs no inline scripts.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    # Anything else under /api/ answers a JSON 404 in the API's error format, not an HTML page.
    re_path(r"^(?P<path>[\s\S]*)$", api_not_found),
]
