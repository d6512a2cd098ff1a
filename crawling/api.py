"""Staff API views for crawls: list them, watch one, start one (the same RQ job as the admin)."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response

from core.api_errors import error_responses
from crawling.models import CrawlRun
from crawling.serializers import CrawlRunSerializer, CrawlStartSerializer
from crawling.services import crawl_run_start


@extend_schema(tags=["staff"])
class CrawlRunListView(ListAPIView):
    """Crawl runs, newest first; POST starts a new one."""

    permission_classes = [IsAdminUser]
    serializer_class = CrawlRunSerializer

    def get_queryset(self) -> QuerySet[CrawlRun]:
        return CrawlRun.objects.order_by("-created_at", "-id")

    @extend_schema(
        operation_id="staff_crawl_runs_list",
        summary="List crawl runs",
        responses={200: CrawlRunSerializer(many=True), **error_responses(403, 404)},
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        """A page of crawl runs with their progress and counters."""
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="staff_crawl_runs_start",
        summary="Start a crawl",
        description="Records a queued crawl run and puts it on the `crawl` queue, as the admin does.",
        request=CrawlStartSerializer,
        responses={201: CrawlRunSerializer, **error_responses(400, 403, 415, 503)},
    )
    def post(self, request: Request) -> Response:
        """Validate the options, start the crawl through the service, answer with the queued run."""
        serializer = CrawlStartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        run = crawl_run_start(params=serializer.validated_data, user=request.user)
        run.refresh_from_db()
        return Response(CrawlRunSerializer(run).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["staff"])
class CrawlRunDetailView(RetrieveAPIView):
    """One crawl run."""

    permission_classes = [IsAdminUser]
    serializer_class = CrawlRunSerializer
    queryset = CrawlRun.objects.all()

    @extend_schema(
        operation_id="staff_crawl_runs_retrieve",
        summary="One crawl run",
        responses={200: CrawlRunSerializer, **error_responses(403, 404)},
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        """The run with this id, for watching its progress."""
        return super().get(request, *args, **kwargs)
