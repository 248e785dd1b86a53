"""The general ledger: the chart of accounts and the append-only journal. Every domain that moves
money posts here (through `actions.py`); amounts are integer cents in the database."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from .fields import MoneyField


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
        COMMISSION = "commission", "Affiliate commission"
        PAYOUT = "payout", "Affiliate payout"
        VENDOR_BILL = "vendor_bill", "Vendor bill"
        AP_PAYMENT = "ap_payment", "Vendor payment"
        ROYALTY = "royalty", "Revenue share"
        AMORTISATION = "amortisation", "Content amortisation"
        PLACEMENT = "placement", "Product placement"
        PAYROLL = "payroll", "Payroll"

    kind = models.CharField(max_length=12, choices=Kind.choices)
    effective_date = models.DateField()
    posted_at = models.DateTimeField()
    memo = models.CharField(max_length=300)
    member_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    # Money rows carry no database-level foreign keys (decision 0010): `check` proves them.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    # A retry with the same key returns the entry already posted instead of posting twice.
    idempotency_key = models.CharField(max_length=100, null=True, blank=True)

    class Meta:
        ordering = ["-effective_date", "-id"]
        verbose_name_plural = "journal entries"
        indexes = [
            models.Index(fields=["actor"], condition=Q(actor__isnull=False), name="entry_by_actor")
        ]
        constraints = [
            models.UniqueConstraint(fields=["idempotency_key"], name="entry_idempotency_key")
        ]

    def __str__(self) -> str:
        return f"{self.effective_date} {self.kind}: {self.memo}"


class JournalLine(models.Model):
    entry = models.ForeignKey(
        JournalEntry, on_delete=models.PROTECT, related_name="lines", db_constraint=False
    )
    # Served by the (account, entry) index.
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="lines", db_constraint=False, db_index=False
    )
    member_id = models.BigIntegerField(null=True, blank=True)
    debit = MoneyField(default=0)
    credit = MoneyField(default=0)
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
