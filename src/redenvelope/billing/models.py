from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Account(models.Model):
    """One account of the chart. Normal balance: debit for assets and expenses (and
    contra-revenue), credit for liabilities, equity and revenue."""

    class Kind(models.TextChoices):
        ASSET = "asset", "Asset"
        LIABILITY = "liability", "Liability"
        EQUITY = "equity", "Equity"
        REVENUE = "revenue", "Revenue"
        CONTRA_REVENUE = "contra_revenue", "Contra-revenue"
        EXPENSE = "expense", "Expense"

    code = models.CharField(max_length=10, unique=True)
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=Kind.choices)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def debit_normal(self) -> bool:
        return self.kind in (self.Kind.ASSET, self.Kind.EXPENSE, self.Kind.CONTRA_REVENUE)


class JournalEntry(models.Model):
    """One money event, posted as balanced lines. Append-only: corrected by a reversing entry."""

    class Kind(models.TextChoices):
        STATEMENT = "statement", "Statement"
        PAYMENT = "payment", "Payment"
        REFUND = "refund", "Refund"
        CHARGEBACK = "chargeback", "Chargeback"
        CREDIT = "credit", "Credit"
        FEE = "fee", "Fee"
        WRITE_OFF = "write_off", "Write-off"
        RECOGNITION = "recognition", "Revenue recognition"
        ADJUSTMENT = "adjustment", "Adjustment"

    kind = models.CharField(max_length=12, choices=Kind.choices)
    effective_date = models.DateField()
    posted_at = models.DateTimeField()
    memo = models.CharField(max_length=300)
    member_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # A retry with the same key returns the entry already posted instead of posting twice.
    idempotency_key = models.CharField(max_length=100, null=True, blank=True, unique=True)

    class Meta:
        ordering = ["-effective_date", "-id"]
        verbose_name_plural = "journal entries"

    def __str__(self) -> str:
        return f"{self.effective_date} {self.kind}: {self.memo}"


class JournalLine(models.Model):
    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="lines")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="lines")
    member_id = models.BigIntegerField(null=True, blank=True)
    debit = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    credit = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    currency = models.CharField(max_length=3, default="USD")

    class Meta:
        indexes = [models.Index(fields=["account", "entry"]), models.Index(fields=["member_id"])]
        constraints = [
            models.CheckConstraint(
                name="line_one_sided_positive",
                condition=(Q(debit__gt=0, credit=0) | Q(credit__gt=0, debit=0)),
            )
        ]

    def __str__(self) -> str:
        side = f"Dr {self.debit}" if self.debit else f"Cr {self.credit}"
        return f"{self.account.code} {side}"


class Credit(models.Model):
    """Something given to a member, with who gave it, when and why (the audit trail)."""

    class Kind(models.TextChoices):
        ACCOUNT = "account", "Account credit"

    member = models.ForeignKey(
        "membership.Member", on_delete=models.PROTECT, related_name="credits"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.ACCOUNT)
    amount = models.DecimalField(max_digits=10, decimal_places=2)
    remaining = models.DecimalField(max_digits=10, decimal_places=2)
    reason = models.CharField(max_length=300)
    issuer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    issued_at = models.DateTimeField()
    entry = models.OneToOneField(JournalEntry, on_delete=models.PROTECT, related_name="credit")
    idempotency_key = models.CharField(max_length=100, null=True, blank=True, unique=True)

    class Meta:
        ordering = ["-issued_at"]
        constraints = [
            models.CheckConstraint(name="credit_positive", condition=Q(amount__gt=0)),
            models.CheckConstraint(
                name="credit_remaining_within_amount",
                condition=Q(remaining__gte=0) & Q(remaining__lte=models.F("amount")),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} to {self.member_id}: {self.reason}"


class Statement(models.Model):
    """A member's bill for one period: plan price, tax, account credit applied, total due."""

    class Status(models.TextChoices):
        DUE = "due", "Due"
        PAID = "paid", "Paid"

    member = models.ForeignKey(
        "membership.Member", on_delete=models.PROTECT, related_name="statements"
    )
    period_start = models.DateField()
    period_end = models.DateField()
    plan = models.ForeignKey("membership.Plan", on_delete=models.PROTECT, related_name="+")
    subtotal = models.DecimalField(max_digits=10, decimal_places=2)
    tax = models.DecimalField(max_digits=10, decimal_places=2)
    credit_applied = models.DecimalField(max_digits=10, decimal_places=2)
    total_due = models.DecimalField(max_digits=10, decimal_places=2)
    currency = models.CharField(max_length=3, default="USD")
    status = models.CharField(max_length=6, choices=Status.choices, default=Status.DUE)
    issued_at = models.DateTimeField()
    entry = models.OneToOneField(JournalEntry, on_delete=models.PROTECT, related_name="statement")

    class Meta:
        ordering = ["-period_start"]
        constraints = [
            # Re-running billing never bills a period twice.
            models.UniqueConstraint(
                fields=["member", "period_start"], name="one_statement_per_member_period"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} {self.period_start}: {self.total_due}"
