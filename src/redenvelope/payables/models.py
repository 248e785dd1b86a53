"""Money going out and content money coming in.

Purchasing: a PurchaseOrder to a distributor for copies of titles at one DC; each Receipt at the
DC's scan desk creates the copies (with barcodes and a received event). Vendor Bills are matched
three ways (order, receipt, bill) before they can be recorded; approved bills are posted to the
ledger (expense, prepaid or capitalised content against accounts payable) and paid by a
PaymentRun exported as an ISO 20022 pain.001 file. Licensors' revenue-share statements are bills
computed from our own rentals and streams (StatementLine per title), recouping minimum
guarantees first. Productions (originals) have budget lines; their capitalised cost is amortised
from release by a documented schedule. Placement deals bill brands (PlacementInvoice: accounts
receivable) and recognise revenue as deliverables are delivered.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from redenvelope.catalog.models import Title
from redenvelope.inventory.models import DistributionCenter
from redenvelope.rights.models import Contract, Licensor

USER = settings.AUTH_USER_MODEL


class Vendor(models.Model):
    class Kind(models.TextChoices):
        LICENSOR = "licensor", "Licensor"
        DISTRIBUTOR = "distributor", "Disc distributor"
        PRODUCTION = "production", "Production vendor"
        OTHER = "other", "Other"

    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    licensor = models.OneToOneField(
        Licensor, null=True, blank=True, on_delete=models.PROTECT, related_name="vendor"
    )
    email = models.EmailField(blank=True, default="")
    country = models.CharField(max_length=2, default="US")
    # Where a payment goes: an IBAN (and BIC), or a US account and routing number (ABA).
    iban = models.CharField(max_length=34, blank=True, default="")
    bic = models.CharField(max_length=11, blank=True, default="")
    account_number = models.CharField(max_length=34, blank=True, default="")
    routing_number = models.CharField(max_length=9, blank=True, default="")
    terms_days = models.PositiveSmallIntegerField(default=30)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def can_be_paid(self) -> bool:
        return bool(self.iban) or bool(self.account_number and self.routing_number)


class PurchaseOrder(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SENT = "sent", "Sent to the vendor"
        PARTIAL = "partial", "Partly received"
        RECEIVED = "received", "Received"
        CANCELLED = "cancelled", "Cancelled"

    number = models.CharField(max_length=20, unique=True)
    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="orders")
    dc = models.ForeignKey(DistributionCenter, on_delete=models.PROTECT, related_name="orders")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    expected_on = models.DateField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.number


class PurchaseLine(models.Model):
    order = models.ForeignKey(PurchaseOrder, on_delete=models.PROTECT, related_name="lines")
    title = models.ForeignKey(Title, on_delete=models.PROTECT, related_name="+")
    format = models.CharField(max_length=6, default="dvd")
    quantity = models.PositiveIntegerField()
    unit_cents = models.PositiveIntegerField()
    received = models.PositiveIntegerField(default=0)
    billed = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order_id", "id"]
        constraints = [
            models.CheckConstraint(name="po_line_quantity_positive", condition=Q(quantity__gt=0)),
            models.CheckConstraint(
                name="po_line_received_within_ordered", condition=Q(received__lte=F("quantity"))
            ),
            models.CheckConstraint(
                name="po_line_billed_within_received", condition=Q(billed__lte=F("received"))
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.quantity} × {self.title_id}"


class Receipt(models.Model):
    """Copies of one order line received at the DC's desk (each copy has its received event,
    whose ref names this receipt)."""

    line = models.ForeignKey(PurchaseLine, on_delete=models.PROTECT, related_name="receipts")
    quantity = models.PositiveIntegerField()
    barcodes = models.TextField(help_text="The copies created, one barcode per line.")
    at = models.DateTimeField()
    by = models.ForeignKey(USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # A retry of the same scan-desk submission returns this receipt instead of receiving twice.
    idempotency_key = models.CharField(max_length=80, unique=True, null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.quantity} of line {self.line_id}"


class Production(models.Model):
    """An original: a budget by line, costs booked against the lines (capitalised), amortised
    from release over `amortise_months` by the schedule (see amortisation.py)."""

    class Status(models.TextChoices):
        DEVELOPMENT = "development", "In development"
        PRODUCTION = "production", "In production"
        RELEASED = "released", "Released"

    class Schedule(models.TextChoices):
        ACCELERATED = "accelerated", "Accelerated (sum of the months' digits)"
        STRAIGHT = "straight", "Straight line"

    name = models.CharField(max_length=200, unique=True)
    title = models.ForeignKey(
        Title, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DEVELOPMENT)
    released_on = models.DateField(null=True, blank=True)
    amortise_months = models.PositiveSmallIntegerField(default=48)
    schedule = models.CharField(
        max_length=12, choices=Schedule.choices, default=Schedule.ACCELERATED
    )
    amortised_cents = models.BigIntegerField(default=0)
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.name


class BudgetLine(models.Model):
    production = models.ForeignKey(Production, on_delete=models.PROTECT, related_name="budget")
    name = models.CharField(max_length=80)
    budget_cents = models.PositiveBigIntegerField()

    class Meta:
        ordering = ["production_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["production", "name"], name="one_budget_line_per_name")
        ]

    def __str__(self) -> str:
        return f"{self.production_id}/{self.name}"


class PaymentRun(models.Model):
    """Approved bills paid together: one ISO 20022 pain.001 file for the bank."""

    number = models.CharField(max_length=20, unique=True)
    pay_on = models.DateField()
    bills_count = models.PositiveIntegerField()
    total_cents = models.BigIntegerField()
    message_id = models.CharField(max_length=35, unique=True)
    file = models.TextField()
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.number


class Bill(models.Model):
    class Kind(models.TextChoices):
        GOODS = "goods", "Discs (matched to an order)"
        LICENSE_FEE = "license_fee", "License fee"
        ADVANCE = "advance", "Minimum guarantee (advance)"
        REVENUE_SHARE = "revenue_share", "Revenue-share statement"
        PRODUCTION = "production", "Production costs"
        OTHER = "other", "Other"

    class Status(models.TextChoices):
        RECORDED = "recorded", "Recorded, awaiting approval"
        APPROVED = "approved", "Approved"
        PAID = "paid", "Paid"
        VOID = "void", "Void"

    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="bills")
    number = models.CharField(max_length=40)
    kind = models.CharField(max_length=14, choices=Kind.choices)
    status = models.CharField(max_length=9, choices=Status.choices, default=Status.RECORDED)
    order = models.ForeignKey(
        PurchaseOrder, null=True, blank=True, on_delete=models.PROTECT, related_name="bills"
    )
    contract = models.ForeignKey(
        Contract, null=True, blank=True, on_delete=models.PROTECT, related_name="bills"
    )
    production = models.ForeignKey(
        Production, null=True, blank=True, on_delete=models.PROTECT, related_name="bills"
    )
    # A revenue-share statement's month (its first day); one statement per contract and month.
    period = models.DateField(null=True, blank=True)
    issued_on = models.DateField()
    due_on = models.DateField()
    total_cents = models.BigIntegerField()
    memo = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    payment_run = models.ForeignKey(
        PaymentRun, null=True, blank=True, on_delete=models.PROTECT, related_name="bills"
    )
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_on", "id"]
        constraints = [
            models.UniqueConstraint(fields=["vendor", "number"], name="one_bill_number_per_vendor"),
            models.UniqueConstraint(
                fields=["contract", "period"],
                condition=Q(kind="revenue_share"),
                name="one_statement_per_contract_month",
            ),
            models.CheckConstraint(name="bill_not_negative", condition=Q(total_cents__gte=0)),
        ]
        indexes = [models.Index(fields=["status", "due_on"])]

    def __str__(self) -> str:
        return f"{self.vendor} {self.number}"


class BillLine(models.Model):
    bill = models.ForeignKey(Bill, on_delete=models.PROTECT, related_name="lines")
    description = models.CharField(max_length=200)
    account = models.CharField(max_length=10, help_text="The ledger account debited.")
    amount_cents = models.BigIntegerField()
    quantity = models.PositiveIntegerField(default=1)
    order_line = models.ForeignKey(
        PurchaseLine, null=True, blank=True, on_delete=models.PROTECT, related_name="bill_lines"
    )
    budget_line = models.ForeignKey(
        BudgetLine, null=True, blank=True, on_delete=models.PROTECT, related_name="costs"
    )
    title = models.ForeignKey(
        Title, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["bill_id", "id"]

    def __str__(self) -> str:
        return f"{self.bill_id}: {self.description}"


class StatementLine(models.Model):
    """What one title earned a licensor in a statement's month, from our own records."""

    bill = models.ForeignKey(Bill, on_delete=models.CASCADE, related_name="statement_lines")
    title = models.ForeignKey(
        Title, on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    rentals = models.PositiveIntegerField()
    streams = models.PositiveIntegerField()
    earned_cents = models.BigIntegerField()

    class Meta:
        ordering = ["bill_id", "title_id"]

    def __str__(self) -> str:
        return f"{self.bill_id}/{self.title_id}"


class Recoupment(models.Model):
    """A contract's minimum guarantee: paid (an advance bill), recouped from its statements, and
    the rest expensed when the term ends (the true-up)."""

    contract = models.OneToOneField(Contract, on_delete=models.PROTECT, related_name="recoupment")
    advanced_cents = models.BigIntegerField(default=0)
    recouped_cents = models.BigIntegerField(default=0)
    trued_up_cents = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="recouped_within_advance",
                condition=Q(recouped_cents__lte=F("advanced_cents") - F("trued_up_cents")),
            )
        ]

    def __str__(self) -> str:
        return f"{self.contract_id}: {self.recouped_cents}/{self.advanced_cents}"


class PlacementDeal(models.Model):
    """A brand pays to place a product in an original."""

    brand = models.CharField(max_length=120)
    brand_email = models.EmailField(blank=True, default="")
    production = models.ForeignKey(Production, on_delete=models.PROTECT, related_name="placements")
    scene = models.CharField(max_length=200, help_text="Scene or episode")
    fee_cents = models.PositiveBigIntegerField()
    recognised_cents = models.BigIntegerField(default=0)
    invoiced_cents = models.BigIntegerField(default=0)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                name="placement_invoiced_within_fee",
                condition=Q(invoiced_cents__lte=F("fee_cents")),
            ),
            models.CheckConstraint(
                name="placement_recognised_within_fee",
                condition=Q(recognised_cents__lte=F("fee_cents")),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.brand} in {self.production}"


class Deliverable(models.Model):
    """What the deal promises (a shot, a mention, a credit); its share of the fee is recognised
    as revenue when it is delivered."""

    deal = models.ForeignKey(PlacementDeal, on_delete=models.PROTECT, related_name="deliverables")
    description = models.CharField(max_length=200)
    amount_cents = models.PositiveBigIntegerField()
    due_on = models.DateField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    delivered_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["deal_id", "id"]

    def __str__(self) -> str:
        return self.description


class PlacementInstalment(models.Model):
    """The deal's payment schedule: what the brand pays when; each is invoiced on its day
    (the daily job, or by hand)."""

    deal = models.ForeignKey(PlacementDeal, on_delete=models.PROTECT, related_name="instalments")
    due_on = models.DateField()
    amount_cents = models.PositiveBigIntegerField()
    invoice = models.OneToOneField(
        "PlacementInvoice", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["deal_id", "due_on", "id"]

    def __str__(self) -> str:
        return f"{self.deal_id}: {self.amount_cents} on {self.due_on}"


class PlacementInvoice(models.Model):
    """A bill to a brand (accounts receivable, beside members' statements)."""

    number = models.CharField(max_length=20, unique=True)
    deal = models.ForeignKey(PlacementDeal, on_delete=models.PROTECT, related_name="invoices")
    amount_cents = models.PositiveBigIntegerField()
    issued_on = models.DateField()
    due_on = models.DateField()
    paid_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-issued_on", "-id"]

    def __str__(self) -> str:
        return self.number
