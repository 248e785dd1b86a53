"""Trained recommendation models: one row per version, with its metrics, the moment its signals
were read up to, and where its arrays are (a file in RECS_DIR, checked by its SHA-256). Exactly
one version is live at a time; every change of the live one is recorded with who and why."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class ModelVersion(models.Model):
    class Status(models.TextChoices):
        TRAINED = "trained", "Trained"
        LIVE = "live", "Live"
        RETIRED = "retired", "Was live"
        PURGED = "purged", "File removed"

    created_at = models.DateTimeField()
    seconds = models.FloatField(default=0, help_text="Wall time of the training.")
    data_cutoff = models.DateTimeField(help_text="Signals up to this moment were read.")
    seed = models.IntegerField(default=0)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.TRAINED)
    file = models.CharField(max_length=200, help_text="Its arrays, in RECS_DIR.")
    checksum = models.CharField(max_length=64)
    format = models.PositiveSmallIntegerField()
    metrics = models.JSONField(default=dict)
    trained_by = models.CharField(max_length=150, default="", blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["status"], condition=Q(status="live"), name="one_live_model"
            ),
        ]

    def __str__(self) -> str:
        return f"v{self.pk} ({self.get_status_display()})"


class LiveChange(models.Model):
    """A change of the live model: trained and promoted, switched, or rolled back."""

    at = models.DateTimeField()
    version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="+")
    previous = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    by = models.CharField(max_length=150)
    why = models.CharField(max_length=300)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"v{self.version_id} live from {self.at:%Y-%m-%d %H:%M} ({self.by})"
