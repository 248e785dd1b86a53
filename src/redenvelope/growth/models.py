"""Growth: affiliate partners paid per signup, the weekly newsletter, announcements.

Affiliates: a Partner has tracked Links; a Click on one gets a click id (kept in a first-party
cookie); a member's Signup records the click it is attributed to (last click within the window,
by default); a Commission is earned when that member's first payment succeeds, held before
payout, reversed on a refund, a chargeback or leaving within the trial, and held for review
when a fraud rule flags it; PayoutStatements pay a partner's payable commissions monthly.

Newsletter: an Issue (a week's new arrivals) is queued as one Delivery per recipient (members
who did not turn it off, and confirmed Subscribers), each with its own picks; deliveries are
sent exactly once (see newsletter.py); opens, clicks, unsubscribes and bounces are Events;
hard-bounced addresses are Suppressed.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Partner(models.Model):
    class Kind(models.TextChoices):
        INDIVIDUAL = "individual", "Individual"
        NETWORK = "network", "Network"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="partner"
    )
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.INDIVIDUAL)
    # What self-referral is checked against: the partner's own address, and the cards and
    # devices of the partner's own member account (if they are a member too).
    street = models.CharField(max_length=200, blank=True, default="")
    zip_code = models.CharField(max_length=10, blank=True, default="")
    member_id = models.BigIntegerField(null=True, blank=True, help_text="Their own membership.")
    devices = models.CharField(
        max_length=700, blank=True, default="", help_text="Visitor ids the partner signed in from."
    )
    flat_cents = models.PositiveIntegerField(
        default=2000, help_text="Commission per paid signup, in cents (unless a rule says)."
    )
    share_bp = models.PositiveIntegerField(
        default=0, help_text="Or a share of the first payment, in basis points (100 = 1%)."
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.name


class CommissionRule(models.Model):
    """A partner's commission for one plan (overrides the partner's default)."""

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="rules")
    plan = models.ForeignKey("membership.Plan", on_delete=models.PROTECT, related_name="+")
    flat_cents = models.PositiveIntegerField(default=0)
    share_bp = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["partner", "plan"], name="one_rule_per_partner_plan")
        ]

    def __str__(self) -> str:
        return f"{self.partner_id}/{self.plan_id}"


class Link(models.Model):
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="links")
    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=120, blank=True, default="")
    destination = models.CharField(max_length=200, default="/join/")
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.code


class Click(models.Model):
    """One visit through a tracked link. `token` is the click id the visitor's cookie keeps."""

    token = models.CharField(max_length=32, unique=True)
    link = models.ForeignKey(
        Link, on_delete=models.PROTECT, related_name="+", db_constraint=False, db_index=False
    )
    partner_id = models.BigIntegerField()
    visitor = models.CharField(max_length=32, db_index=True)
    at = models.DateTimeField()
    ip_hash = models.CharField(max_length=16, default="", blank=True)
    flood = models.BooleanField(default=False, help_text="Part of a click flood: not credited.")

    class Meta:
        # four indexes, as few as the reads need (a million clicks a day are written in bulk):
        # the click id, the visitor's clicks, an address's last minute, a partner's per link
        indexes = [
            models.Index(fields=["ip_hash", "at"]),
            models.Index(fields=["partner_id", "link"]),
        ]

    def __str__(self) -> str:
        return self.token


class Signup(models.Model):
    """How one member came to join: an affiliate's click (attributed), or not."""

    class Source(models.TextChoices):
        AFFILIATE = "affiliate", "Affiliate"
        NEWSLETTER = "newsletter", "Newsletter"
        DIRECT = "direct", "Direct"

    member_id = models.BigIntegerField(unique=True)
    at = models.DateTimeField()
    source = models.CharField(max_length=10, choices=Source.choices)
    partner_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    click_id = models.BigIntegerField(null=True, blank=True)
    visitor = models.CharField(max_length=32, blank=True, default="")
    device = models.CharField(max_length=32, blank=True, default="")
    note = models.CharField(max_length=200, blank=True, default="")

    def __str__(self) -> str:
        return f"member {self.member_id}: {self.source}"


class Commission(models.Model):
    class Status(models.TextChoices):
        HELD = "held", "Held (hold period)"
        REVIEW = "review", "Held for review"
        PAYABLE = "payable", "Payable"
        STATEMENT = "statement", "On a statement"
        PAID = "paid", "Paid"
        REVERSED = "reversed", "Reversed"
        REJECTED = "rejected", "Rejected in review"

    member_id = models.BigIntegerField(unique=True, help_text="One commission per member, ever.")
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="commissions")
    plan_id = models.BigIntegerField()
    payment_id = models.BigIntegerField(help_text="The member's first successful payment.")
    amount_cents = models.IntegerField()
    status = models.CharField(max_length=9, choices=Status.choices)
    flags = models.CharField(max_length=300, blank=True, default="")
    earned_on = models.DateField()
    payable_on = models.DateField(help_text="The end of the hold.")
    statement = models.ForeignKey(
        "PayoutStatement", null=True, blank=True, on_delete=models.PROTECT, related_name="lines"
    )
    reversed_on = models.DateField(null=True, blank=True)
    reason = models.CharField(max_length=300, blank=True, default="")
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # A reversal after the commission was paid is taken back on the next statement.
    clawback_statement = models.ForeignKey(
        "PayoutStatement", null=True, blank=True, on_delete=models.PROTECT, related_name="clawbacks"
    )

    class Meta:
        indexes = [models.Index(fields=["partner", "status"])]

    def __str__(self) -> str:
        return f"member {self.member_id}: {self.amount_cents} cents ({self.status})"


class PayoutStatement(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "To pay"
        PAID = "paid", "Paid"
        CARRIED = "carried", "Carried to the next statement"

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="statements")
    period = models.DateField(help_text="The month's first day.")
    amount_cents = models.IntegerField()
    commissions = models.PositiveIntegerField(default=0)
    clawback_cents = models.IntegerField(default=0)
    carried_cents = models.IntegerField(
        default=0, help_text="An earlier statement's balance brought forward (negative: owed)."
    )
    status = models.CharField(max_length=7, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)
    paid_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    entry_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-period", "partner_id"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "period"], name="one_statement_a_month")
        ]

    def __str__(self) -> str:
        return f"{self.partner_id} {self.period:%Y-%m}: {self.amount_cents} cents"


class Subscriber(models.Model):
    """Someone who is not a member and asked for the newsletter (double opt-in)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for confirmation"
        CONFIRMED = "confirmed", "Subscribed"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"

    email = models.EmailField(max_length=254, unique=True)
    status = models.CharField(max_length=12, choices=Status.choices)
    created_at = models.DateTimeField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.email


class Suppression(models.Model):
    """An address we no longer mail: a hard bounce, soft bounces past the limit, a complaint."""

    email = models.CharField(max_length=254, unique=True)
    soft_score = models.PositiveSmallIntegerField(default=0)
    suppressed = models.BooleanField(default=False)
    reason = models.CharField(max_length=200, blank=True, default="")
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.email


class Issue(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        QUEUEING = "queuing", "Being queued"
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        PAUSED = "paused", "Paused"
        SENT = "sent", "Sent"

    week = models.DateField(unique=True, help_text="The Monday of the issue's week.")
    subject = models.CharField(max_length=200)
    intro = models.TextField(blank=True, default="")
    dvd_titles = models.JSONField(default=list)
    stream_titles = models.JSONField(default=list)
    status = models.CharField(max_length=7, choices=Status.choices, default=Status.DRAFT)
    model_version = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()
    queued_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    recipients = models.PositiveIntegerField(default=0)
    # The sender now at work (host:pid and when it last said so), so two never send at once.
    sender = models.CharField(max_length=100, blank=True, default="")
    sender_seen_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        ordering = ["-week"]

    def __str__(self) -> str:
        return f"{self.week:%Y-%m-%d}: {self.subject}"


class Delivery(models.Model):
    """One recipient of one issue. queued -> sending (the server is being handed it) -> sent;
    `unconfirmed`: a sender died while the server was answering (never sent again unless an
    operator asks); failed: refused by the server, or out of retries; skipped: suppressed or
    unsubscribed after queueing."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Being sent"
        SENT = "sent", "Sent"
        UNCONFIRMED = "unconfirmed", "Unconfirmed"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    issue = models.ForeignKey(
        Issue, on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    email = models.CharField(max_length=254)
    member_id = models.BigIntegerField(null=True, blank=True)
    subscriber_id = models.BigIntegerField(null=True, blank=True)
    name = models.CharField(max_length=150, blank=True, default="")
    picks = models.CharField(max_length=200, blank=True, default="", help_text="Title ids.")
    state = models.CharField(max_length=11, choices=State.choices, default=State.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_try_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["issue", "state", "id"])]
        constraints = [
            models.UniqueConstraint(fields=["issue", "email"], name="one_delivery_per_address")
        ]

    def __str__(self) -> str:
        return f"{self.issue_id} -> {self.email} ({self.state})"


class Event(models.Model):
    class Kind(models.TextChoices):
        OPEN = "open", "Opened"
        CLICK = "click", "Clicked"
        UNSUBSCRIBE = "unsubscribe", "Unsubscribed"
        BOUNCE_HARD = "bounce_hard", "Hard bounce"
        BOUNCE_SOFT = "bounce_soft", "Soft bounce"

    issue_id = models.BigIntegerField(db_index=True)
    delivery_id = models.BigIntegerField(db_index=True)
    kind = models.CharField(max_length=11, choices=Kind.choices)
    at = models.DateTimeField()
    url = models.CharField(max_length=300, blank=True, default="")

    def __str__(self) -> str:
        return f"{self.kind} {self.delivery_id}"


class Announcement(models.Model):
    """A post for social channels (exported as a feed and CSV; nothing is posted from here)."""

    class Kind(models.TextChoices):
        NEW_TITLE = "new_title", "New title"
        ORIGINAL = "original", "Original"
        NEWS = "news", "News"

    kind = models.CharField(max_length=9, choices=Kind.choices)
    title_id = models.BigIntegerField(null=True, blank=True)
    text = models.CharField(max_length=280)
    link = models.CharField(max_length=300, blank=True, default="")
    publish_at = models.DateTimeField()
    created_at = models.DateTimeField()
    created_by = models.CharField(max_length=150, blank=True, default="")

    class Meta:
        ordering = ["-publish_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "title_id"],
                condition=Q(title_id__isnull=False),
                name="one_announcement_per_title_kind",
            )
        ]

    def __str__(self) -> str:
        return self.text
