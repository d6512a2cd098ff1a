"""Categories of the review site and the companies (brands) people review."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.urls import reverse

STAR_FIELDS = ("stars_1", "stars_2", "stars_3", "stars_4", "stars_5")


class Category(models.Model):
    """A node of the review site's category tree: a top-level category or one of its sub-categories."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")
    source = models.CharField(max_length=32, default="trustpilot", blank=True)
    source_id = models.CharField(max_length=100, blank=True, help_text="The category's id on the review site.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "categories"
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=~Q(parent=models.F("id")), name="category_not_own_parent"),
        ]

    def __str__(self) -> str:
        return f"{self.parent.name} › {self.name}" if self.parent_id and self.parent else self.name


# Fixed paths beside /api/brands/<slug>/ that a brand with that slug would be hidden behind.
RESERVED_COMPANY_SLUGS = frozenset({"random"})


def validate_company_slug(slug: str) -> None:
    if slug in RESERVED_COMPANY_SLUGS:
        raise ValidationError(f"“{slug}” is reserved (/api/brands/{slug}/ is another page); choose another slug.")


class Company(models.Model):
    """A brand visitors review. Star aggregates cover scraped reviews with stars and visible visitor reviews."""

    name = models.CharField(max_length=255)
    slug = models.SlugField(max_length=255, unique=True, validators=[validate_company_slug])
    domain = models.CharField(
        max_length=255, unique=True, null=True, blank=True, help_text="Normalised host, e.g. example.com."
    )
    website = models.URLField(max_length=500, blank=True)
    description = models.CharField(
        max_length=500, blank=True, help_text="A sentence or two about the brand, shown on its page and in the API."
    )
    source_logo_url = models.URLField(
        max_length=500, blank=True, help_text="Logo address on the review site (recorded, never hot-linked)."
    )
    categories = models.ManyToManyField(Category, blank=True, related_name="companies")
    is_active = models.BooleanField(default=True, help_text="Shown on the review form.")

    source = models.CharField(
        max_length=32, blank=True, help_text="Where the row came from: starter, trustpilot, import."
    )
    source_id = models.CharField(max_length=100, blank=True, help_text="The company's id on the review site.")
    source_identifier = models.CharField(
        max_length=255, blank=True, help_text="The name in the review site's URL, e.g. www.example.com."
    )
    source_review_count = models.PositiveIntegerField(null=True, blank=True)
    source_trust_score = models.FloatField(null=True, blank=True)

    review_count = models.PositiveIntegerField(default=0)
    average_stars = models.FloatField(null=True, blank=True)
    stars_1 = models.PositiveIntegerField(default=0)
    stars_2 = models.PositiveIntegerField(default=0)
    stars_3 = models.PositiveIntegerField(default=0)
    stars_4 = models.PositiveIntegerField(default=0)
    stars_5 = models.PositiveIntegerField(default=0)
    user_review_count = models.PositiveIntegerField(default=0)
    mean_sentiment = models.FloatField(null=True, blank=True, help_text="Mean model score of visible visitor reviews.")

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "companies"
        ordering = ["name"]
        indexes = [
            models.Index(fields=["is_active", "name"]),
            models.Index(fields=["-review_count"]),
            models.Index(fields=["-average_stars"]),
            # Brands listed A-Z whatever the case, and an import matching companies by name without a domain.
            models.Index(Lower("name"), name="company_lower_name"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(average_stars__isnull=True) | Q(average_stars__gte=1, average_stars__lte=5),
                name="company_average_stars_1_5",
            ),
            models.CheckConstraint(
                condition=Q(mean_sentiment__isnull=True) | Q(mean_sentiment__gte=0, mean_sentiment__lte=1),
                name="company_mean_sentiment_0_1",
            ),
            models.CheckConstraint(
                condition=Q(
                    review_count=models.F("stars_1")
                    + models.F("stars_2")
                    + models.F("stars_3")
                    + models.F("stars_4")
                    + models.F("stars_5")
                ),
                name="company_review_count_matches_stars",
            ),
            models.CheckConstraint(condition=~Q(domain=""), name="company_domain_not_empty"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("brands:detail", kwargs={"slug": self.slug})

    @property
    def star_distribution(self) -> dict[int, int]:
        """Review counts by star, 1 to 5."""
        return {star: getattr(self, f"stars_{star}") for star in range(1, 6)}
