"""What a license allows where: windows per title and territory. A title streams to a member only
inside a window that covers the member's territory (the content issue adds licensors and
contracts above these windows)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from redenvelope.catalog.models import Title


class WindowKind(models.TextChoices):
    SVOD = "svod", "Subscription (SVOD)"
    AVOD = "avod", "Ad-supported (AVOD)"
    TVOD = "tvod", "Rental or purchase (TVOD)"


class Ceiling(models.TextChoices):
    """The best picture the license allows; each covers those below it."""

    SD = "sd", "SD (up to 480p)"
    HD = "hd", "HD (up to 1080p)"
    UHD = "uhd", "UHD (up to 2160p)"


# The tallest picture each ceiling allows, in lines.
CEILING_HEIGHT = {Ceiling.SD: 480, Ceiling.HD: 1080, Ceiling.UHD: 2160}


class LicenseWindow(models.Model):
    """A span [starts_at, ends_at) in which a title may be offered in some territories. An open
    end (no ends_at) runs until someone ends it."""

    title = models.ForeignKey(Title, on_delete=models.PROTECT, related_name="license_windows")
    kind = models.CharField(max_length=4, choices=WindowKind.choices, default=WindowKind.SVOD)
    # ISO 3166-1 alpha-2 codes, upper case, comma-separated and sorted ("CA,US").
    territories = models.CharField(max_length=300)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)
    ceiling = models.CharField(max_length=3, choices=Ceiling.choices, default=Ceiling.HD)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        ordering = ["title_id", "starts_at"]
        indexes = [models.Index(fields=["title", "starts_at"]), models.Index(fields=["ends_at"])]
        constraints = [
            models.CheckConstraint(
                name="window_ends_after_it_starts",
                condition=Q(ends_at__isnull=True) | Q(ends_at__gt=models.F("starts_at")),
            ),
            models.CheckConstraint(name="window_has_territories", condition=~Q(territories="")),
        ]

    def __str__(self) -> str:
        end = self.ends_at.date() if self.ends_at else "open"
        return f"{self.title_id} {self.kind} {self.territories} {self.starts_at.date()}–{end}"

    @property
    def territory_list(self) -> list[str]:
        return self.territories.split(",")
