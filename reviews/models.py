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
    corrected_label = models.CharField(
        max_length=8,
        choices=Label.choices,
        null=True,
        blank=True,
        help_text="The label staff gave after reading the text; training uses it instead of `label`, "
        "which (with the stars) stays as collected.",
    )
    verified_at = models.DateTimeField(
        null=True, blank=True, db_index=True, help_text="When staff verified the label from the text (gold set)."
    )
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
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
            models.CheckConstraint(
                condition=Q(corrected_label__isnull=True) | Q(corrected_label__in=LABELS),
                name="scraped_review_corrected_label_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source}:{self.source_id}"

    @property
    def effective_label(self) -> str:
        """The label training uses: staff's correction, else the collected one."""
        return self.corrected_label or self.label

    @property
    def is_gold(self) -> bool:
        """Verified from its text by staff: in the gold evaluation set, never trained on."""
        return self.verified_at is not None


class LabelChange(models.Model):
    """One staff decision about a scraped review's label: who, when, old → new, why (the audit trail)."""

    class Action(models.TextChoices):
        RELABEL = "relabel", "Relabelled"
        CONFIRM = "confirm", "Confirmed the label"
        EXCLUDE = "exclude", "Excluded from the dataset"
        INCLUDE = "include", "Put back in the dataset"
        VERIFY = "verify", "Verified (gold)"
        UNVERIFY = "unverify", "Removed from the gold set"

    review = models.ForeignKey(ScrapedReview, on_delete=models.CASCADE, related_name="label_changes")
    action = models.CharField(max_length=8, choices=Action.choices)
    old_label = models.CharField(max_length=8, help_text="The effective label before.")
    new_label = models.CharField(max_length=8, help_text="The effective label after.")
    reason = models.CharField(max_length=255, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="label_changes"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(action__in=["relabel", "confirm", "exclude", "include", "verify", "unverify"]),
                name="label_change_action_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.review} {self.action}: {self.old_label} → {self.new_label}"


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


class DatasetSnapshot(models.Model):
    """A frozen training dataset: which rows, with which (effective) labels, at one moment."""

    name = models.SlugField(max_length=100, unique=True, help_text="Letters, digits, - and _.")
    language = models.CharField(max_length=16, blank=True, help_text="Language filter used; empty: every language.")
    include_user_reviews = models.BooleanField(default=False)
    rows = models.PositiveIntegerField(default=0)
    class_counts = models.JSONField(default=dict, blank=True)
    source_counts = models.JSONField(default=dict, blank=True, help_text="Rows from scraped and visitors' reviews.")
    sha256 = models.CharField(max_length=64, help_text="Hash of the sorted `row id<TAB>label` lines.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name


class DatasetSnapshotRow(models.Model):
    """One row of a snapshot: a scraped or a visitor's review, with the label and text it had when frozen.

    The text is kept too: a crawl updates a review its author edited, and a snapshot must still train
    the same model and export the same rows.
    """

    snapshot = models.ForeignKey(DatasetSnapshot, on_delete=models.CASCADE, related_name="members")
    scraped_review = models.ForeignKey(ScrapedReview, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    user_review = models.ForeignKey(UserReview, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    label = models.CharField(max_length=8)
    text = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(scraped_review__isnull=False, user_review__isnull=True)
                | Q(scraped_review__isnull=True, user_review__isnull=False),
                name="dataset_snapshot_row_one_review",
            ),
            models.CheckConstraint(condition=Q(label__in=LABELS), name="dataset_snapshot_row_label_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.snapshot_id}:{self.row_id} {self.label}"

    @property
    def row_id(self) -> str:
        """The row's id as training names it: `s<pk>` or `u<pk>`."""
        return f"s{self.scraped_review_id}" if self.scraped_review_id else f"u{self.user_review_id}"
