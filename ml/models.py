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

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Training #{self.pk} ({self.status})"
