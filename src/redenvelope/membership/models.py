from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from redenvelope.inventory.models import Region
from redenvelope.ledger.fields import MoneyField


class Plan(models.Model):
    """What a member pays for."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    # 0 discs: streaming only; 0 screens: discs only.
    discs_at_once = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(0), MaxValueValidator(8)]
    )
    monthly_disc_limit = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Most discs shipped per billing month; empty = unlimited."
    )
    streaming_screens = models.PositiveSmallIntegerField(default=1)
    monthly_price = MoneyField()
    currency = models.CharField(max_length=3, default="USD")
    active = models.BooleanField(default=True, help_text="Offered to new members.")

    class Meta:
        ordering = ["discs_at_once", "monthly_price"]
        constraints = [
            models.CheckConstraint(
                name="plan_discs_0_to_8", condition=Q(discs_at_once__gte=0, discs_at_once__lte=8)
            ),
            models.CheckConstraint(
                name="plan_offers_discs_or_screens",
                condition=Q(discs_at_once__gte=1) | Q(streaming_screens__gte=1),
            ),
            models.CheckConstraint(
                name="plan_price_not_negative", condition=Q(monthly_price__gte=Decimal("0"))
            ),
            models.CheckConstraint(
                name="plan_monthly_limit_positive",
                condition=Q(monthly_disc_limit__isnull=True) | Q(monthly_disc_limit__gte=1),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def kind(self) -> str:
        """dvd (discs only), streaming (screens only) or both."""
        if not self.streaming_screens:
            return "dvd"
        return "streaming" if not self.discs_at_once else "both"

    @property
    def limit_label(self) -> str:
        if self.monthly_disc_limit:
            return f"{self.monthly_disc_limit} discs a month"
        return "Unlimited discs a month"


class MemberStatus(models.TextChoices):
    TRIAL = "trial", "Free trial"
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused"
    PAST_DUE = "past_due", "Past due"
    CANCELLED = "cancelled", "Cancelled"


# Statuses whose members may receive discs (dispatch reads this; holds are checked by date).
SHIPPABLE_STATUSES = (MemberStatus.TRIAL, MemberStatus.ACTIVE)


class Member(models.Model):
    """A customer account. Member-owned rows elsewhere carry member_id (the future shard key)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="member"
    )
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="members")
    status = models.CharField(max_length=10, choices=MemberStatus.choices)
    street = models.CharField(max_length=200)
    city = models.CharField(max_length=80)
    state = models.CharField(max_length=2)
    zip_code = models.CharField(
        max_length=10, validators=[RegexValidator(r"^[0-9]{5}(-[0-9]{4})?$")]
    )
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="members")
    # Digits only (e.g. 12125550100), so a caller's number finds the member (support's lookup).
    phone = models.CharField(max_length=20, blank=True, default="", db_default="", db_index=True)
    joined_at = models.DateTimeField(default=timezone.now)
    billing_day = models.PositiveSmallIntegerField(
        default=1, help_text="Day of the month billed (the joining day; 29-31 fall on month end)."
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # Entitlements other domains set and dispatch honours.
    bonus_rentals = models.PositiveSmallIntegerField(
        default=0,
        help_text="Bonus rentals left: while any remain, one extra disc may be out; each disc "
        "shipped into that extra slot uses one.",
    )
    blocked = models.BooleanField(default=False, help_text="Nothing ships (e.g. abuse review).")
    # Billing's view of the subscription (set by billing and membership actions only).
    trial_ends_on = models.DateField(
        null=True, blank=True, help_text="A trial converts to the paid plan on this day."
    )
    pending_plan = models.ForeignKey(
        Plan,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="A downgrade waiting for the next billing period.",
    )
    cancels_on = models.DateField(
        null=True,
        blank=True,
        help_text="A cancellation taking effect at the end of the paid period.",
    )
    gift_months_left = models.PositiveSmallIntegerField(default=0)
    gift_month_value = MoneyField(default=0)
    # The end of the latest period billed (not written off): while it is after a day, that day
    # is billed. The daily run looks only at members whose billed_until has come (or who have
    # none) instead of every member's statements; set by the run, cleared when the membership
    # ends (`end_memberships`, a write-off's included; `check` proves it: `billed_until`).
    billed_until = models.DateField(null=True, blank=True, editable=False)
    email_verified_at = models.DateTimeField(null=True, blank=True)
    favourite_genres = models.CharField(
        max_length=400,
        blank=True,
        default="",
        db_default="",
        help_text="Genre slugs the member said they like (recommendations' cold start), "
        "comma-separated.",
    )
    muted_emails = models.CharField(
        max_length=200,
        blank=True,
        default="",
        db_default="",
        help_text="Kinds of notice email the member turned off, comma-separated "
        "(membership.emails.NOTICE_KINDS).",
    )

    class Meta:
        indexes = [
            models.Index(fields=["status", "region"]),
            # The few members with bonus rentals, found at once by dispatch.
            models.Index(
                fields=["id"], condition=Q(bonus_rentals__gt=0), name="member_with_bonus_rentals"
            ),
        ]

    def __str__(self) -> str:
        return self.user.get_full_name() or self.user.username

    @property
    def territory(self) -> str:
        """The country whose license windows apply (ISO 3166-1; one for every member for now:
        setting TERRITORY)."""
        return settings.REDENVELOPE.get("TERRITORY", "US")

    @property
    def muted(self) -> list[str]:
        """The kinds of notice email the member turned off."""
        return [k for k in (self.muted_emails or "").split(",") if k]

    @property
    def disc_limit(self) -> int:
        """Discs out at once: the plan's, plus one while bonus rentals remain."""
        return self.plan.discs_at_once + min(self.bonus_rentals, 1)


class Hold(models.Model):
    """A vacation pause: nothing ships from `starts_on` up to, not including, `ends_on`."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="holds")
    starts_on = models.DateField()
    ends_on = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["member_id", "starts_on"]
        constraints = [
            models.CheckConstraint(
                name="hold_ends_after_start", condition=Q(ends_on__gt=models.F("starts_on"))
            )
        ]

    def __str__(self) -> str:
        return f"{self.member} {self.starts_on}–{self.ends_on}"

    def covers(self, day: dt.date) -> bool:
        return self.cancelled_at is None and self.starts_on <= day < self.ends_on


class MemberEvent(models.Model):
    """Append-only history of a membership: joined, plan changed, held, cancelled, rejoined."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=30)
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["member_id", "id"]

    def __str__(self) -> str:
        return f"{self.member_id} {self.kind}"
