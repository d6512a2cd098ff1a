"""Public API views for visitors' reviews: list the visible ones, write one."""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from core.api_errors import RETRY_AFTER, error_responses
from core.privacy import client_ip
from reviews.models import UserReview
from reviews.selectors import user_reviews_visible
from reviews.serializers import ReviewCreateSerializer, ReviewListQuerySerializer, ReviewSerializer
from reviews.services import user_review_create

REVIEW_EXAMPLES = [
    OpenApiExample(
        "A new review",
        value={
            "brand": "acme-shoes",
            "text": "Comfortable shoes, quick delivery, fair price.",
            "rating": 5,
            "title": "Comfy and quick",
            "display_name": "Sam",
            "experienced_on": "2026-11-20",
        },
        request_only=True,
    ),
    OpenApiExample(
        "The stored review",
        value={
            "id": 42,
            "brand": "acme-shoes",
            "brand_name": "Acme Shoes",
            "display_name": "Sam",
            "title": "Comfy and quick",
            "text": "Comfortable shoes, quick delivery, fair price.",
            "rating": 5,
            "rating_source": "picked",
            "suggested_rating": 5,
            "score": 0.88,
            "model": "charcnn-2026-11-29-1",
            "experienced_on": "2026-11-20",
            "created_at": "2026-11-29T10:15:00Z",
        },
        response_only=True,
        status_codes=["201"],
    ),
    OpenApiExample(
        "Invalid review",
        value={
            "error": {
                "status": 400,
                "code": "invalid",
                "message": "text: Ensure this field has at least 10 characters. rating: Ensure this value is less "
                "than or equal to 5.",
                "fields": {
                    "text": ["Ensure this field has at least 10 characters."],
                    "rating": ["Ensure this value is less than or equal to 5."],
                },
            }
        },
        response_only=True,
        status_codes=["400"],
    ),
]


@extend_schema(tags=["reviews"])
class ReviewListView(ListAPIView):
    """Visible visitor reviews, newest first; and the door for writing one."""

    permission_classes = [AllowAny]
    serializer_class = ReviewSerializer
    # No HTTP throttle: writing is limited by the review budget of `user_review_create`, which the
    # review form shares (setting THROTTLE_REVIEW_CREATE); reading is paginated.

    def get_queryset(self) -> QuerySet[UserReview]:
        query = ReviewListQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return user_reviews_visible(
            company=query.validated_data.get("brand"), stars=query.validated_data.get("rating") or None
        ).select_related("company")

    @extend_schema(
        operation_id="reviews_list",
        summary="List visitor reviews",
        parameters=[ReviewListQuerySerializer],
        responses={200: ReviewSerializer(many=True), **error_responses(400, 404)},
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        """A page of visible reviews matching the filters."""
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="reviews_create",
        summary="Write a review",
        description=(
            "Stores a visitor's review through the same service as the review form. The server scores "
            "the text and answers with the stored review, including the model's `suggested_rating` and "
            "`score`. The `rating` an API client sends is its own: the review is stored with "
            '`rating_source: picked` (only the review form\'s "Use suggestion" records `accepted`). '
            "`title`, `display_name` and `experienced_on` are optional. Each client address has one review "
            "budget shared with the review form (setting THROTTLE_REVIEW_CREATE); past it the answer is 429 "
            "with Retry-After."
        ),
        request=ReviewCreateSerializer,
        responses={201: ReviewSerializer, **error_responses(400, 403, 413, 415, 429)},
        parameters=[RETRY_AFTER],
        examples=REVIEW_EXAMPLES,
    )
    def post(self, request: Request) -> Response:
        """Validate the review, store it through the service, answer with what was stored."""
        serializer = ReviewCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        review = user_review_create(
            company=data["brand"],
            text=data["text"],
            rating=data["rating"],
            rating_source=UserReview.RatingSource.PICKED,  # an API client gives its own rating
            title=data.get("title", ""),
            display_name=data.get("display_name", ""),
            experienced_on=data.get("experienced_on"),
            ip=client_ip(request),
            user_agent=request.headers.get("user-agent", ""),
            user=request.user,
        )
        return Response(ReviewSerializer(review).data, status=status.HTTP_201_CREATED)
