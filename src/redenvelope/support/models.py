"""Customer service: cases across every channel, what agents gave, approvals, abuse flags, calls.

Every row a member owns carries `member_id` (the future shard key). Rows are written only by
`support.actions`; the admin shows them read-only.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from redenvelope.ledger.fields import MoneyField


class Channel(models.TextChoices):
    PHONE = "phone", "Phone"
    EMAIL = "email", "Email"
    CHAT = "chat", "Chat"
    WEB = "web", "Web form"


class Reason(models.TextChoices):
    NOT_RECEIVED = "not_received", "Disc not received"
    DAMAGED = "damaged", "Disc damaged"
    WRONG_DISC = "wrong_disc", "Wrong disc in the envelope"
    OWN_DISC = "own_disc", "Member's own disc sent back"
    BILLING = "billing", "Billing"
    ACCOUNT = "account", "Account"
    STREAMING = "streaming", "Streaming"
    OTHER = "other", "Other"


class Case(models.Model):
    """One member problem, across every channel it came in by."""

    class Status(models.TextChoices):
        NEW = "new", "New"
        OPEN = "open", "Open"
        WAITING = "waiting", "Waiting on member"
        RESOLVED = "resolved", "Resolved"
        CLOSED = "closed", "Closed"

    member = models.ForeignKey(
        "membership.Member", null=True, blank=True, on_delete=models.PROTECT, related_name="cases"
    )
    # Who wrote in when no member has that address (a case for an unknown sender).
    contact = models.CharField(max_length=254, blank=True, default="")
    subject = models.CharField(max_length=200)
    reason = models.CharField(max_length=14, choices=Reason.choices, default=Reason.OTHER)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.NEW)
    channel = models.CharField(max_length=5, choices=Channel.choices)  # the first
    channels = models.CharField(max_length=40, default="")  # every one, comma-separated
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    opened_at = models.DateTimeField()
    first_response_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField()
    # A sender flooding the address: their further mail is held on this case.
    held = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-opened_at", "-id"]
        indexes = [
            models.Index(fields=["member", "-opened_at"]),
            models.Index(fields=["status", "opened_at"]),
            models.Index(fields=["contact"], condition=~Q(contact=""), name="case_contact"),
        ]

    def __str__(self) -> str:
        return f"Case {self.pk}: {self.subject}"

    @property
    def is_open(self) -> bool:
        return self.status not in (self.Status.RESOLVED, self.Status.CLOSED)


class Interaction(models.Model):
    """One thing said on a case, in order: a call, an email in or out, a chat message, a form,
    an internal note (staff only), or a line the system wrote (an action taken)."""

    class Kind(models.TextChoices):
        CALL = "call", "Call"
        EMAIL_IN = "email_in", "Email from member"
        EMAIL_OUT = "email_out", "Email to member"
        CHAT = "chat", "Chat message"
        FORM = "form", "Web form"
        NOTE = "note", "Internal note"
        SYSTEM = "system", "Action taken"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="interactions")
    member_id = models.BigIntegerField(null=True, blank=True)
    kind = models.CharField(max_length=9, choices=Kind.choices)
    at = models.DateTimeField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    from_member = models.BooleanField(default=False)
    body = models.TextField(blank=True, default="")
    # Email: the other side's address (the sender of mail in, the recipient of mail out), and
    # this message's Message-ID for threading (unique: the same email twice is one row).
    address = models.CharField(max_length=254, blank=True, default="")
    message_id = models.CharField(max_length=250, null=True, blank=True)
    # Calls: the number, how long (recorded for reports, never a target).
    phone = models.CharField(max_length=20, blank=True, default="")
    duration_s = models.PositiveIntegerField(null=True, blank=True)
    call = models.ForeignKey(
        "Call", null=True, blank=True, on_delete=models.PROTECT, related_name="interactions"
    )
    held = models.BooleanField(default=False)  # mail held while its sender floods

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["message_id"], name="interaction_message_id"),
        ]
        indexes = [
            models.Index(fields=["case", "at"]),
            # a sender's mail in the last minute (the flood check)
            models.Index(fields=["address", "at"], name="mail_by_sender"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on case {self.case_id}"


class Attachment(models.Model):
    """A file that came with an email (kept in the database; object storage is for streaming)."""

    interaction = models.ForeignKey(
        Interaction, on_delete=models.CASCADE, related_name="attachments"
    )
    filename = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    data = models.BinaryField()

    def __str__(self) -> str:
        return self.filename


class GiftKind(models.TextChoices):
    CREDIT = "credit", "Account credit"
    PERCENT = "percent", "Percent off next statement"
    BONUS_RENTALS = "bonus_rentals", "Bonus rentals"
    WAIVE_FEE = "waive_fee", "Fee waived"
    MARK_LOST = "mark_lost", "Disc marked lost without charge"
    REPLACE = "replace", "Replacement with priority"
    RESTORE_QUEUE = "restore_queue", "Queue restored"


class Gift(models.Model):
    """What is (or would be) given: shared by an action taken and a request waiting."""

    kind = models.CharField(max_length=14, choices=GiftKind.choices)
    # What it is worth to the member, for the limits and the reports.
    value = MoneyField(default=0)
    amount = MoneyField(null=True, blank=True)
    percent = models.PositiveSmallIntegerField(null=True, blank=True)
    rentals = models.PositiveSmallIntegerField(null=True, blank=True)
    target = models.CharField(max_length=40, blank=True, default="")  # fee:ID, shipment:ID
    reason = models.CharField(max_length=300)

    class Meta:
        abstract = True


class Action(Gift):
    """Something an agent did for the member on a case (given, waived, replaced, restored), with
    who, why and what it was worth: the audit trail of generosity."""

    Kind = GiftKind

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="actions")
    member = models.ForeignKey(
        "membership.Member", on_delete=models.PROTECT, related_name="support_actions"
    )
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField()
    credit = models.ForeignKey(
        "billing.Credit", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    idempotency_key = models.CharField(max_length=100, null=True, blank=True, unique=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["member", "at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on case {self.case_id}"


class Approval(Gift):
    """An action over the asker's limits, waiting for a lead."""

    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="approvals")
    member = models.ForeignKey(
        "membership.Member", on_delete=models.PROTECT, related_name="support_approvals"
    )
    why_waiting = models.CharField(max_length=300)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.WAITING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=300, blank=True, default="")
    action = models.OneToOneField(
        Action, null=True, blank=True, on_delete=models.PROTECT, related_name="approval"
    )
    idempotency_key = models.CharField(max_length=100, null=True, blank=True, unique=True)

    class Meta:
        ordering = ["requested_at", "id"]
        indexes = [
            models.Index(
                fields=["requested_at"], condition=Q(status="waiting"), name="approval_waiting"
            )
        ]

    def __str__(self) -> str:
        return f"Approval {self.pk} ({self.status})"


class Flag(models.Model):
    """A rule's finding about a member, with its evidence, for a person to look at. A flag
    changes nothing by itself but one thing: a flagged member's self-service lost reports go to
    an agent instead of resolving on the spot."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLEARED = "cleared", "Cleared"

    member = models.ForeignKey(
        "membership.Member", on_delete=models.PROTECT, related_name="support_flags"
    )
    rule = models.CharField(max_length=40)
    evidence = models.JSONField(default=dict)
    raised_at = models.DateTimeField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    cleared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cleared_at = models.DateTimeField(null=True, blank=True)
    clear_reason = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        ordering = ["-raised_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["member", "rule"], condition=Q(status="open"), name="one_open_flag_a_rule"
            )
        ]

    def __str__(self) -> str:
        return f"{self.rule} on member {self.member_id}"


class Call(models.Model):
    """A phone call as the telephony system reports it (new call, answered, hung up): the
    ringing call opens the caller's record in the console; the agent logs it on a case."""

    call_id = models.CharField(max_length=100, unique=True)
    number = models.CharField(max_length=20)  # the caller's, digits only
    direction = models.CharField(max_length=3, default="in")
    member = models.ForeignKey(
        "membership.Member", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    started_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    case = models.ForeignKey(
        Case, null=True, blank=True, on_delete=models.PROTECT, related_name="calls"
    )

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"Call {self.call_id} from {self.number}"

    @property
    def duration_s(self) -> int | None:
        if self.answered_at and self.ended_at:
            return max(0, int((self.ended_at - self.answered_at).total_seconds()))
        return None


class Article(models.Model):
    """A help-center article staff write and edit (Markdown); members and visitors read it."""

    slug = models.SlugField(max_length=80, unique=True)
    title = models.CharField(max_length=200)
    body = models.TextField(help_text="Markdown; raw HTML is shown as text.")
    published = models.BooleanField(default=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class ArticleVote(models.Model):
    """'Did this help?': one answer per reader (member or visitor's session) and article."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="votes")
    reader = models.CharField(max_length=64)  # member:ID or session:KEY
    helpful = models.BooleanField()
    at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["article", "reader"], name="one_vote_a_reader")
        ]

    def __str__(self) -> str:
        return f"{self.reader}: {'helped' if self.helpful else 'did not help'}"


class Survey(models.Model):
    """The one question asked after a case is resolved: how did we do (1-5), and a comment."""

    case = models.OneToOneField(Case, on_delete=models.CASCADE, related_name="survey")
    member = models.ForeignKey(
        "membership.Member", on_delete=models.CASCADE, related_name="support_surveys"
    )
    channel = models.CharField(max_length=5, choices=Channel.choices)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    asked_at = models.DateTimeField()
    score = models.PositiveSmallIntegerField(null=True, blank=True)
    comment = models.TextField(blank=True, default="")
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="survey_score_1_to_5",
                condition=Q(score__isnull=True) | Q(score__gte=1, score__lte=5),
            )
        ]

    def __str__(self) -> str:
        return f"Survey of case {self.case_id}: {self.score or 'unanswered'}"


class OwnDisc(models.Model):
    """A member's own disc mailed back to us by mistake, on its case: what the member says it
    is, what they chose (mail it back, or a credit for its value and we keep it), and the disc
    at a return desk once matched (fulfillment's `ReturnScan` of a member's own disc)."""

    class Choice(models.TextChoices):
        MAIL_BACK = "mail_back", "Mail it back to me"
        CREDIT = "credit", "A credit for its value (keep it)"

    case = models.OneToOneField(Case, on_delete=models.PROTECT, related_name="own_disc")
    member = models.ForeignKey(
        "membership.Member", on_delete=models.PROTECT, related_name="own_discs"
    )
    description = models.CharField(max_length=200)
    choice = models.CharField(max_length=9, choices=Choice.choices)
    scan = models.OneToOneField(
        "fulfillment.ReturnScan",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="own_disc",
    )
    reported_at = models.DateTimeField()
    matched_at = models.DateTimeField(null=True, blank=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-reported_at", "-id"]
        indexes = [
            models.Index(
                fields=["member"], condition=Q(scan__isnull=True), name="own_disc_unmatched"
            )
        ]

    def __str__(self) -> str:
        return f"{self.description} ({self.member_id})"
