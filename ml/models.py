"""The model registry: trained versions and the training runs that make them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.jobs import JobRun


class ModelVersion(models.Model):
    """A trained sentiment model: its checkpoint file, settings and measured quality."""

    name = models.CharField(max_length=100, unique=True, help_text="e.g. charcnn-2026-11-29-1")
    architecture = models.CharField(max_length=50)
    hyperparameters = models.JSONField(default=dict, blank=True)
    dataset = models.JSONField(default=dict, blank=True, help_text="Sizes, class counts and a hash of the row ids.")
    metrics = models.JSONField(default=dict, blank=True)
    gold_metrics = models.JSONField(
        default=dict, blank=True, help_text="Scores on the gold set (reviews staff verified): n, accuracy, macro-F1."
    )
    file = models.CharField(max_length=500, help_text="Checkpoint path relative to MEDIA_ROOT.")
    size_bytes = models.PositiveBigIntegerField(default=0)
    is_active = models.BooleanField(default=False)
    activated_at = models.DateTimeField(
        null=True, blank=True, help_text="Last activation; every process reloads the file when it changes."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=Q(is_active=True), name="one_active_model_version"),
        ]

    def __str__(self) -> str:
        return self.name


class TrainingRun(JobRun):
    """One training job: options, per-epoch history and the model version it produced."""

    history = models.JSONField(default=list, blank=True, help_text="One entry per epoch: loss and metrics.")
    dataset = models.JSONField(default=dict, blank=True)
    model_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="training_runs"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="training_runs"
    )
    dataset_snapshot = models.ForeignKey(
        "reviews.DatasetSnapshot",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="training_runs",
        help_text="The frozen dataset it trained on, if any.",
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Training #{self.pk} ({self.status})"


class AuditRun(JobRun):
    """One label audit: out-of-fold predictions over the dataset and the suspects they found."""

    rows = models.PositiveIntegerField(default=0, help_text="Rows audited.")
    summary = models.JSONField(default=dict, blank=True, help_text="Folds, seeds, thresholds, time taken.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_runs"
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "label audit"

    def __str__(self) -> str:
        return f"Label audit #{self.pk} ({self.status})"


class LabelSuspect(models.Model):
    """A review whose label an audit found probably wrong, and what staff decided about it."""

    class Reason(models.TextChoices):
        MODEL = "model", "Models trained without it disagree"
        DUPLICATE = "duplicate", "The same text has another label"

    class Resolution(models.TextChoices):
        OPEN = "open", "To review"
        RELABELLED = "relabelled", "Relabelled"
        CONFIRMED = "confirmed", "Label confirmed"
        EXCLUDED = "excluded", "Excluded"

    audit_run = models.ForeignKey(AuditRun, on_delete=models.CASCADE, related_name="suspects")
    rank = models.PositiveIntegerField(help_text="1: most likely wrong.")
    scraped_review = models.ForeignKey(
        "reviews.ScrapedReview", null=True, blank=True, on_delete=models.CASCADE, related_name="label_suspects"
    )
    user_review = models.ForeignKey(
        "reviews.UserReview", null=True, blank=True, on_delete=models.CASCADE, related_name="label_suspects"
    )
    label = models.CharField(max_length=8, help_text="The effective label when audited.")
    suggested_label = models.CharField(max_length=8)
    confidence = models.FloatField(help_text="Out-of-fold probability of the suggested label.")
    margin = models.FloatField(help_text="Suggested probability minus the label's.")
    reason = models.CharField(max_length=10, choices=Reason.choices, default=Reason.MODEL)
    resolution = models.CharField(max_length=10, choices=Resolution.choices, default=Resolution.OPEN, db_index=True)

    class Meta:
        ordering = ["audit_run", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["audit_run", "rank"], name="label_suspect_unique_rank"),
            models.CheckConstraint(
                condition=Q(scraped_review__isnull=False, user_review__isnull=True)
                | Q(scraped_review__isnull=True, user_review__isnull=False),
                name="label_suspect_one_review",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.rank} {self.label} → {self.suggested_label}"

    @property
    def review(self):
        """The scraped or visitor's review this suspect is about."""
        return self.scraped_review or self.user_review
