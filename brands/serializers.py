"""API shapes for brands: the list filters, a brand in a list, and one brand with its star distribution."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from brands.models import Category, Company
from brands.selectors import COMPANY_SORTS, DEFAULT_COMPANY_SORT, category_by_slug, company_website_url


class BrandListQuerySerializer(serializers.Serializer):
    """The filters of `GET /api/brands/`."""

    search = serializers.CharField(
        required=False, allow_blank=True, max_length=100, help_text="Part of the brand's name."
    )
    category = serializers.SlugField(
        required=False, max_length=200, help_text="A category slug; its sub-categories are included."
    )
    ordering = serializers.ChoiceField(
        choices=list(COMPANY_SORTS),
        required=False,
        default=DEFAULT_COMPANY_SORT,
        help_text="`rating`: best average stars first; `reviews`: most reviewed first; `name`: A to Z.",
    )

    def validate_category(self, slug: str) -> Category:
        category = category_by_slug(slug=slug)
        if category is None:
            raise serializers.ValidationError(f"No category with the slug '{slug}'.")
        return category


class RandomBrandQuerySerializer(serializers.Serializer):
    """The options of `GET /api/brands/random/`."""

    exclude = serializers.ListField(
        child=serializers.CharField(max_length=255, allow_blank=True),
        required=False,
        max_length=20,
        help_text="Brand slugs not to pick (those just shown; repeat the parameter for several), "
        "unless nothing else is left.",
    )


class CategorySerializer(serializers.ModelSerializer):
    class Meta:
        model = Category
        fields = ["slug", "name"]


class BrandSerializer(serializers.ModelSerializer):
    """A brand as lists show it."""

    categories = CategorySerializer(many=True, read_only=True)
    url = serializers.SerializerMethodField(help_text="The brand's page on this site.")
    logo_url = serializers.SerializerMethodField(help_text="The brand's logo (generated here, SVG).")
    website = serializers.SerializerMethodField(help_text="The brand's own site (http or https); may be empty.")
    is_active = serializers.BooleanField(read_only=True, help_text="Open for reviews (shown on the review form).")
    average_stars = serializers.FloatField(read_only=True, allow_null=True, min_value=1, max_value=5)
    mean_sentiment = serializers.FloatField(
        read_only=True, allow_null=True, min_value=0, max_value=1, help_text="Mean model score of visitor reviews."
    )

    class Meta:
        model = Company
        fields = [
            "slug",
            "name",
            "domain",
            "website",
            "url",
            "logo_url",
            "categories",
            "is_active",
            "review_count",
            "average_stars",
            "user_review_count",
            "mean_sentiment",
        ]
        read_only_fields = fields

    def get_website(self, company: Company) -> str:
        return company_website_url(company)

    def get_url(self, company: Company) -> str:
        return company.get_absolute_url()

    def get_logo_url(self, company: Company) -> str:
        return reverse("brands:logo", kwargs={"slug": company.slug})


# Review counts by star, keys "1" to "5" (names a class statement cannot spell).
StarDistributionSerializer = type(
    "StarDistributionSerializer",
    (serializers.Serializer,),
    {str(star): serializers.IntegerField(min_value=0) for star in range(1, 6)},
)


class BrandDetailSerializer(BrandSerializer):
    """One brand with its aggregates and star distribution."""

    star_distribution = serializers.SerializerMethodField()

    class Meta(BrandSerializer.Meta):
        fields = [
            *BrandSerializer.Meta.fields,
            "description",
            "star_distribution",
            "source_review_count",
            "source_trust_score",
        ]
        read_only_fields = fields

    @extend_schema_field(StarDistributionSerializer)
    def get_star_distribution(self, company: Company) -> dict[str, int]:
        return {str(star): count for star, count in company.star_distribution.items()}
