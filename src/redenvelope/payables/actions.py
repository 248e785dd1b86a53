"""Every change in payables: vendors, purchase orders and their receipts, vendor bills (three-way
matched), approval and payment runs, licensors' revenue-share statements and minimum-guarantee
true-ups, originals (budgets, costs, amortisation) and product placement. Each is atomic, says
who did it, and posts to the ledger under an idempotency key (so a retry posts nothing twice):

  bill:<id>              approving a bill: Dr its lines' accounts (expense, prepaid, capitalised;
                         a recoupment line credits prepaid royalties) / Cr 2500 accounts payable
  pay:<id>               a bill paid in a payment run: Dr 2500 / Cr 1000 cash
  trueup:<contract>      an advance the term ended without recouping: Dr 5100 / Cr 1400
  amortise:<prod>:<YYYY-MM>  a month of an original's amortisation: Dr 5400 / Cr 1500
  placement-invoice:<id> Dr 1150 placement receivables / Cr 2600 deferred placement revenue
  placement-paid:<id>    Dr 1000 / Cr 1150
  placement-delivered:<deliverable id>  Dr 2600 / Cr 4200 placement revenue
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict

import numpy as np
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Max, Sum

from redenvelope.catalog.models import Title
from redenvelope.core import clock, parse
from redenvelope.core.errors import Conflict, DomainError, NotFound
from redenvelope.inventory.actions import receive_copies
from redenvelope.inventory.barcodes import make_barcode, parse_barcode
from redenvelope.inventory.models import Copy, DistributionCenter, Format
from redenvelope.ledger.actions import Line, post_entry
from redenvelope.ledger.money import MAX_CENTS, from_cents, share
from redenvelope.rights.models import Contract, ContractTitle, FeeEvery, Licensor

from . import amortisation, bankfile
from .models import (
    Bill,
    BillLine,
    BudgetLine,
    Deliverable,
    PaymentRun,
    PlacementDeal,
    PlacementInstalment,
    PlacementInvoice,
    Production,
    PurchaseLine,
    PurchaseOrder,
    Receipt,
    Recoupment,
    StatementLine,
    Vendor,
)

AP = "2500"
CASH = "1000"
PREPAID_ROYALTIES = "1400"
ORIGINALS = "1500"
LICENSING = "5100"
DISC_PURCHASES = "5500"
OTHER_COSTS = "5600"
AMORTISATION = "5400"
PLACEMENT_AR = "1150"
PLACEMENT_DEFERRED = "2600"
PLACEMENT_REVENUE = "4200"
# The accounts a bill line may debit (or, for a recoupment, credit).
BILL_ACCOUNTS = {
    DISC_PURCHASES: "Disc purchases",
    LICENSING: "Content licensing",
    PREPAID_ROYALTIES: "Prepaid royalties (minimum guarantees)",
    ORIGINALS: "Original content, capitalised",
    OTHER_COSTS: "Other vendor costs",
}
DEFAULT_ACCOUNT = {
    Bill.Kind.GOODS: DISC_PURCHASES,
    Bill.Kind.LICENSE_FEE: LICENSING,
    Bill.Kind.ADVANCE: PREPAID_ROYALTIES,
    Bill.Kind.REVENUE_SHARE: LICENSING,
    Bill.Kind.PRODUCTION: ORIGINALS,
    Bill.Kind.OTHER: OTHER_COSTS,
}


def _cents(value, name: str, *, positive: bool = False) -> int:
    if isinstance(value, float | bool):
        raise DomainError(f"{name} is a whole number of cents, never a float.")
    try:
        cents = int(value)
    except (TypeError, ValueError):
        raise DomainError(f"{name} must be a whole number of cents, not {value!r}.") from None
    if cents < 0 or (positive and cents == 0):
        raise DomainError(f"{name} must be {'more than' if positive else 'at least'} zero.")
    if cents >= MAX_CENTS:
        raise DomainError(f"{name} is more than we accept.")
    return cents


def _month(value) -> dt.date:
    """'2026-11', '2026-11-01' or a date -> the first day of that month."""
    if isinstance(value, dt.date):
        return value.replace(day=1)
    text = str(value or "").strip()
    try:
        return dt.date.fromisoformat(text + "-01" if len(text) == 7 else text).replace(day=1)
    except ValueError:
        raise DomainError(f"{value!r} is not a month (YYYY-MM).") from None


def _next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def _get(model, pk, what: str):
    if isinstance(pk, model):
        return pk
    try:
        return model.objects.get(pk=int(pk))
    except (model.DoesNotExist, TypeError, ValueError):
        raise NotFound(f"No {what} {pk}.") from None


def _number(model, prefix: str) -> str:
    """The next document number (PO-000042): one higher than the highest so far."""
    if connection.vendor == "postgresql":
        # Two clicks at once would read the same highest number: one numbers at a time, until
        # its transaction ends (SQLite runs one writer at a time already).
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"payables:{prefix}"])
    last = model.objects.filter(number__startswith=prefix).aggregate(m=Max("number"))["m"]
    n = int(last[len(prefix) :]) + 1 if last and last[len(prefix) :].isdigit() else 1
    return f"{prefix}{n:06d}"


# --- vendors ---------------------------------------------------------------------------------


@transaction.atomic
def add_vendor(
    name: str,
    *,
    kind: str,
    email: str = "",
    country: str = "US",
    iban: str = "",
    bic: str = "",
    account_number: str = "",
    routing_number: str = "",
    terms_days: int = 30,
    licensor: Licensor | int | None = None,
) -> Vendor:
    """A company we pay. Bank details are checked (IBAN mod 97, ABA routing checksum) so a
    payment run never carries an account the bank will refuse."""
    name = (name or "").strip()
    if not name:
        raise DomainError("A vendor needs a name.")
    if kind not in Vendor.Kind.values:
        raise DomainError(f"Unknown vendor kind {kind!r} ({', '.join(Vendor.Kind.values)}).")
    if Vendor.objects.filter(name__iexact=name).exists():
        raise Conflict(f"A vendor named {name!r} already exists.", code="duplicate")
    iban = iban.replace(" ", "").upper()
    if iban and not bankfile.iban_ok(iban):
        raise DomainError(f"IBAN {iban} fails its check digits.", code="bad_iban")
    bic = bic.strip().upper()
    if bic and not (len(bic) in (8, 11) and bic.isalnum()):
        raise DomainError(f"BIC {bic} is not 8 or 11 letters and digits.", code="bad_bic")
    routing_number = routing_number.strip()
    if routing_number and not bankfile.aba_ok(routing_number):
        raise DomainError(
            f"Routing number {routing_number} fails its ABA checksum.", code="bad_routing"
        )
    account_number = account_number.strip()
    if account_number and not (account_number.isdigit() and 4 <= len(account_number) <= 17):
        raise DomainError("An account number is 4 to 17 digits.", code="bad_account")
    if bool(account_number) != bool(routing_number):
        raise DomainError("A US account needs both an account and a routing number.")
    if not 0 <= int(terms_days) <= 365:
        raise DomainError("Payment terms are 0 to 365 days.")
    licensor_id = None
    if licensor is not None:
        licensor_id = _get(Licensor, licensor, "licensor").pk
        kind = Vendor.Kind.LICENSOR
    return Vendor.objects.create(
        name=name[:120],
        kind=kind,
        email=email.strip(),
        country=(country or "US").strip().upper()[:2],
        iban=iban,
        bic=bic,
        account_number=account_number,
        routing_number=routing_number,
        terms_days=int(terms_days),
        licensor_id=licensor_id,
        created_at=clock.now(),
    )


@transaction.atomic
def set_bank_account(
    vendor: Vendor | int,
    *,
    iban: str = "",
    bic: str = "",
    account_number: str = "",
    routing_number: str = "",
    actor=None,
) -> Vendor:
    """Where a vendor is paid from now on (an IBAN and BIC, or a US account and routing
    number), checked as when the vendor was added."""
    v = Vendor.objects.select_for_update().get(pk=_get(Vendor, vendor, "vendor").pk)
    iban = iban.replace(" ", "").upper()
    if iban and not bankfile.iban_ok(iban):
        raise DomainError(f"IBAN {iban} fails its check digits.", code="bad_iban")
    if routing_number and not bankfile.aba_ok(routing_number.strip()):
        raise DomainError(f"Routing number {routing_number} fails its ABA checksum.")
    if bool(account_number.strip()) != bool(routing_number.strip()):
        raise DomainError("A US account needs both an account and a routing number.")
    if not (iban or account_number):
        raise DomainError("Give an IBAN or an account and routing number.")
    v.iban, v.bic = iban, bic.strip().upper()
    v.account_number, v.routing_number = account_number.strip(), routing_number.strip()
    v.save(update_fields=["iban", "bic", "account_number", "routing_number"])
    return v


def vendor_for_licensor(licensor: Licensor | int) -> Vendor:
    """The vendor a licensor is paid as (made, without bank details, the first time)."""
    lic = _get(Licensor, licensor, "licensor")
    found = Vendor.objects.filter(licensor=lic).first()
    if found:
        return found
    name = (
        lic.name
        if not Vendor.objects.filter(name__iexact=lic.name).exists()
        else (f"{lic.name} (licensor)")
    )
    return add_vendor(name, kind=Vendor.Kind.LICENSOR, email=lic.email, licensor=lic,
                      country=lic.country)  # fmt: skip


# --- purchasing ------------------------------------------------------------------------------


@transaction.atomic
def create_order(
    vendor: Vendor | int,
    dc: DistributionCenter | int,
    lines: list[tuple],
    *,
    actor=None,
    expected_on=None,
    note: str = "",
) -> PurchaseOrder:
    """A draft purchase order: lines of (title, quantity, unit cents[, format])."""
    v = _get(Vendor, vendor, "vendor")
    center = _get(DistributionCenter, dc, "distribution center")
    if not lines:
        raise DomainError("An order needs at least one line.")
    titles = {t.pk: t for t in Title.objects.filter(pk__in=[_title_id(ln[0]) for ln in lines])}
    checked = []
    for i, ln in enumerate(lines, start=1):
        title_id = _title_id(ln[0])
        title = titles.get(title_id)
        if title is None:
            raise NotFound(f"Line {i}: no title {title_id}.", code="unknown_title")
        qty = _cents(ln[1], f"Line {i}'s quantity", positive=True)
        if qty > 100_000:
            raise DomainError(f"Line {i}: {qty} copies is more than one order takes.")
        unit = _cents(ln[2], f"Line {i}'s unit price")
        fmt = ln[3] if len(ln) > 3 else Format.DVD
        if fmt not in Format.values:
            raise DomainError(f"Line {i}: unknown format {fmt!r}.")
        if (fmt == Format.DVD and not title.on_dvd) or (
            fmt == Format.BLURAY and not title.on_bluray
        ):
            raise DomainError(f"Line {i}: {title} is not released on {Format(fmt).label}.")
        checked.append((title_id, qty, unit, fmt))
    order = PurchaseOrder.objects.create(
        number=_number(PurchaseOrder, "PO-"),
        vendor=v,
        dc=center,
        expected_on=parse.day(expected_on, "Expected on") if expected_on else None,
        note=note[:300],
        created_at=clock.now(),
        created_by=actor,
    )
    PurchaseLine.objects.bulk_create(
        [
            PurchaseLine(order=order, title_id=t, quantity=q, unit_cents=u, format=f)
            for t, q, u, f in checked
        ]
    )
    return order


def _title_id(value) -> int:
    if isinstance(value, Title):
        return value.pk
    try:
        return int(value)
    except (TypeError, ValueError):
        raise NotFound(f"No title {value!r}.", code="unknown_title") from None


def _locked_order(order) -> PurchaseOrder:
    pk = order.pk if isinstance(order, PurchaseOrder) else order
    row = PurchaseOrder.objects.select_for_update().filter(pk=pk).first()
    if row is None:
        raise NotFound(f"No purchase order {pk}.")
    return row


@transaction.atomic
def send_order(order, *, actor=None) -> PurchaseOrder:
    po = _locked_order(order)
    if po.status == PurchaseOrder.Status.SENT:
        return po  # a second click
    if po.status != PurchaseOrder.Status.DRAFT:
        raise Conflict(f"{po.number} is {po.get_status_display().lower()}; only a draft is sent.")
    po.status = PurchaseOrder.Status.SENT
    po.sent_at = clock.now()
    po.save(update_fields=["status", "sent_at"])
    return po


@transaction.atomic
def cancel_order(order, *, actor=None, reason: str = "") -> PurchaseOrder:
    po = _locked_order(order)
    if po.lines.filter(received__gt=0).exists():
        raise Conflict(f"{po.number} has received copies; it cannot be cancelled.")
    if po.status == PurchaseOrder.Status.CANCELLED:
        return po
    po.status = PurchaseOrder.Status.CANCELLED
    po.note = (f"{po.note} · " if po.note else "") + f"cancelled by {actor or 'system'}: {reason}"
    po.note = po.note[:300]
    po.save(update_fields=["status", "note"])
    return po


def _next_serials(n: int) -> list[str]:
    top = Copy.objects.filter(barcode__startswith="RE").aggregate(m=Max("barcode"))["m"]
    start = int(top[2:11]) + 1 if top else 1
    return [make_barcode(s) for s in range(start, start + n)]


@transaction.atomic
def receive(
    line: PurchaseLine | int,
    *,
    quantity: int | None = None,
    barcodes: list[str] | None = None,
    actor=None,
    idempotency_key: str | None = None,
    on: dt.date | None = None,
) -> Receipt:
    """Copies of one order line arrive at the order's DC: each is created on the shelf with a
    received event (ref: this receipt). Scanned barcodes are used as they are; without them,
    new serials are printed. Never more than was ordered; a repeated idempotency key (a retried
    submission) returns the first receipt."""
    pk = line.pk if isinstance(line, PurchaseLine) else line
    row = PurchaseLine.objects.select_for_update().select_related("order", "title").filter(pk=pk)
    row = row.first()
    if row is None:
        raise NotFound(f"No purchase order line {pk}.")
    if idempotency_key:  # read under the line's lock: a concurrent retry waits, then finds it
        done = Receipt.objects.filter(idempotency_key=idempotency_key).first()
        if done:
            return done
    po = _locked_order(row.order_id)
    if po.status not in (PurchaseOrder.Status.SENT, PurchaseOrder.Status.PARTIAL):
        raise Conflict(
            f"{po.number} is {po.get_status_display().lower()}: only a sent order is received."
        )
    codes = [parse_barcode(b) for b in (barcodes or []) if str(b).strip()]
    if len(set(codes)) != len(codes):
        raise DomainError("The same barcode was scanned twice.", code="duplicate_barcode")
    n = len(codes) if codes else _cents(quantity, "Quantity", positive=True)
    if codes and quantity is not None and int(quantity) != len(codes):
        raise DomainError(f"{len(codes)} barcodes scanned for a quantity of {quantity}.")
    left = row.quantity - row.received
    if n > left:
        raise Conflict(
            f"{po.number} line for {row.title}: {n} received but only {left} still expected "
            f"(ordered {row.quantity}, received {row.received}).",
            code="over_receipt",
        )
    codes = codes or _next_serials(n)
    receipt = Receipt.objects.create(
        line=row,
        quantity=n,
        barcodes="\n".join(codes),
        at=clock.now(),
        by=actor,
        idempotency_key=idempotency_key or None,
    )
    receive_copies(
        title_id=row.title_id, dc=po.dc, barcodes=codes, format=row.format, actor=actor, on=on,
        ref=f"receipt:{receipt.pk}",
    )  # fmt: skip
    row.received = F("received") + n
    row.save(update_fields=["received"])
    row.refresh_from_db(fields=["received"])
    complete = not po.lines.filter(received__lt=F("quantity")).exists()
    po.status = PurchaseOrder.Status.RECEIVED if complete else PurchaseOrder.Status.PARTIAL
    po.save(update_fields=["status"])
    return receipt


# --- bills -----------------------------------------------------------------------------------


@transaction.atomic
def record_bill(
    vendor: Vendor | int,
    *,
    number: str,
    kind: str,
    lines: list[dict],
    issued_on=None,
    due_on=None,
    order: PurchaseOrder | int | None = None,
    contract: Contract | int | None = None,
    production: Production | int | None = None,
    memo: str = "",
    actor=None,
) -> Bill:
    """Record a vendor's bill. Lines are {description, amount_cents[, account, quantity,
    order_line, budget_line, title]}. A bill for discs is matched three ways before it is
    taken: each line names a line of the bill's order, bills no more copies than were received
    and not yet billed, at the ordered unit price."""
    v = _get(Vendor, vendor, "vendor")
    number = (number or "").strip()
    if not number:
        raise DomainError("A bill needs the vendor's invoice number.")
    if kind not in Bill.Kind.values:
        raise DomainError(f"Unknown bill kind {kind!r}.")
    if kind == Bill.Kind.REVENUE_SHARE:
        raise DomainError("Revenue-share statements are computed (payables statements), not typed.")
    if Bill.objects.filter(vendor=v, number=number).exists():
        raise Conflict(f"{v} bill {number} is already recorded.", code="duplicate")
    if not lines:
        raise DomainError("A bill needs at least one line.")
    issued = parse.day(issued_on, "Issued on") if issued_on else clock.today()
    due = parse.day(due_on, "Due on") if due_on else issued + dt.timedelta(days=v.terms_days)
    if due < issued:
        raise DomainError(f"The bill is due ({due}) before it is issued ({issued}).")
    po = _locked_order(order) if order is not None else None
    deal = _get(Contract, contract, "contract") if contract is not None else None
    prod = _get(Production, production, "production") if production is not None else None
    if kind == Bill.Kind.GOODS and po is None:
        raise DomainError("A bill for discs names the purchase order it bills.", code="no_order")
    if po is not None and po.vendor_id != v.pk:
        raise DomainError(f"{po.number} was ordered from {po.vendor}, not {v}.")
    if kind in (Bill.Kind.LICENSE_FEE, Bill.Kind.ADVANCE) and deal is None:
        raise DomainError("A license fee or advance names its contract.")
    if deal is not None and v.licensor_id and deal.licensor_id != v.licensor_id:
        raise DomainError(f"Contract {deal.reference} is not with {v}.")
    if kind == Bill.Kind.PRODUCTION and prod is None:
        raise DomainError("A production bill names its production.")
    made, total, pending = [], 0, defaultdict(int)
    for i, ln in enumerate(lines, start=1):
        made.append(_bill_line(i, ln, kind, po, prod, pending))
        total += made[-1].amount_cents
    if total <= 0:
        raise DomainError("A bill's total must be more than zero.")
    bill = Bill.objects.create(
        vendor=v, number=number[:40], kind=kind, order=po, contract=deal, production=prod,
        issued_on=issued, due_on=due, total_cents=total, memo=memo[:300],
        created_at=clock.now(), created_by=actor,
    )  # fmt: skip
    for m in made:
        m.bill = bill
    BillLine.objects.bulk_create(made)
    for m in made:
        if m.order_line_id:
            PurchaseLine.objects.filter(pk=m.order_line_id).update(billed=F("billed") + m.quantity)
    return bill


def _bill_line(i: int, ln: dict, kind: str, po, prod, pending: dict) -> BillLine:
    """One line of a bill, matched; `pending` counts copies already billed by earlier lines of
    the same bill, per order line."""
    amount = _cents(ln.get("amount_cents"), f"Line {i}'s amount", positive=True)
    account = str(ln.get("account") or DEFAULT_ACCOUNT[kind])
    if account not in BILL_ACCOUNTS:
        raise DomainError(f"Line {i}: account {account} is not one a bill may charge.")
    qty = _cents(ln.get("quantity", 1), f"Line {i}'s quantity", positive=True)
    description = str(ln.get("description") or "").strip()[:200]
    out = BillLine(description=description or BILL_ACCOUNTS[account], account=account,
                   amount_cents=amount, quantity=qty, title_id=ln.get("title"))  # fmt: skip
    if kind == Bill.Kind.GOODS:
        ol = ln.get("order_line")
        pl = (
            PurchaseLine.objects.select_for_update().select_related("title")
            .filter(pk=ol.pk if isinstance(ol, PurchaseLine) else ol, order=po).first()
            if ol is not None else None
        )  # fmt: skip
        if pl is None:
            raise DomainError(
                f"Line {i} names no line of {po.number}: a bill for discs is matched to the "
                "order line it bills.",
                code="unmatched",
            )
        unbilled = pl.received - pl.billed - pending[pl.pk]
        if pl.received == 0:
            raise Conflict(
                f"Line {i}: {pl.title} on {po.number} — none of the {pl.quantity} ordered has "
                "been received; a bill for goods never received is refused.",
                code="not_received",
            )
        if qty > unbilled:
            raise Conflict(
                f"Line {i}: {qty} of {pl.title} billed on {po.number}, but only {unbilled} "
                f"received and not yet billed (received {pl.received}, billed {pl.billed}).",
                code="not_received",
            )
        if amount != qty * pl.unit_cents:
            raise DomainError(
                f"Line {i}: {qty} × {from_cents(pl.unit_cents)} ordered is "
                f"{from_cents(qty * pl.unit_cents)}, not {from_cents(amount)}.",
                code="price_mismatch",
            )
        pending[pl.pk] += qty
        out.order_line = pl
        out.title_id = pl.title_id
        out.account = DISC_PURCHASES
    if kind == Bill.Kind.PRODUCTION:
        bl = ln.get("budget_line")
        budget = (
            BudgetLine.objects.filter(production=prod)
            .filter(**({"pk": bl.pk} if isinstance(bl, BudgetLine) else
                       {"pk": int(bl)} if str(bl).isdigit() else {"name": str(bl)}))
            .first() if bl is not None else None
        )  # fmt: skip
        if budget is None:
            raise DomainError(f"Line {i} names no budget line of {prod}.", code="no_budget_line")
        out.budget_line = budget
        out.account = ORIGINALS if prod.status != Production.Status.RELEASED else account
    return out


@transaction.atomic
def approve_bill(bill: Bill | int, *, actor=None) -> Bill:
    """Approve a recorded bill: it is posted to the ledger (its lines' accounts against accounts
    payable) and can be paid. Approving twice changes nothing."""
    b = Bill.objects.select_for_update().filter(pk=_get(Bill, bill, "bill").pk).first()
    if b.status in (Bill.Status.APPROVED, Bill.Status.PAID):
        return b
    if b.status != Bill.Status.RECORDED:
        raise Conflict(f"{b.vendor} bill {b.number} is {b.get_status_display().lower()}.")
    _post_bill(b, actor)
    if b.kind == Bill.Kind.ADVANCE:
        rec, _ = Recoupment.objects.select_for_update().get_or_create(contract_id=b.contract_id)
        rec.advanced_cents = F("advanced_cents") + b.total_cents
        rec.save(update_fields=["advanced_cents"])
    b.status = Bill.Status.APPROVED
    b.approved_at = clock.now()
    b.approved_by = actor
    b.save(update_fields=["status", "approved_at", "approved_by"])
    return b


def _post_bill(b: Bill, actor) -> None:
    by_account: dict[str, int] = defaultdict(int)
    for account, cents in b.lines.values_list("account", "amount_cents"):
        by_account[account] += cents
    ledger = [
        Line(a, debit=from_cents(c)) if c > 0 else Line(a, credit=from_cents(-c))
        for a, c in sorted(by_account.items())
        if c != 0
    ]
    if b.total_cents > 0:
        ledger.append(Line(AP, credit=from_cents(b.total_cents)))
    if len(ledger) >= 2:
        post_entry(
            "vendor_bill", ledger, memo=f"{b.vendor.name} bill {b.number}",
            effective_date=b.issued_on, actor=actor, idempotency_key=f"bill:{b.pk}",
        )  # fmt: skip


@transaction.atomic
def void_bill(bill: Bill | int, *, actor=None, reason: str = "") -> Bill:
    """Void a bill not yet approved (a wrong or duplicate invoice); its matched copies may be
    billed again."""
    b = Bill.objects.select_for_update().filter(pk=_get(Bill, bill, "bill").pk).first()
    if b.status == Bill.Status.VOID:
        return b
    if b.status != Bill.Status.RECORDED:
        raise Conflict(
            f"{b.vendor} bill {b.number} is {b.get_status_display().lower()}: only a bill not "
            "yet approved is voided."
        )
    if not (reason or "").strip():
        raise DomainError("Say why the bill is voided.")
    for ol, q in b.lines.filter(order_line__isnull=False).values_list("order_line_id", "quantity"):
        PurchaseLine.objects.filter(pk=ol).update(billed=F("billed") - q)
    b.status = Bill.Status.VOID
    b.memo = f"{b.memo} · void ({actor or 'system'}): {reason}"[:300]
    b.save(update_fields=["status", "memo"])
    return b


def _debtor() -> bankfile.Party:
    conf = settings.REDENVELOPE
    return bankfile.Party(
        name=conf.get("BUSINESS_NAME", "Red Envelope"),
        iban=conf.get("BANK_IBAN", ""),
        bic=conf.get("BANK_BIC", ""),
        account=conf.get("BANK_ACCOUNT", "000123456789"),
        routing=conf.get("BANK_ROUTING", "011000015"),
    )


@transaction.atomic
def payment_run(bills, *, pay_on=None, actor=None) -> PaymentRun:
    """Pay approved bills together: one pain.001 file for the bank, each bill paid (Dr accounts
    payable / Cr cash). Refused whole, naming the bill, when any bill is not approved or its
    vendor has no bank details."""
    ids = sorted({b.pk if isinstance(b, Bill) else int(b) for b in bills})
    if not ids:
        raise DomainError("A payment run needs at least one bill.")
    day = parse.day(pay_on, "Pay on") if pay_on else clock.today()
    if day < clock.today():
        raise DomainError("A payment run cannot be dated in the past.")
    rows = list(Bill.objects.select_for_update().filter(pk__in=ids).order_by("id"))
    found = {b.pk for b in rows}
    if missing := [i for i in ids if i not in found]:
        raise NotFound(f"No bill {', '.join(map(str, missing))}.")
    vendors = {v.pk: v for v in Vendor.objects.filter(pk__in={b.vendor_id for b in rows})}
    for b in rows:
        v = vendors[b.vendor_id]
        if b.status != Bill.Status.APPROVED:
            raise Conflict(
                f"{v.name} bill {b.number} (#{b.pk}) is {b.get_status_display().lower()}, not "
                "approved: nothing was paid.",
                code="not_approved",
            )
        if not v.can_be_paid:
            raise Conflict(
                f"{v.name} has no bank account on file (bill {b.number}): nothing was paid.",
                code="no_bank_account",
            )
    now = clock.now()
    number = _number(PaymentRun, "PR-")
    message_id = f"RE-{number}-{now:%Y%m%d%H%M%S}"
    payable = [b for b in rows if b.total_cents > 0]
    transfers = [
        bankfile.Transfer(
            end_to_end=f"RE-BILL-{b.pk}",
            cents=b.total_cents,
            creditor=bankfile.Party(
                name=vendors[b.vendor_id].name,
                iban=vendors[b.vendor_id].iban,
                bic=vendors[b.vendor_id].bic,
                account=vendors[b.vendor_id].account_number,
                routing=vendors[b.vendor_id].routing_number,
            ),  # fmt: skip
            remittance=f"Invoice {b.number}",
        )
        for b in payable
    ]
    xml = (
        bankfile.pain001(
            message_id=message_id,
            created=now,
            pay_on=day,
            debtor=_debtor(),
            transfers=transfers,
            currency=settings.REDENVELOPE.get("CURRENCY", "USD"),
        )  # fmt: skip
        if transfers
        else ""
    )
    run = PaymentRun.objects.create(
        number=number, pay_on=day, bills_count=len(rows),
        total_cents=sum(b.total_cents for b in rows), message_id=message_id, file=xml,
        created_at=now, created_by=actor,
    )  # fmt: skip
    for b in payable:
        post_entry(
            "ap_payment",
            [
                Line(AP, debit=from_cents(b.total_cents)),
                Line(CASH, credit=from_cents(b.total_cents)),
            ],
            memo=f"Paid {vendors[b.vendor_id].name} bill {b.number} ({number})",
            effective_date=day, actor=actor, idempotency_key=f"pay:{b.pk}",
        )  # fmt: skip
    Bill.objects.filter(pk__in=ids).update(status=Bill.Status.PAID, payment_run=run, paid_at=now)
    return run


# --- licensors: fees, advances, revenue-share statements --------------------------------------


@transaction.atomic
def bill_advance(contract: Contract | int, *, actor=None, approve: bool = True) -> Bill:
    """The contract's minimum guarantee, billed as an advance (prepaid royalties), recouped from
    its statements. Once per contract."""
    deal = _get(Contract, contract, "contract")
    if deal.minimum_guarantee_cents <= 0:
        raise DomainError(f"Contract {deal.reference} has no minimum guarantee.")
    vendor = vendor_for_licensor(deal.licensor_id)
    number = f"MG-{deal.reference}"
    done = Bill.objects.filter(vendor=vendor, number=number).first()
    if done:
        return done
    bill = record_bill(
        vendor, number=number, kind=Bill.Kind.ADVANCE, contract=deal,
        issued_on=max(deal.starts_on, min(clock.today(), deal.ends_on)),
        lines=[{"description": f"Minimum guarantee, {deal.name}",
                "amount_cents": deal.minimum_guarantee_cents}],
        actor=actor,
    )  # fmt: skip
    return approve_bill(bill, actor=actor) if approve else bill


def _day_counts(table: str, column: str, start: dt.date, end: dt.date) -> dict:
    """{title_id: np.array of counts per day of [start, end)} from one grouped query; a day is
    the business's (TIME_ZONE, daylight saving included)."""
    from redenvelope.core.bulk import day_index_sql

    days = (end - start).days
    day_sql, where = day_index_sql(column, start, days)
    sql = (
        f"SELECT title_id, {day_sql} AS d, COUNT(*) FROM {table} "  # noqa: S608 - fixed names
        f"WHERE {where} GROUP BY title_id, d"
    )
    with connection.cursor() as cur:
        cur.execute(sql)
        rows = cur.fetchall()
    out: dict[int, np.ndarray] = {}
    for title_id, d, n in rows:
        arr = out.get(title_id)
        if arr is None:
            arr = out[title_id] = np.zeros(days, dtype=np.int64)
        arr[min(max(int(d), 0), days - 1)] += n
    return out


@transaction.atomic
def run_statements(month, *, actor=None) -> list[Bill]:
    """Revenue-share statements for a closed month: one bill per contract with anything to pay
    (its share per rental and per stream of each covered title, counted from our own shipments
    and streams inside the contract's term, plus its flat fee), recouping the minimum guarantee
    first. Statements are computed from records, so they are approved as they are made (by
    whoever runs them) and posted; running a month again changes nothing. A contract whose term
    ended with its advance not recouped is trued up (the rest expensed)."""
    first = _month(month)
    end = _next_month(first)
    if end > clock.today():
        raise DomainError(f"{first:%B %Y} has not ended: statements are for closed months.")
    territory = settings.REDENVELOPE.get("TERRITORY", "US").upper()
    contracts = [
        c
        for c in Contract.objects.filter(starts_on__lt=end, ends_on__gte=first).select_related(
            "licensor"
        )
        if territory in c.territories.split(",")
    ]
    done = set(
        Bill.objects.filter(kind=Bill.Kind.REVENUE_SHARE, period=first).values_list(
            "contract_id", flat=True
        )
    )
    contracts = [c for c in contracts if c.pk not in done]
    if not contracts:
        _true_ups(first, end, actor)
        return []
    rentals = _day_counts("fulfillment_shipment", "shipped_at", first, end)
    streams = _day_counts("streaming_session", "started_at", first, end)
    covered = defaultdict(list)
    for cid, tid in (
        ContractTitle.objects.filter(contract_id__in=[c.pk for c in contracts])
        .values_list("contract_id", "title_id")
        .iterator(chunk_size=20_000)
    ):
        covered[cid].append(tid)
    recoup = {
        r.contract_id: r
        for r in Recoupment.objects.select_for_update().filter(
            contract_id__in=[c.pk for c in contracts]
        )
    }
    vendors = {v.licensor_id: v for v in Vendor.objects.filter(licensor__isnull=False)}
    days = (end - first).days
    now = clock.now()
    made_bills, lines_by_bill, stmt_by_bill = [], [], []
    for c in contracts:
        lo = max(0, (c.starts_on - first).days)
        hi = min(days, (c.ends_on - first).days + 1)  # the term includes its last day
        stmt, earned = [], 0
        for tid in covered.get(c.pk, ()):
            r = int(rentals[tid][lo:hi].sum()) if tid in rentals and c.per_rental_cents else 0
            s = int(streams[tid][lo:hi].sum()) if tid in streams and c.per_stream_cents else 0
            cents = r * c.per_rental_cents + s * c.per_stream_cents
            if cents:
                stmt.append((tid, r, s, cents))
                earned += cents
        fee = _flat_fee(c, first, end)
        rec = recoup.get(c.pk)
        balance = rec.advanced_cents - rec.recouped_cents - rec.trued_up_cents if rec else 0
        recouped = min(balance, earned)
        if not (earned or fee):
            continue
        if c.licensor_id not in vendors:
            vendors[c.licensor_id] = vendor_for_licensor(c.licensor_id)
        total = fee + earned - recouped
        lines = []
        if earned:
            lines.append(("Revenue share", LICENSING, earned))
        if fee:
            lines.append(("Flat license fee", LICENSING, fee))
        if recouped:
            lines.append(("Recouped from the minimum guarantee", PREPAID_ROYALTIES, -recouped))
            rec.recouped_cents += recouped
        made_bills.append(
            Bill(
                vendor=vendors[c.licensor_id],
                number=f"RS-{c.reference}-{first:%Y-%m}",
                kind=Bill.Kind.REVENUE_SHARE,
                contract=c,
                period=first,
                status=Bill.Status.APPROVED if total else Bill.Status.PAID,
                issued_on=end,
                due_on=end + dt.timedelta(days=vendors[c.licensor_id].terms_days),
                total_cents=total,
                memo=f"{c.name}: {first:%B %Y}",
                created_at=now,
                created_by=actor,
                approved_at=now,
                approved_by=actor,
                paid_at=None if total else now,
            )  # fmt: skip
        )
        lines_by_bill.append(lines)
        stmt_by_bill.append(stmt)
    if made_bills:
        try:
            with transaction.atomic():
                Bill.objects.bulk_create(made_bills, batch_size=1000)
        except IntegrityError:
            raise Conflict(
                f"Statements for {first:%B %Y} are being made by another run; try again."
            ) from None
        BillLine.objects.bulk_create(
            [
                BillLine(bill=b, description=d, account=a, amount_cents=cents)
                for b, lines in zip(made_bills, lines_by_bill, strict=True)
                for d, a, cents in lines
            ],
            batch_size=5000,
        )
        StatementLine.objects.bulk_create(
            [
                StatementLine(bill=b, title_id=t, rentals=r, streams=s, earned_cents=cents)
                for b, stmt in zip(made_bills, stmt_by_bill, strict=True)
                for t, r, s, cents in stmt
            ],
            batch_size=5000,
        )
        for r in recoup.values():
            r.save(update_fields=["recouped_cents"])
        _post_statements(made_bills, lines_by_bill, end, actor)
    _true_ups(first, end, actor)
    return made_bills


def _flat_fee(c: Contract, first: dt.date, end: dt.date) -> int:
    if not c.flat_fee_cents:
        return 0
    if c.flat_fee_every == FeeEvery.ONCE:
        return c.flat_fee_cents if first <= c.starts_on < end else 0
    days = (end - first).days
    lo, hi = max(first, c.starts_on), min(end, c.ends_on + dt.timedelta(days=1))
    covered = max(0, (hi - lo).days)
    return share(c.flat_fee_cents, covered, days) if covered else 0


def _post_statements(bills: list[Bill], lines_by_bill, effective: dt.date, actor) -> None:
    """One journal entry per statement, posted in one set-wise write."""
    from redenvelope.ledger.actions import post_bulk

    entries, memo, keys, lines = [], [], [], []
    for b, bl in zip(bills, lines_by_bill, strict=True):
        rows = defaultdict(int)
        for _, account, cents in bl:
            rows[account] += cents
        rows = {a: c for a, c in rows.items() if c}
        if b.total_cents:
            rows[AP] = rows.get(AP, 0) - b.total_cents
        if len(rows) < 2:
            continue
        i = len(entries)
        entries.append(b)
        memo.append(f"{b.vendor.name} statement {b.number}")
        keys.append(f"bill:{b.pk}")
        for account, cents in sorted(rows.items()):
            lines.append((i, account, cents if cents > 0 else 0, -cents if cents < 0 else 0))
    if entries:
        post_bulk(
            "royalty", effective_date=effective, memo=memo, member_ids=None, keys=keys,
            lines=lines, actor_id=getattr(actor, "pk", None),
        )  # fmt: skip


def _true_ups(first: dt.date, end: dt.date, actor) -> None:
    """Contracts whose term ended by the end of this month with part of their advance not
    recouped: that part is the licensor's to keep, expensed now (Dr 5100 / Cr 1400)."""
    for rec in (
        Recoupment.objects.select_for_update()
        .filter(
            contract__ends_on__lt=end,
            advanced_cents__gt=F("recouped_cents") + F("trued_up_cents"),
        )
        .select_related("contract")
    ):
        rest = rec.advanced_cents - rec.recouped_cents - rec.trued_up_cents
        post_entry(
            "royalty",
            [
                Line(LICENSING, debit=from_cents(rest)),
                Line(PREPAID_ROYALTIES, credit=from_cents(rest)),
            ],
            memo=f"Minimum guarantee true-up, contract {rec.contract.reference}",
            effective_date=min(end - dt.timedelta(days=1), clock.today()), actor=actor,
            idempotency_key=f"trueup:{rec.contract_id}",
        )  # fmt: skip
        rec.trued_up_cents = F("trued_up_cents") + rest
        rec.save(update_fields=["trued_up_cents"])


# --- originals -------------------------------------------------------------------------------


@transaction.atomic
def add_production(
    name: str,
    *,
    budget: dict[str, int],
    title: Title | int | None = None,
    amortise_months: int = 48,
    schedule: str = Production.Schedule.ACCELERATED,
) -> Production:
    """An original, with its budget by line ({"Cast": cents, "Crew": cents, ...})."""
    name = (name or "").strip()
    if not name:
        raise DomainError("A production needs a name.")
    if Production.objects.filter(name__iexact=name).exists():
        raise Conflict(f"A production named {name!r} already exists.", code="duplicate")
    if schedule not in Production.Schedule.values:
        raise DomainError(f"Unknown schedule {schedule!r} (accelerated or straight).")
    if not 1 <= int(amortise_months) <= 240:
        raise DomainError("Amortisation runs over 1 to 240 months.")
    if not budget:
        raise DomainError("A production needs a budget of at least one line.")
    prod = Production.objects.create(
        name=name[:200], title_id=_title_id(title) if title is not None else None,
        amortise_months=int(amortise_months), schedule=schedule, created_at=clock.now(),
        status=Production.Status.PRODUCTION,
    )  # fmt: skip
    BudgetLine.objects.bulk_create(
        [
            BudgetLine(
                production=prod,
                name=str(k).strip()[:80],
                budget_cents=_cents(v, f"Budget line {k}", positive=True),
            )  # fmt: skip
            for k, v in budget.items()
        ]
    )
    return prod


@transaction.atomic
def release_production(production, *, on=None, actor=None) -> Production:
    prod = Production.objects.select_for_update().get(
        pk=_get(Production, production, "production").pk
    )
    if prod.status == Production.Status.RELEASED:
        return prod
    prod.status = Production.Status.RELEASED
    prod.released_on = parse.day(on, "Release date") if on else clock.today()
    prod.save(update_fields=["status", "released_on"])
    return prod


def capitalised_cents(prod: Production) -> int:
    """What the production's approved or paid bills put on the balance sheet (account 1500)."""
    return (
        BillLine.objects.filter(
            bill__production=prod,
            account=ORIGINALS,
            bill__status__in=(Bill.Status.APPROVED, Bill.Status.PAID),
        ).aggregate(s=Sum("amount_cents"))["s"]  # fmt: skip
        or 0
    )


@transaction.atomic
def amortise(month, *, actor=None) -> list[tuple[Production, int]]:
    """Book a month's amortisation of every released original (up to that month's end, by its
    schedule, less what was booked). A month already booked is not booked again."""
    first = _month(month)
    if _next_month(first) > clock.today() + dt.timedelta(days=1):
        raise DomainError(f"{first:%B %Y} has not ended: amortisation is booked for closed months.")
    out = []
    for prod in Production.objects.select_for_update().filter(
        status=Production.Status.RELEASED, released_on__lt=_next_month(first)
    ):
        k = amortisation.months_since(
            prod.released_on.year, prod.released_on.month, first.year, first.month
        )
        cost = capitalised_cents(prod)
        due = amortisation.amortised_by(cost, k, prod.amortise_months, prod.schedule) - (
            prod.amortised_cents
        )
        key = f"amortise:{prod.pk}:{first:%Y-%m}"
        if due <= 0 or _posted(key):
            continue
        post_entry(
            "amortisation",
            [Line(AMORTISATION, debit=from_cents(due)), Line(ORIGINALS, credit=from_cents(due))],
            memo=f"Amortisation of {prod.name}, {first:%B %Y} (month {k} of "
            f"{prod.amortise_months}, {prod.schedule})",
            effective_date=_next_month(first) - dt.timedelta(days=1), actor=actor,
            idempotency_key=key,
        )  # fmt: skip
        prod.amortised_cents = F("amortised_cents") + due
        prod.save(update_fields=["amortised_cents"])
        out.append((prod, due))
    return out


def _posted(key: str) -> bool:
    from redenvelope.ledger.models import JournalEntry

    return JournalEntry.objects.filter(idempotency_key=key).exists()


# --- product placement -----------------------------------------------------------------------


@transaction.atomic
def add_placement(
    production,
    *,
    brand: str,
    scene: str,
    deliverables: list[tuple[str, int]],
    schedule: list[tuple] | None = None,
    brand_email: str = "",
    actor=None,
) -> PlacementDeal:
    """A placement deal: the fee is the sum of its deliverables (each recognised as revenue
    when delivered); the brand pays by its schedule of (due on, cents) instalments, which must
    add up to the fee (none given: the whole fee at signing)."""
    prod = _get(Production, production, "production")
    brand, scene = (brand or "").strip(), (scene or "").strip()
    if not brand or not scene:
        raise DomainError("A placement names the brand and the scene or episode.")
    if not deliverables:
        raise DomainError("A placement deal has at least one deliverable.")
    items = [
        (str(d).strip()[:200], _cents(c, f"Deliverable {d!r}", positive=True))
        for d, c in deliverables
    ]
    deal = PlacementDeal.objects.create(
        brand=brand[:120], brand_email=brand_email.strip(), production=prod, scene=scene[:200],
        fee_cents=sum(c for _, c in items), created_at=clock.now(), created_by=actor,
    )  # fmt: skip
    Deliverable.objects.bulk_create(
        [Deliverable(deal=deal, description=d, amount_cents=c) for d, c in items]
    )
    plan = [
        (parse.day(day, "An instalment's date"), _cents(c, "An instalment", positive=True))
        for day, c in (schedule or [(clock.today(), deal.fee_cents)])
    ]
    if sum(c for _, c in plan) != deal.fee_cents:
        raise DomainError(
            f"The payment schedule adds up to {from_cents(sum(c for _, c in plan))}, not the "
            f"fee of {from_cents(deal.fee_cents)} (the deliverables' sum)."
        )
    PlacementInstalment.objects.bulk_create(
        [PlacementInstalment(deal=deal, due_on=d, amount_cents=c) for d, c in sorted(plan)]
    )
    return deal


def invoice_due_instalments(on: dt.date | None = None, *, actor=None) -> list[PlacementInvoice]:
    """Invoice every scheduled instalment due by `on` (today) and not yet invoiced (the daily
    job; running it again invoices nothing twice)."""
    day = on or clock.today()
    made = []
    for pk in PlacementInstalment.objects.filter(invoice__isnull=True, due_on__lte=day).values_list(
        "pk", flat=True
    ):
        with transaction.atomic():
            inst = PlacementInstalment.objects.select_for_update().get(pk=pk)
            if inst.invoice_id:
                continue
            inv = invoice_placement(
                inst.deal_id, amount_cents=inst.amount_cents, actor=actor,
                due_on=max(day, inst.due_on) + dt.timedelta(days=30),
            )  # fmt: skip
            inst.invoice = inv
            inst.save(update_fields=["invoice"])
            made.append(inv)
    return made


@transaction.atomic
def invoice_placement(deal, *, amount_cents: int, due_on=None, actor=None) -> PlacementInvoice:
    """Invoice the brand for part or all of the fee (never more than the fee in all)."""
    d = PlacementDeal.objects.select_for_update().get(pk=_get(PlacementDeal, deal, "deal").pk)
    cents = _cents(amount_cents, "The invoice's amount", positive=True)
    if d.invoiced_cents + cents > d.fee_cents:
        raise Conflict(
            f"{d.brand} has been invoiced {from_cents(d.invoiced_cents)} of a "
            f"{from_cents(d.fee_cents)} fee; {from_cents(cents)} more is too much."
        )
    today = clock.today()
    inv = PlacementInvoice.objects.create(
        number=_number(PlacementInvoice, "PL-"), deal=d, amount_cents=cents, issued_on=today,
        due_on=parse.day(due_on, "Due on") if due_on else today + dt.timedelta(days=30),
        created_by=actor,
    )  # fmt: skip
    post_entry(
        "placement",
        [Line(PLACEMENT_AR, debit=from_cents(cents)),
         Line(PLACEMENT_DEFERRED, credit=from_cents(cents))],
        memo=f"Placement invoice {inv.number} to {d.brand}", effective_date=today, actor=actor,
        idempotency_key=f"placement-invoice:{inv.pk}",
    )  # fmt: skip
    d.invoiced_cents = F("invoiced_cents") + cents
    d.save(update_fields=["invoiced_cents"])
    return inv


@transaction.atomic
def record_placement_payment(invoice, *, actor=None) -> PlacementInvoice:
    inv = PlacementInvoice.objects.select_for_update().get(
        pk=_get(PlacementInvoice, invoice, "placement invoice").pk
    )
    if inv.paid_at:
        return inv
    post_entry(
        "placement",
        [Line(CASH, debit=from_cents(inv.amount_cents)),
         Line(PLACEMENT_AR, credit=from_cents(inv.amount_cents))],
        memo=f"{inv.deal.brand} paid placement invoice {inv.number}", actor=actor,
        idempotency_key=f"placement-paid:{inv.pk}",
    )  # fmt: skip
    inv.paid_at = clock.now()
    inv.save(update_fields=["paid_at"])
    return inv


@transaction.atomic
def deliver(deliverable, *, actor=None) -> Deliverable:
    """A deliverable is delivered: its share of the fee is recognised as revenue (Dr 2600
    deferred / Cr 4200; before it is invoiced, 2600 carries the revenue earned but not billed)."""
    item = Deliverable.objects.select_for_update().get(
        pk=_get(Deliverable, deliverable, "deliverable").pk
    )
    if item.delivered_at:
        return item
    deal = PlacementDeal.objects.select_for_update().get(pk=item.deal_id)
    post_entry(
        "placement",
        [Line(PLACEMENT_DEFERRED, debit=from_cents(item.amount_cents)),
         Line(PLACEMENT_REVENUE, credit=from_cents(item.amount_cents))],
        memo=f"{deal.brand}: {item.description} delivered", actor=actor,
        idempotency_key=f"placement-delivered:{item.pk}",
    )  # fmt: skip
    item.delivered_at = clock.now()
    item.delivered_by = actor
    item.save(update_fields=["delivered_at", "delivered_by"])
    deal.recognised_cents = F("recognised_cents") + item.amount_cents
    deal.save(update_fields=["recognised_cents"])
    return item


# --- the buying plan -------------------------------------------------------------------------


def copies_for_wait(demand: int, cycle_days: float, target_wait_days: float) -> int:
    """Copies needed so that the last of `demand` members who want a title now waits no more
    than the target: each copy serves one member per cycle (out and back), so n copies serve
    demand in demand/n cycles and the last waits (demand/n - 1) cycles."""
    if demand <= 0:
        return 0
    return max(1, math.ceil(demand * cycle_days / (cycle_days + max(0.0, target_wait_days))))
