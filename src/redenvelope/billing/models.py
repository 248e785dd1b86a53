from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from redenvelope.ledger.fields import MoneyField
from redenvelope.ledger.models import JournalEntry


class Credit(models.Model):
    """Something given to a member, with who gave it, when and why (the audit trail).

    - account: money, spent on the next statements (`remaining` goes down as it is used);
    - percent: a percentage off the next statement (`amount` is what it came to, once used);
    - bonus_rentals: `rentals` extra discs, one at a time beyond the plan (dispatch honours it).
    `issuer` is empty for what the system gives by rule (a vacation hold, an outage)."""

    class Kind(models.TextChoices):
        ACCOUNT = "account", "Account credit"
        PERCENT = "percent", "Percent off next statement"
        BONUS_RENTALS = "bonus_rentals", "Bonus rentals"

    member = models.ForeignKey(
        "membership.Member", on_delete=models.PROTECT, related_name="credits"
    )
    kind = models.CharField(max_length=14, choices=Kind.choices, default=Kind.ACCOUNT)
    amount = MoneyField(null=True, blank=True)
    remaining = MoneyField(null=True, blank=True)
    percent = models.PositiveSmallIntegerField(null=True, blank=True)
    rentals = models.PositiveSmallIntegerField(null=True, blank=True)
    reason = models.CharField(max_length=300)
    issuer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    issued_at = models.DateTimeField()
    entry = models.OneToOneField(
        JournalEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="credit"
    )
    incident = models.ForeignKey(
        "fulfillment.Incident",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="credits",
    )
    applied_to = models.ForeignKey(
        "Statement", null=True, blank=True, on_delete=models.PROTECT, related_name="percent_credits"
    )
    idempotency_key = models.CharField(max_length=100, null=True, blank=True, unique=True)

    class Meta:
        ordering = ["-issued_at"]
        indexes = [models.Index(fields=["member", "kind"])]
        constraints = [
            models.CheckConstraint(
                name="credit_shape",
                condition=(
                    Q(
                        kind="account",
                        amount__gt=0,
                        remaining__gte=0,
                        remaining__lte=models.F("amount"),
                    )
                    | Q(kind="percent", percent__gte=1, percent__lte=100)
                    | Q(kind="bonus_rentals", rentals__gte=1)
                ),
            ),
            # An outage compensates each member once.
            models.UniqueConstraint(
                fields=["incident", "member"],
                condition=Q(incident__isnull=False),
                name="one_outage_credit_per_member",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.describe()} to {self.member_id}: {self.reason}"

    def describe(self) -> str:
        if self.kind == self.Kind.PERCENT:
            return f"{self.percent}% off"
        if self.kind == self.Kind.BONUS_RENTALS:
            return f"{self.rentals} bonus rental{'s' if self.rentals != 1 else ''}"
        return f"${self.amount}"


class Statement(models.Model):
    """A member's bill: for a period (the plan's price, less vacation-hold days and any percent
    off, plus fees, adjustments and tax, less account credit and gift months), or for the rest of
    a period after an upgrade (kind `proration`)."""

    class Kind(models.TextChoices):
        PERIOD = "period", "Monthly"
        PRORATION = "proration", "Plan change"

    class Status(models.TextChoices):
        DUE = "due", "Due"
        PAID = "paid", "Paid"
        PAST_DUE = "past_due", "Past due"
        WRITTEN_OFF = "written_off", "Written off"

    # Statements, payments and intents carry no database-level foreign keys (decision 0010):
    # `check` proves every reference (`money_refs`).
    member = models.ForeignKey(
        "membership.Member",
        on_delete=models.PROTECT,
        related_name="statements",
        db_constraint=False,
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PERIOD)
    period_start = models.DateField()
    period_end = models.DateField()
    plan = models.ForeignKey(
        "membership.Plan",
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    plan_price = MoneyField(default=0)
    held_days = models.PositiveSmallIntegerField(default=0)
    # subtotal - discount is the revenue this statement earns over its period.
    subtotal = MoneyField()
    discount = MoneyField(default=0)
    # The correction of last period's statement for hold days changed since (a credit note on
    # it), tax included; adjustment_tax is the sales tax part of it.
    adjustment = MoneyField(default=0)
    adjustment_tax = MoneyField(default=0, db_default=0)
    fees = MoneyField(default=0)
    tax = MoneyField()
    credit_applied = MoneyField()
    gift_applied = MoneyField(default=0)
    total_due = MoneyField()
    amount_paid = MoneyField(default=0)
    currency = models.CharField(max_length=3, default="USD")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DUE)
    attempts = models.PositiveSmallIntegerField(default=0)
    first_failed_on = models.DateField(null=True, blank=True)
    next_retry_on = models.DateField(null=True, blank=True)
    # The day what was owed went to bad debt: the statement earns no revenue from that day on.
    written_off_on = models.DateField(null=True, blank=True)
    issued_at = models.DateTimeField()
    # Empty for a statement of nothing at all (a fully held month): no money moved, no entry.
    entry = models.OneToOneField(
        JournalEntry,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="statement",
        db_constraint=False,
    )

    class Meta:
        ordering = ["-period_start", "-id"]
        indexes = [
            # The dunning schedule's statements only (those with a retry day): a statement
            # written due and then paid never enters this index, and, since no index names its
            # status, paying it rewrites the row in place (heap-only, in the room the table
            # leaves in each page: migration billing 0014).
            models.Index(
                fields=["next_retry_on"],
                condition=Q(next_retry_on__isnull=False),
                name="statement_retry_days",
            ),
            models.Index(fields=["period_start", "period_end"]),
        ]
        constraints = [
            # Re-running billing never bills a period twice.
            models.UniqueConstraint(
                fields=["member", "period_start"],
                condition=Q(kind="period"),
                name="one_statement_per_member_period",
            ),
            models.CheckConstraint(
                name="statement_paid_within_due",
                condition=Q(amount_paid__gte=0) & Q(amount_paid__lte=models.F("total_due")),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} {self.period_start}: {self.total_due}"

    @property
    def balance(self):
        return self.total_due - self.amount_paid

    @property
    def earned(self):
        return self.subtotal - self.discount


class Fee(models.Model):
    """A charge for a disc lost or damaged by the member, by the fee policy; waivable (the waiver
    reverses its ledger entry). Open fees go on the next statement."""

    class Kind(models.TextChoices):
        LOST_DISC = "lost_disc", "Lost disc replacement"
        DAMAGED_DISC = "damaged_disc", "Disc damaged by member"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        BILLED = "billed", "Billed"
        WAIVED = "waived", "Waived"

    member = models.ForeignKey("membership.Member", on_delete=models.PROTECT, related_name="fees")
    kind = models.CharField(max_length=14, choices=Kind.choices)
    copy = models.ForeignKey(
        "inventory.Copy", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    amount = MoneyField()
    reason = models.CharField(max_length=300)
    issuer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    statement = models.ForeignKey(
        Statement, null=True, blank=True, on_delete=models.PROTECT, related_name="fee_items"
    )
    entry = models.OneToOneField(JournalEntry, on_delete=models.PROTECT, related_name="fee")
    waived_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    waived_at = models.DateTimeField(null=True, blank=True)
    waive_reason = models.CharField(max_length=300, blank=True)
    idempotency_key = models.CharField(max_length=100, null=True, blank=True, unique=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(name="fee_positive", condition=Q(amount__gt=0)),
            models.UniqueConstraint(
                fields=["kind", "copy", "member"],
                condition=Q(copy__isnull=False),
                name="one_fee_per_disc_event",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ${self.amount} ({self.member_id})"


class PaymentMethod(models.Model):
    """A card or a checking account, held as the provider's token (never the number)."""

    class Kind(models.TextChoices):
        CARD = "card", "Card"
        BANK = "bank", "Checking account"

    member = models.ForeignKey(
        "membership.Member", on_delete=models.PROTECT, related_name="payment_methods"
    )
    kind = models.CharField(max_length=4, choices=Kind.choices)
    token = models.CharField(max_length=80)
    last4 = models.CharField(max_length=4)
    exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    exp_year = models.PositiveSmallIntegerField(null=True, blank=True)
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-is_default", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["member"],
                condition=Q(is_default=True, removed_at__isnull=True),
                name="one_default_payment_method",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ending {self.last4}"


class Payment(models.Model):
    """One attempt to collect money for a statement, and what the provider said."""

    class Status(models.TextChoices):
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    member = models.ForeignKey(
        "membership.Member", on_delete=models.PROTECT, related_name="payments", db_constraint=False
    )
    statement = models.ForeignKey(
        Statement, on_delete=models.PROTECT, related_name="payments", db_constraint=False
    )
    method = models.ForeignKey(
        PaymentMethod,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payments",
        db_constraint=False,
        db_index=False,
    )
    amount = MoneyField()
    status = models.CharField(max_length=9, choices=Status.choices)
    attempt = models.PositiveSmallIntegerField(default=1)
    reference = models.CharField(max_length=40, blank=True)
    decline_code = models.CharField(max_length=40, blank=True)
    message = models.CharField(max_length=200, blank=True)
    attempted_at = models.DateTimeField()
    refunded = MoneyField(default=0)
    charged_back_at = models.DateTimeField(null=True, blank=True)
    entry = models.OneToOneField(
        JournalEntry,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="payment",
        db_constraint=False,
    )
    idempotency_key = models.CharField(max_length=100, null=True, blank=True)

    class Meta:
        ordering = ["-attempted_at", "-id"]
        indexes = [models.Index(fields=["status", "attempted_at"])]
        constraints = [
            models.UniqueConstraint(fields=["idempotency_key"], name="payment_idempotency_key"),
            models.CheckConstraint(name="payment_positive", condition=Q(amount__gt=0)),
            models.CheckConstraint(
                name="refund_within_payment",
                condition=Q(refunded__gte=0) & Q(refunded__lte=models.F("amount")),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.status} ({self.member_id})"


class Refund(models.Model):
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount = MoneyField()
    reason = models.CharField(max_length=300)
    issuer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    reference = models.CharField(max_length=40)
    entry = models.OneToOneField(JournalEntry, on_delete=models.PROTECT, related_name="refund")
    idempotency_key = models.CharField(max_length=100, null=True, blank=True, unique=True)

    def __str__(self) -> str:
        return f"Refund {self.amount} of {self.payment_id}"


class Gift(models.Model):
    """A prepaid subscription someone bought: `months` of a plan, redeemed by a member with its
    code; afterwards the membership continues on the member's own payment method, or stops."""

    class Then(models.TextChoices):
        CONTINUE = "continue", "Continue on the member's payment method"
        STOP = "stop", "Stop"

    code = models.CharField(max_length=16, unique=True)
    plan = models.ForeignKey("membership.Plan", on_delete=models.PROTECT, related_name="+")
    months = models.PositiveSmallIntegerField()
    month_value = MoneyField()
    amount_paid = MoneyField()
    purchaser_name = models.CharField(max_length=100)
    purchaser_email = models.EmailField()
    then = models.CharField(max_length=8, choices=Then.choices, default=Then.CONTINUE)
    purchased_at = models.DateTimeField()
    reference = models.CharField(max_length=40)
    entry = models.OneToOneField(JournalEntry, on_delete=models.PROTECT, related_name="gift")
    # The buyer's request key (scoped to the buying account): a double click buys once.
    idempotency_key = models.CharField(max_length=100, null=True, blank=True, unique=True)
    redeemed_by = models.ForeignKey(
        "membership.Member", null=True, blank=True, on_delete=models.PROTECT, related_name="gifts"
    )
    redeemed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="gift_months_1_to_24", condition=Q(months__gte=1, months__lte=24)
            )
        ]

    def __str__(self) -> str:
        return f"Gift {self.code}: {self.months} months of {self.plan}"


class OutageCompensation(models.Model):
    """An incident's compensation, given once: a percentage off each affected member's next
    statement."""

    incident = models.OneToOneField(
        "fulfillment.Incident", on_delete=models.PROTECT, related_name="compensation"
    )
    percent = models.PositiveSmallIntegerField()
    members = models.PositiveIntegerField()
    issuer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    issued_at = models.DateTimeField()
    reason = models.CharField(max_length=300, default="")
    # Where it was given from: "web", "api", or "cli:<operating-system user>".
    via = models.CharField(max_length=60, default="web")

    def __str__(self) -> str:
        return f"{self.percent}% for {self.incident}"


class PaymentIntent(models.Model):
    """The outbox for the payment provider: every call that moves money (a charge, a gift
    purchase, a plan upgrade, a refund) is first recorded here with its idempotency key and
    committed; the provider is called with that key after the commit; its answer is recorded,
    with what it moved, in one transaction. An intent whose answer never came (a timeout, a
    crash) stays open until `billing reconcile` (and every daily run, first) asks the provider
    by key, so nothing is charged twice and nothing charged goes unrecorded."""

    class Kind(models.TextChoices):
        CHARGE = "charge", "Statement payment"
        UPGRADE = "upgrade", "Plan upgrade"
        GIFT = "gift", "Gift purchase"
        REFUND = "refund", "Refund"

    class Status(models.TextChoices):
        PENDING = "pending", "Recorded, not yet answered"
        UNKNOWN = "unknown", "Sent, no answer"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        ABANDONED = "abandoned", "Never reached the provider; abandoned"

    OPEN = (Status.PENDING, Status.UNKNOWN)

    key = models.CharField(max_length=120)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.PENDING)
    member = models.ForeignKey(
        "membership.Member",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
    )
    statement = models.ForeignKey(
        Statement,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="intents",
        db_constraint=False,
    )
    method = models.ForeignKey(
        PaymentMethod,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    # For a refund: the payment given back.
    payment = models.ForeignKey(
        Payment,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="refund_intents",
        db_constraint=False,
        db_index=False,
    )
    token = models.CharField(max_length=80, blank=True)
    amount = MoneyField()
    day = models.DateField()
    # A statement payment's place in the dunning schedule; `manual` is a member's "pay now".
    attempt = models.PositiveSmallIntegerField(default=1)
    first_failed_on = models.DateField(null=True, blank=True)
    manual = models.BooleanField(default=False)
    # What the caller asked for, to finish it later (gift and upgrade details, refund reason).
    request = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    reference = models.CharField(max_length=40, blank=True)
    decline_code = models.CharField(max_length=40, blank=True)
    message = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # Open intents only (what reconciliation looks for): an intent leaves it when
            # answered.
            models.Index(
                fields=["kind"], condition=Q(status__in=["pending", "unknown"]), name="open_intents"
            ),
            models.Index(
                fields=["payment"], condition=Q(payment__isnull=False), name="intent_by_payment"
            ),
            models.Index(
                fields=["actor"], condition=Q(actor__isnull=False), name="intent_by_actor"
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["key"], name="intent_key"),
            models.CheckConstraint(name="intent_positive", condition=Q(amount__gt=0)),
            # One open payment per statement: a "pay now" during the run's call waits for it.
            models.UniqueConstraint(
                fields=["statement"],
                condition=Q(status__in=["pending", "unknown"], kind="charge"),
                name="one_open_intent_per_statement",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount} ({self.key}: {self.status})"
