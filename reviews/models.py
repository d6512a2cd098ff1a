"""Reviews: labelled ones collected from the review site, and the ones visitors write here."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from reviews.labels import LABEL_STARS, LABELS


def _label_matches_stars() -> Q:
    """A row's label agrees with its stars through the one mapping (or it has no stars)."""
    condition = Q(stars__isnull=True)
    for label, stars in LABEL_STARS.items():
        condition |= Q(label=label, stars__in=stars)
    return condition


class ScrapedReview(models.Model):
    """A labelled review from the review site (or an imported file): the training data."""

    class Label(models.TextChoices):
        BAD = "bad"
        AVERAGE = "average"
        GOOD = "good"

    company = models.ForeignKey("brands.Company", on_delete=models.CASCADE, related_name="scraped_reviews")
    source = models.CharField(max_length=32, help_text="trustpilot, import, ...")
    source_id = models.CharField(
        max_length=100, help_text="The review's id at its source (a content hash for imports)."
    )
    stars = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="1-5; empty for rows labelled only by class."
    )
    label = models.CharField(max_length=8, choices=Label.choices)
    title = models.CharField(max_length=500, blank=True)
    text = models.TextField()
    language = models.CharField(max_length=16, blank=True, db_index=True)
    published_at = models.DateTimeField(null=True, blank=True)
    experienced_at = models.DateTimeField(null=True, blank=True)
    author_name = models.CharField(max_length=255, blank=True)
    author_country = models.CharField(max_length=8, blank=True)
    is_verified = models.BooleanField(default=False)
    reply_text = models.TextField(blank=True, help_text="The company's answer, if any.")
    crawl_run = models.ForeignKey(
        "crawling.CrawlRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="reviews"
    )
    excluded = models.BooleanField(
        default=False, db_index=True, help_text="Taken out of the training dataset by staff."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["company", "-published_at"]),
            models.Index(fields=["label"]),
            models.Index(fields=["stars"]),
        ]
        constraints = [
            models.UniqueConstraint(fields=["source", "source_id"], name="scraped_review_unique_source_id"),
            models.CheckConstraint(
                condition=Q(stars__isnull=True) | Q(stars__gte=1, stars__lte=5), name="scraped_review_stars_1_5"
            ),
            models.CheckConstraint(condition=Q(label__in=LABELS), name="scraped_review_label_valid"),
            models.CheckConstraint(condition=_label_matches_stars(), name="scraped_review_label_matches_stars"),
            models.CheckConstraint(condition=~Q(text=""), name="scraped_review_text_not_empty"),
            models.CheckConstraint(condition=~Q(source_id=""), name="scraped_review_source_id_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.source}:{self.source_id}"


class UserReview(models.Model):
    """A review a visitor wrote here, with the rating they chose and what the model suggested."""

    class Status(models.TextChoices):
        VISIBLE = "visible"
        HIDDEN = "hidden"

    class RatingSource(models.TextChoices):
        """How the rating was given: the visitor's own pick, or the model's suggestion they accepted."""

        PICKED = "picked", "Picked by the visitor"
        ACCEPTED = "accepted", "Accepted from the suggestion"

    company = models.ForeignKey("brands.Company", on_delete=models.CASCADE, related_name="user_reviews")
    text = models.TextField()
    rating = models.PositiveSmallIntegerField(help_text="The stars the visitor chose, 1-5.")
    rating_source = models.CharField(
        max_length=8,
        choices=RatingSource.choices,
        null=True,
        blank=True,
        help_text="picked: the visitor chose the stars (a star click, the API's rating); accepted: they clicked "
        "“Use suggestion”. Empty for reviews stored before this was recorded.",
    )
    suggested_rating = models.PositiveSmallIntegerField(null=True, blank=True)
    display_name = models.CharField(
        max_length=50, blank=True, help_text="The name the visitor chose to show; empty shows “Anonymous”."
    )
    title = models.CharField(max_length=100, blank=True, help_text="The visitor's headline for the review.")
    experienced_on = models.DateField(
        null=True, blank=True, help_text="When the visitor dealt with the brand (not in the future)."
    )
    score = models.FloatField(null=True, blank=True, help_text="Sentiment score in [0, 1] computed by the server.")
    probabilities = models.JSONField(default=dict, blank=True)
    model_version = models.ForeignKey(
        "ml.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="user_reviews"
    )
    model_name = models.CharField(
        max_length=100, blank=True, help_text="The model that scored it, as the API names it."
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="reviews"
    )
    ip_hash = models.CharField(
        max_length=64, blank=True, help_text="Salted SHA-256 of the IP; the raw IP is never stored."
    )
    user_agent = models.CharField(max_length=512, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.VISIBLE, db_index=True)
    submission_key = models.CharField(
        max_length=64, null=True, blank=True, unique=True, editable=False,
        help_text="Hash of the form's one-time token: the same form sent twice stores one review.",
    )  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["company", "status", "-created_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(rating__gte=1, rating__lte=5), name="user_review_rating_1_5"),
            models.CheckConstraint(
                condition=Q(suggested_rating__isnull=True) | Q(suggested_rating__gte=1, suggested_rating__lte=5),
                name="user_review_suggested_rating_1_5",
            ),
            models.CheckConstraint(
                condition=Q(score__isnull=True) | Q(score__gte=0, score__lte=1), name="user_review_score_0_1"
            ),
            models.CheckConstraint(condition=Q(status__in=["visible", "hidden"]), name="user_review_status_valid"),
            models.CheckConstraint(condition=~Q(text=""), name="user_review_text_not_empty"),
            models.CheckConstraint(
                condition=Q(rating_source__isnull=True) | Q(rating_source__in=["picked", "accepted"]),
                name="user_review_rating_source_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.company} {self.rating}★ #{self.pk}"

    @property
    def author(self) -> str:
        """The name shown with the review."""
        return self.display_name or "Anonymous"
