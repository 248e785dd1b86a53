"""Members' stars per title: one row per member and title (re-rating replaces it), with when and
from where. A model reads them all at once (`queries.all_ratings`)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from redenvelope.catalog.models import Title
from redenvelope.membership.models import Member


class RatingSource(models.TextChoices):
    TITLE_PAGE = "title_page", "Title page"
    QUEUE = "queue", "Queue"
    HISTORY = "history", "Rental history"
    RATE_PAGE = "rate_page", "Rate what you've seen"
    API = "api", "API"
    IMPORT = "import", "Import"


class Rating(models.Model):
    # Served by the (member, title) unique index: no index of its own (member is the shard key).
    member = models.ForeignKey(
        Member, on_delete=models.CASCADE, related_name="ratings", db_index=False
    )
    title = models.ForeignKey(Title, on_delete=models.PROTECT, related_name="ratings")
    stars = models.PositiveSmallIntegerField()
    source = models.CharField(max_length=12, choices=RatingSource.choices)
    rated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["member_id", "-rated_at"]
        constraints = [
            models.UniqueConstraint(fields=["member", "title"], name="one_rating_per_title"),
            models.CheckConstraint(
                name="rating_one_to_five_stars", condition=Q(stars__gte=1, stars__lte=5)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} rated {self.title_id}: {self.stars}"
