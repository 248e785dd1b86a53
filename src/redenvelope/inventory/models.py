from __future__ import annotations

import datetime as dt
import re

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from redenvelope.catalog.models import Format, Title

DC_CODE_RE = re.compile(r"^[A-Z]{3}[0-9]?$")
ZIP3_RE = re.compile(r"^[0-9]{3}$")
# A copy's barcode: "RE" + 10 digits (printed as Code 128 on the sleeve).
BARCODE_RE = re.compile(r"^RE[0-9]{10}$")


class DistributionCenter(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        SUSPENDED = "suspended", "Suspended"

    code = models.CharField(
        max_length=4, unique=True, validators=[RegexValidator(DC_CODE_RE.pattern)]
    )
    name = models.CharField(max_length=120)
    city = models.CharField(max_length=80)
    state = models.CharField(max_length=2)
    latitude = models.FloatField(validators=[MinValueValidator(-90), MaxValueValidator(90)])
    longitude = models.FloatField(validators=[MinValueValidator(-180), MaxValueValidator(180)])
    daily_capacity = models.PositiveIntegerField(help_text="Most shipments it can send in a day.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    cutoff = models.TimeField(
        default=dt.time(15, 0), help_text="Local time the day's dispatch runs for this DC."
    )

    class Meta:
        ordering = ["code"]
        verbose_name = "distribution center"

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"


class Region(models.Model):
    """A 3-digit ZIP prefix with its centroid; members live in one."""

    zip3 = models.CharField(max_length=3, unique=True, validators=[RegexValidator(ZIP3_RE.pattern)])
    name = models.CharField(max_length=120)
    state = models.CharField(max_length=2)
    latitude = models.FloatField()
    longitude = models.FloatField()
    population = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["zip3"]

    def __str__(self) -> str:
        return f"{self.zip3} {self.name}"


class Transit(models.Model):
    """Days a disc mailed from a DC takes to reach a region. A missing pair cannot ship."""

    dc = models.ForeignKey(DistributionCenter, on_delete=models.CASCADE, related_name="transit")
    region = models.ForeignKey(Region, on_delete=models.CASCADE, related_name="transit")
    days = models.PositiveSmallIntegerField(validators=[MinValueValidator(1)])

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["dc", "region"], name="one_transit_per_dc_region"),
            models.CheckConstraint(name="transit_days_at_least_one", condition=Q(days__gte=1)),
        ]

    def __str__(self) -> str:
        return f"{self.dc.code}→{self.region.zip3}: {self.days}d"


class CopyStatus(models.TextChoices):
    ON_SHELF = "on_shelf", "On shelf"
    PICKED = "picked", "Picked"
    SHIPPED = "shipped", "Shipped"
    IN_TRANSFER = "in_transfer", "In transfer"
    DAMAGED = "damaged", "Damaged"
    LOST = "lost", "Lost"
    RETIRED = "retired", "Retired"


class Condition(models.TextChoices):
    NEW = "new", "New"
    GOOD = "good", "Good"
    WORN = "worn", "Worn"
    DAMAGED = "damaged", "Damaged"


class EventKind(models.TextChoices):
    RECEIVED = "received", "Received"
    PICKED = "picked", "Picked"
    UNPICKED = "unpicked", "Put back"
    SHIPPED = "shipped", "Shipped"
    RETURNED = "returned", "Returned"
    DAMAGED = "damaged", "Damaged"
    LOST = "lost", "Lost"
    FOUND = "found", "Found"
    TRANSFER_OUT = "transfer_out", "Transfer sent"
    TRANSFER_IN = "transfer_in", "Transfer received"
    RETIRED = "retired", "Retired"


# Which statuses each event may start from, and where it leaves the copy. The single source of the
# copy lifecycle in ARCHITECTURE.md: actions consult it, the check command verifies histories by it.
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    EventKind.RECEIVED: (frozenset(), CopyStatus.ON_SHELF),
    EventKind.PICKED: (frozenset({CopyStatus.ON_SHELF}), CopyStatus.PICKED),
    EventKind.UNPICKED: (frozenset({CopyStatus.PICKED}), CopyStatus.ON_SHELF),
    # Straight from the shelf when it ships the day it is picked (the pick list is the
    # record of the pick: one event per disc shipped), or after a recorded pick.
    EventKind.SHIPPED: (frozenset({CopyStatus.ON_SHELF, CopyStatus.PICKED}), CopyStatus.SHIPPED),
    EventKind.RETURNED: (frozenset({CopyStatus.SHIPPED, CopyStatus.LOST}), CopyStatus.ON_SHELF),
    EventKind.DAMAGED: (
        frozenset({CopyStatus.ON_SHELF, CopyStatus.SHIPPED, CopyStatus.PICKED, CopyStatus.LOST}),
        CopyStatus.DAMAGED,
    ),
    EventKind.LOST: (
        frozenset({CopyStatus.SHIPPED, CopyStatus.ON_SHELF, CopyStatus.IN_TRANSFER}),
        CopyStatus.LOST,
    ),
    EventKind.FOUND: (frozenset({CopyStatus.LOST}), CopyStatus.ON_SHELF),
    EventKind.TRANSFER_OUT: (frozenset({CopyStatus.ON_SHELF}), CopyStatus.IN_TRANSFER),
    EventKind.TRANSFER_IN: (frozenset({CopyStatus.IN_TRANSFER}), CopyStatus.ON_SHELF),
    EventKind.RETIRED: (
        frozenset({CopyStatus.DAMAGED, CopyStatus.LOST, CopyStatus.ON_SHELF}),
        CopyStatus.RETIRED,
    ),
}


class Copy(models.Model):
    """One physical disc we own. Its status changes only through inventory actions."""

    # Unique by a constraint, not unique=True: that would add a second (LIKE pattern) index,
    # which every one of a dispatch day's copy updates would pay for and no query uses.
    barcode = models.CharField(max_length=12, validators=[RegexValidator(BARCODE_RE.pattern)])
    # title and dc are served by the indexes below. No index holds the status: a dispatch day
    # moves hundreds of thousands of copies off the shelf, and with the status in no index
    # (and room left in each page) PostgreSQL writes each new row version beside the old one
    # with no new entry in any index (a heap-only update).
    title = models.ForeignKey(
        Title, on_delete=models.PROTECT, related_name="copies", db_index=False
    )
    format = models.CharField(max_length=6, choices=Format.choices, default=Format.DVD)
    condition = models.CharField(max_length=8, choices=Condition.choices, default=Condition.NEW)
    status = models.CharField(max_length=12, choices=CopyStatus.choices)
    # The DC that holds it now (on shelf, picked, damaged there), that shipped it (out with a
    # member), or that it travels to (in transfer).
    dc = models.ForeignKey(
        DistributionCenter, on_delete=models.PROTECT, related_name="copies", db_index=False
    )
    acquired_on = models.DateField()

    class Meta:
        verbose_name_plural = "copies"
        indexes = [
            # The shelves: what a DC has of a title, lowest id first (the copies dispatch
            # takes, read n at a time, passing over those not on the shelf).
            models.Index(fields=["dc", "title", "id"], name="copies_by_shelf"),
            models.Index(fields=["title"], name="copies_by_title"),
        ]
        constraints = [
            models.CheckConstraint(
                name="copy_status_known", condition=Q(status__in=CopyStatus.values)
            ),
            models.UniqueConstraint(fields=["barcode"], name="copy_barcode_unique"),
        ]

    def __str__(self) -> str:
        return self.barcode


class CopyEvent(models.Model):
    """One step of a copy's history. Append-only: never updated, never deleted.

    Its references carry no database-level foreign keys (decision 0004): a national dispatch
    day appends about a million events, and PostgreSQL checked each reference of each row at
    commit. Only the actions and bulk writers append events, and `redenvelope check`
    (`event_refs`) proves every event's copy, DC and actor exist. Only the (copy, id) index is
    kept: every other index is paid for on each of those rows."""

    copy = models.ForeignKey(
        Copy,
        on_delete=models.PROTECT,
        related_name="events",
        db_constraint=False,
        db_index=False,  # the (copy, id) index below serves it
    )
    kind = models.CharField(max_length=12, choices=EventKind.choices)
    from_status = models.CharField(max_length=12, blank=True)
    to_status = models.CharField(max_length=12)
    dc = models.ForeignKey(
        DistributionCenter,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    # What caused it: "shipment:123", "scan:45", "run:2026-11-23/EWR", "demo", ...
    ref = models.CharField(max_length=64, blank=True)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["copy", "id"]),
            # discs written off lost, by day (insight's lost rate): few rows, so a small index
            models.Index(fields=["at"], condition=Q(kind="lost"), name="copy_events_lost_at"),
        ]
        ordering = ["copy_id", "id"]

    def __str__(self) -> str:
        return f"{self.copy_id} {self.kind} {self.at:%Y-%m-%d}"
