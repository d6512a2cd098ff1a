"""Public API views for brands: the searchable list, a random brand to review, one brand."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from brands.models import Company
from brands.selectors import company_by_slug, company_list, company_random_active
from brands.serializers import (
    BrandDetailSerializer,
    BrandListQuerySerializer,
    BrandSerializer,
    RandomBrandQuerySerializer,
)
from core.api_errors import error_responses


@extend_schema(tags=["brands"])
class BrandListView(ListAPIView):
    """The brands open for reviews, searchable, filterable by category, sortable and paginated."""

    permission_classes = [AllowAny]
    serializer_class = BrandSerializer

    @extend_schema(
        operation_id="brands_list",
        summary="List brands",
        parameters=[BrandListQuerySerializer],
        responses={200: BrandSerializer(many=True), **error_responses(400, 404)},
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        """A page of brands matching the filters."""
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Company]:
        query = BrandListQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        brands = company_list(query=data.get("search", ""), category=data.get("category"), sort=data["ordering"])
        return brands.prefetch_related("categories")


@extend_schema(tags=["brands"])
class RandomBrandView(APIView):
    """A random brand open for reviews: what the review form shows next."""

    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="brands_random",
        summary="A random brand to review",
        parameters=[RandomBrandQuerySerializer],
        responses={200: BrandSerializer, **error_responses(400, 404)},
    )
    def get(self, request: Request) -> Response:
        """Pick one active brand at random, avoiding the `exclude` slugs when another exists."""
        query = RandomBrandQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        brand = company_random_active(exclude_slugs=query.validated_data.get("exclude", []))
        if brand is None:
            raise NotFound("No brand is open for reviews yet.")
        return Response(BrandSerializer(brand).data)


@extend_schema(tags=["brands"])
class BrandDetailView(APIView):
    """One brand with its review aggregates and star distribution."""

    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="brands_retrieve",
        summary="One brand",
        parameters=[
            OpenApiParameter(
                "slug", str, OpenApiParameter.PATH, examples=[OpenApiExample("A brand", value="acme-shoes")]
            )
        ],
        responses={200: BrandDetailSerializer, **error_responses(404)},
    )
    def get(self, request: Request, slug: str) -> Response:
        """The brand with this slug."""
        brand = company_by_slug(slug=slug)
        if brand is None:
            raise NotFound(f"No brand with the slug '{slug}'.")
        return Response(BrandDetailSerializer(brand).data)
