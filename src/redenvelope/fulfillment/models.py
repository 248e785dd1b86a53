from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from redenvelope.catalog.models import Title
from redenvelope.inventory.models import Copy, DistributionCenter
from redenvelope.membership.models import Member


class DispatchRun(models.Model):
    """One day's allocation at one DC (scope = its code) or nationally (scope = "ALL")."""

    run_date = models.DateField()
    scope = models.CharField(max_length=4)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    params = models.JSONField(default=dict)
    figures = models.JSONField(default=dict)

    class Meta:
        ordering = ["-run_date", "scope"]
        constraints = [
            # Re-running the same date and scope changes nothing.
            models.UniqueConstraint(fields=["run_date", "scope"], name="one_run_per_day_scope")
        ]

    def __str__(self) -> str:
        return f"{self.run_date} {self.scope}"


class Incident(models.Model):
    """Days a DC cannot ship (or receive): from starts_on up to, not including, ends_on."""

    class Kind(models.TextChoices):
        SHIPPING = "shipping", "Cannot ship"
        RECEIVING = "receiving", "Cannot receive"
        BOTH = "both", "Closed"

    dc = models.ForeignKey(DistributionCenter, on_delete=models.PROTECT, related_name="incidents")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.SHIPPING)
    starts_on = models.DateField()
    ends_on = models.DateField()
    reason = models.CharField(max_length=300)
    # Where it was recorded from: "web", "api", or "cli:<operating-system user>".
    via = models.CharField(max_length=60, default="web")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-starts_on"]
        constraints = [
            models.CheckConstraint(
                name="incident_ends_after_start", condition=Q(ends_on__gt=models.F("starts_on"))
            )
        ]

    def __str__(self) -> str:
        return f"{self.dc.code} {self.get_kind_display()} {self.starts_on}–{self.ends_on}"


class Shipment(models.Model):
    """One copy sent to one member: opened when shipped, closed by a return scan or as lost."""

    class Status(models.TextChoices):
        OPEN = "open", "Out with member"
        RETURNED = "returned", "Returned"
        LOST = "lost", "Lost"
        DAMAGED = "damaged", "Reported damaged"

    # Indexes cost on every one of a national day's shipments: member is served by (member,
    # status); title, dc and returned_to are not searched by (only a rare delete would look).
    # No foreign keys in the database either (decision 0004): PostgreSQL checks each one row by
    # row at commit, 13 s for a national day's shipments; the run writes only ids it has just
    # read, the ORM still protects deletes, and `redenvelope check` proves every reference.
    member = models.ForeignKey(
        Member,
        on_delete=models.PROTECT,
        related_name="shipments",
        db_index=False,
        db_constraint=False,
    )
    # copy: the open shipment by the unique key below, closed ones by `ship_closed_by_copy`
    # (entered when a shipment closes, not on each of a run's new rows).
    copy = models.ForeignKey(
        Copy,
        on_delete=models.PROTECT,
        related_name="shipments",
        db_constraint=False,
        db_index=False,
    )
    title = models.ForeignKey(
        Title, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    dc = models.ForeignKey(
        DistributionCenter,
        on_delete=models.PROTECT,
        related_name="shipments",
        db_index=False,
        db_constraint=False,
    )
    shipped_at = models.DateTimeField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    closed_at = models.DateTimeField(null=True, blank=True)
    returned_to = models.ForeignKey(
        DistributionCenter,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    run = models.ForeignKey(
        DispatchRun,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="shipments",
        db_constraint=False,
    )
    # Shipped into the bonus slot: one disc more than the plan allows, using a bonus rental.
    bonus = models.BooleanField(default=False, db_default=False)
    # Service as the member feels it, recorded when the disc ships: where the title stood in the
    # member's queue (1 = first choice; null when it did not come from the queue) and the days
    # the mail takes from the DC to the member's region (1 = next day). Read by insight.
    queue_position = models.PositiveSmallIntegerField(null=True, blank=True)
    transit_days = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        indexes = [
            # One disc at a time by `ship_copy` (no run): a DC's shipments of a day are its
            # runs' (by the run index) and these few.
            models.Index(
                fields=["shipped_at"], condition=models.Q(run__isnull=True), name="ship_manual_at"
            ),
            models.Index(fields=["member", "status"]),
            models.Index(fields=["shipped_at"]),
            models.Index(fields=["copy"], condition=~Q(status="open"), name="ship_closed_by_copy"),
        ]
        constraints = [
            # A disc is in exactly one place: at most one open shipment per copy.
            models.UniqueConstraint(
                fields=["copy"], condition=Q(status="open"), name="one_open_shipment_per_copy"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.copy_id} → {self.member_id} ({self.status})"


class ReturnScan(models.Model):
    """One barcode read at a DC's return desk, with what it did. Problems are set aside here
    with their reason; nothing is counted twice."""

    class Outcome(models.TextChoices):
        RETURNED = "returned", "Returned to shelf"
        DAMAGED = "damaged", "Returned damaged"
        FOUND = "found", "Lost disc found"
        WRONG_MEMBER = "wrong_member", "Came in another member's envelope"
        DUPLICATE = "duplicate", "Already scanned in"
        NOT_OUT = "not_out", "Not out with any member"
        UNKNOWN = "unknown", "Not one of our discs"
        MALFORMED = "malformed", "Unreadable barcode"
        MEMBERS_DISC = "members_disc", "A member's own disc"

    class Disposition(models.TextChoices):
        """What becomes of a member's own disc (chosen by the member through support)."""

        UNDECIDED = "", "Waiting for the member"
        MAIL_BACK = "mail_back", "Mail it back to the member"
        MAILED = "mailed", "Mailed back"
        KEPT = "kept", "Kept (the member took a credit)"

    PROBLEMS = frozenset(
        {"wrong_member", "duplicate", "not_out", "unknown", "malformed", "members_disc"}
    )

    dc = models.ForeignKey(DistributionCenter, on_delete=models.PROTECT, related_name="scans")
    raw = models.CharField(max_length=64)
    copy = models.ForeignKey(
        Copy, null=True, blank=True, on_delete=models.PROTECT, related_name="scans"
    )
    shipment = models.ForeignKey(
        Shipment, null=True, blank=True, on_delete=models.PROTECT, related_name="scans"
    )
    outcome = models.CharField(max_length=14, choices=Outcome.choices)
    message = models.CharField(max_length=300)
    source = models.CharField(max_length=10, default="desk")  # desk | csv | sim
    batch = models.CharField(max_length=40, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    scanned_at = models.DateTimeField()
    # A disc that is not ours, in a member's return envelope: whose it is, and what becomes of
    # it (set aside in the members'-discs bin until the member chooses, through support).
    member = models.ForeignKey(
        Member, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    disposition = models.CharField(
        max_length=9, choices=Disposition.choices, blank=True, default="", db_default=""
    )
    disposed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-scanned_at", "-id"]
        indexes = [
            models.Index(fields=["dc", "scanned_at"]),
            models.Index(
                fields=["member"], condition=models.Q(outcome="members_disc"), name="members_discs"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.raw} at {self.dc_id}: {self.outcome}"

    @property
    def is_problem(self) -> bool:
        return self.outcome in self.PROBLEMS


class TitleDemand(models.Model):
    """Each title's copies in circulation, copies on a shelf, and members who have it near the
    top of their queue (the first three), as last counted for the whole catalog in one pass
    (`actions.count_title_demand`, hourly): what the availability estimates on the catalog,
    title and queue pages read, instead of counting millions of queue entries per page."""

    title = models.OneToOneField(
        Title, primary_key=True, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    copies = models.PositiveIntegerField()
    on_shelf = models.PositiveIntegerField()
    near_top = models.PositiveIntegerField()
    counted_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.title_id}: {self.near_top}"
