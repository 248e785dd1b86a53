from __future__ import annotations

import datetime as dt

from django.db import models
from django.db.models import Q

from redenvelope.core import clock


class Genre(models.Model):
    name = models.CharField(max_length=60, unique=True)
    slug = models.SlugField(max_length=60, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Series(models.Model):
    """A multi-season show; each of its discs is a Title with season and disc_number."""

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=200, unique=True)
    first_year = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "series"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class MpaaRating(models.TextChoices):
    G = "G", "G"
    PG = "PG", "PG"
    PG13 = "PG-13", "PG-13"
    R = "R", "R"
    NC17 = "NC-17", "NC-17"
    NR = "NR", "Not rated"
    TV = "TV", "TV"


class Format(models.TextChoices):
    DVD = "dvd", "DVD"
    BLURAY = "bluray", "Blu-ray"


class TitleQuerySet(models.QuerySet):
    def released(self, on: dt.date | None = None):
        on = on or clock.today()
        return self.filter(release_date__lte=on)

    def unreleased(self, on: dt.date | None = None):
        on = on or clock.today()
        return self.filter(release_date__gt=on)


class Title(models.Model):
    """What a member asks for: a film, or one disc of a series' season."""

    name = models.CharField(max_length=300, db_index=True)
    year = models.PositiveSmallIntegerField()
    runtime_minutes = models.PositiveSmallIntegerField(null=True, blank=True)
    mpaa_rating = models.CharField(max_length=5, choices=MpaaRating.choices, default=MpaaRating.NR)
    synopsis = models.TextField(blank=True)
    genres = models.ManyToManyField(Genre, related_name="titles", blank=True)
    release_date = models.DateField(
        help_text="Disc release day; before it the title is unreleased."
    )
    on_dvd = models.BooleanField(default=True)
    on_bluray = models.BooleanField(default=False)
    series = models.ForeignKey(
        Series, null=True, blank=True, on_delete=models.PROTECT, related_name="discs"
    )
    season = models.PositiveSmallIntegerField(null=True, blank=True)
    disc_number = models.PositiveSmallIntegerField(null=True, blank=True)
    popularity = models.FloatField(default=0.0, help_text="Relative demand, for ordering and demo.")

    objects = TitleQuerySet.as_manager()

    class Meta:
        ordering = ["name", "year"]
        constraints = [
            models.CheckConstraint(
                name="title_has_a_format", condition=Q(on_dvd=True) | Q(on_bluray=True)
            ),
            models.CheckConstraint(
                name="title_series_fields_together",
                condition=(
                    Q(series__isnull=True, season__isnull=True, disc_number__isnull=True)
                    | Q(
                        series__isnull=False,
                        season__isnull=False,
                        disc_number__isnull=False,
                        season__gte=1,
                        disc_number__gte=1,
                    )
                ),
            ),
            models.UniqueConstraint(
                fields=["series", "season", "disc_number"], name="one_title_per_series_disc"
            ),
        ]
        indexes = [models.Index(fields=["release_date"]), models.Index(fields=["-popularity"])]

    def __str__(self) -> str:
        if self.series_id:
            return f"{self.name}"
        return f"{self.name} ({self.year})"

    def is_released(self, on: dt.date | None = None) -> bool:
        return self.release_date <= (on or clock.today())

    @property
    def formats(self) -> list[str]:
        return [
            f.label for f, on in ((Format.DVD, self.on_dvd), (Format.BLURAY, self.on_bluray)) if on
        ]

    @property
    def series_order(self) -> tuple[int, int] | None:
        return (self.season, self.disc_number) if self.series_id else None


class TitleSearch(models.Model):
    """A title as search reads it, folded (lower case, no accents): written only by
    `catalog.search` (in step with the catalog actions, or rebuilt in bulk). On PostgreSQL the
    table also holds a weighted `doc` tsvector with GIN and trigram indexes; on SQLite two FTS5
    tables mirror it (migration 0002)."""

    title = models.OneToOneField(
        Title, primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    name = models.TextField()
    series = models.TextField(blank=True)
    rest = models.TextField(blank=True, help_text="Year and genres.")
    popularity = models.FloatField(default=0.0)
    release_date = models.DateField()

    def __str__(self) -> str:
        return self.name
