"""API shapes for visitors' reviews: the list filters, a new review, and a stored review."""

from __future__ import annotations

from django.conf import settings
from rest_framework import serializers

from brands.models import Company
from core.api_fields import StrictCharField
from reviews.models import UserReview


class BrandSlugField(serializers.SlugRelatedField):
    """A brand named by its slug, with a message that says which slug was not found."""

    default_error_messages = {
        **serializers.SlugRelatedField.default_error_messages,
        "does_not_exist": "No brand with the slug '{value}'.",
    }

    def __init__(self, **kwargs) -> None:
        super().__init__(slug_field="slug", queryset=Company.objects.all(), **kwargs)


class ReviewListQuerySerializer(serializers.Serializer):
    """The filters of `GET /api/reviews/`."""

    brand = BrandSlugField(required=False, help_text="Only reviews of the brand with this slug.")
    rating = serializers.IntegerField(
        required=False, min_value=1, max_value=5, help_text="Only reviews with this many stars."
    )


class ReviewCreateSerializer(serializers.Serializer):
    """A visitor's review: the brand's slug, the text and the stars they chose."""

    brand = BrandSlugField(help_text="The slug of the brand reviewed.")
    text = StrictCharField()
    rating = serializers.IntegerField(min_value=1, max_value=5, help_text="The stars the visitor chose, 1 to 5.")
    title = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=UserReview._meta.get_field("title").max_length,
        help_text="A headline for the review (optional).",
    )
    display_name = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=UserReview._meta.get_field("display_name").max_length,
        help_text="The name shown with the review (optional; empty shows “Anonymous”).",
    )
    experienced_on = serializers.DateField(
        required=False,
        allow_null=True,
        help_text="When the reviewer dealt with the brand (optional, not in the future).",
    )

    def get_fields(self) -> dict[str, serializers.Field]:
        # The limits are read per request so the schema and the check follow the settings.
        fields = super().get_fields()
        fields["text"] = StrictCharField(
            min_length=settings.REVIEW_MIN_CHARS,
            max_length=settings.REVIEW_MAX_CHARS,
            help_text="The review; leading and trailing spaces are dropped.",
        )
        return fields


class ReviewSerializer(serializers.ModelSerializer):
    """A stored visitor review as the public sees it (never the IP hash or user agent)."""

    brand = serializers.SlugRelatedField(source="company", slug_field="slug", read_only=True)
    brand_name = serializers.CharField(source="company.name", read_only=True)
    suggested_rating = serializers.IntegerField(
        read_only=True, allow_null=True, min_value=1, max_value=5, help_text="The stars the model suggested."
    )
    score = serializers.FloatField(
        read_only=True, allow_null=True, min_value=0, max_value=1, help_text="The model's sentiment score, 0 to 1."
    )
    model = serializers.CharField(source="model_name", read_only=True, help_text="The model that scored the text.")
    rating_source = serializers.ChoiceField(
        choices=UserReview.RatingSource.choices,
        read_only=True,
        allow_null=True,
        help_text="How the rating was given: `picked` by the reviewer (a star, or the API's `rating`), or "
        "`accepted` from the suggestion on the review form; null for reviews stored before it was recorded.",
    )
    display_name = serializers.CharField(read_only=True, help_text="The name shown with the review; may be empty.")
    title = serializers.CharField(read_only=True, help_text="The review's headline; may be empty.")
    experienced_on = serializers.DateField(
        read_only=True, allow_null=True, help_text="When the reviewer dealt with the brand."
    )

    class Meta:
        model = UserReview
        fields = [
            "id",
            "brand",
            "brand_name",
            "display_name",
            "title",
            "text",
            "rating",
            "rating_source",
            "suggested_rating",
            "score",
            "model",
            "experienced_on",
            "created_at",
        ]
        read_only_fields = fields
