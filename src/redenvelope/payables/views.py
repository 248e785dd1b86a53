"""Payables pages: finance approves and pays bills, runs statements and amortisation, invoices
brands; the warehouse receives purchase orders at its desk; operations and finance read the
buying plan and order from it. Thin: every change goes through actions.py."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from redenvelope.accounts.roles import Role, has_role, role_required
from redenvelope.core import clock, parse
from redenvelope.core.errors import DomainError
from redenvelope.inventory.models import DistributionCenter
from redenvelope.ledger.money import to_cents

from . import actions, queries, reports
from .models import (
    Bill,
    BudgetLine,
    Deliverable,
    PaymentRun,
    PlacementDeal,
    PlacementInvoice,
    Production,
    PurchaseOrder,
    Vendor,
)

FINANCE = (Role.FINANCE, Role.ADMIN)
# Receiving is the DC desk's work; in a small business finance receives too (issue 16).
RECEIVERS = (Role.WAREHOUSE, Role.OPERATIONS, Role.FINANCE, Role.ADMIN)
PLANNERS = (Role.FINANCE, Role.OPERATIONS, Role.ADMIN)


def _last_month() -> dt.date:
    return (clock.today().replace(day=1) - dt.timedelta(days=1)).replace(day=1)


@role_required(*FINANCE)
def overview(request: HttpRequest) -> HttpResponse:
    ctx = {
        "to_approve": queries.to_approve(),
        "to_pay": queries.to_pay(),
        "runs": PaymentRun.objects.all()[:20],
        "orders": queries.open_orders(),
        "productions": _productions(),
        "deals": PlacementDeal.objects.select_related("production").prefetch_related(
            "deliverables", "invoices", "instalments"
        ),
        "reports": reports.REPORTS,
        "last_month": _last_month(),
        "today": clock.today(),
    }
    return render(request, "payables/overview.html", ctx)


def _productions() -> list[Production]:
    """Each original with its budget lines and what approved bills spent on each."""
    from django.db.models import Q, Sum

    prods = list(Production.objects.order_by("name"))
    spent = Q(costs__bill__status__in=(Bill.Status.APPROVED, Bill.Status.PAID))
    lines = BudgetLine.objects.filter(production__in=prods).annotate(
        spent=Sum("costs__amount_cents", filter=spent)
    )
    by: dict[int, list] = {}
    for ln in lines:
        ln.spent = ln.spent or 0
        by.setdefault(ln.production_id, []).append(ln)
    for p in prods:
        p.lines = by.get(p.pk, [])
    return prods


@require_POST
@role_required(*FINANCE)
def overview_action(request: HttpRequest) -> HttpResponse:
    what = request.POST.get("action", "")
    user = request.user
    try:
        if what in ("approve", "void"):
            bill = get_object_or_404(Bill, pk=parse.record_id(request.POST.get("id")))
            if what == "approve":
                actions.approve_bill(bill, actor=user)
                messages.success(request, f"Approved {bill.vendor} bill {bill.number}.")
            else:
                actions.void_bill(bill, actor=user, reason=request.POST.get("why", ""))
                messages.success(request, f"Voided {bill.vendor} bill {bill.number}.")
        elif what == "pay":
            ids = [parse.record_id(v, "bill") for v in request.POST.getlist("bill")]
            run = actions.payment_run(
                ids, pay_on=parse.optional_day(request.POST.get("pay_on"), "pay on"), actor=user
            )
            messages.success(
                request,
                f"Payment run {run.number}: {run.bills_count} bill(s). Download its bank file.",
            )
        elif what == "statements":
            made = actions.run_statements(parse.day(request.POST.get("month"), "month"), actor=user)
            messages.success(request, f"{len(made)} revenue-share statement(s) made and posted.")
        elif what == "amortise":
            done = actions.amortise(parse.day(request.POST.get("month"), "month"), actor=user)
            messages.success(request, f"Amortisation booked for {len(done)} original(s).")
        elif what == "deliver":
            item = get_object_or_404(Deliverable, pk=parse.record_id(request.POST.get("id")))
            actions.deliver(item, actor=user)
            messages.success(request, f"Delivered: {item.description}. Revenue recognised.")
        elif what == "invoice":
            deal = get_object_or_404(PlacementDeal, pk=parse.record_id(request.POST.get("id")))
            inv = actions.invoice_placement(
                deal, amount_cents=to_cents(request.POST.get("amount") or "0"), actor=user
            )
            messages.success(request, f"Invoice {inv.number} to {deal.brand}.")
        elif what == "paid":
            inv = get_object_or_404(PlacementInvoice, pk=parse.record_id(request.POST.get("id")))
            actions.record_placement_payment(inv, actor=user)
            messages.success(request, f"{inv.number} recorded as paid.")
        else:
            raise DomainError("Unknown action.")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("payables")


@role_required(*FINANCE)
def run_file(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(PaymentRun, pk=run_id)
    if not run.file:
        raise Http404("This run paid only zero bills: it has no bank file.")
    response = HttpResponse(run.file, content_type="application/xml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{run.number}.pain001.xml"'
    return response


@role_required(*RECEIVERS)
def receiving(request: HttpRequest) -> HttpResponse:
    """Orders to receive (sent or partly received), for the warehouse's desk."""
    orders = (
        PurchaseOrder.objects.filter(
            status__in=(PurchaseOrder.Status.SENT, PurchaseOrder.Status.PARTIAL)
        )
        .select_related("vendor", "dc")
        .order_by("expected_on", "created_at")
    )
    return render(request, "payables/receiving.html", {"orders": orders})


@role_required(*RECEIVERS)
def order(request: HttpRequest, order_id: int) -> HttpResponse:
    po = get_object_or_404(PurchaseOrder.objects.select_related("vendor", "dc"), pk=order_id)
    if request.method == "POST":
        _order_action(request, po)
        return redirect("payables_order", order_id=po.pk)
    lines = list(po.lines.select_related("title"))
    for ln in lines:
        ln.left = ln.quantity - ln.received
        ln.unbilled = ln.received - ln.billed
    ctx = {
        "po": po,
        "lines": lines,
        "receipts": [r for ln in lines for r in ln.receipts.all()],
        "bills": po.bills.all(),
        "can_receive": has_role(request.user, *RECEIVERS),
        "can_bill": has_role(request.user, *FINANCE),
        "today": clock.today(),
    }
    return render(request, "payables/order.html", ctx)


def _order_action(request: HttpRequest, po: PurchaseOrder) -> None:
    what = request.POST.get("action", "")
    user = request.user
    try:
        if what == "receive":
            if not has_role(user, *RECEIVERS):
                raise PermissionDenied
            line = get_object_or_404(po.lines, pk=parse.record_id(request.POST.get("line")))
            codes = request.POST.get("barcodes", "").split()
            qty = parse.optional_integer(request.POST.get("quantity"), "quantity", lo=1)
            receipt = actions.receive(
                line,
                quantity=qty,
                barcodes=codes or None,
                actor=user,
                idempotency_key=(request.POST.get("key") or "")[:80] or None,
            )
            messages.success(request, f"Received {receipt.quantity} of {line.title} at {po.dc}.")
        elif what in ("send", "cancel"):
            if not has_role(user, *FINANCE, Role.OPERATIONS):
                raise PermissionDenied
            if what == "send":
                actions.send_order(po, actor=user)
                messages.success(request, f"{po.number} sent to {po.vendor}.")
            else:
                actions.cancel_order(po, actor=user, reason=request.POST.get("why", ""))
                messages.success(request, f"{po.number} cancelled.")
        elif what == "bill":
            if not has_role(user, *FINANCE):
                raise PermissionDenied
            lines = []
            for ln in po.lines.all():
                q = parse.optional_integer(request.POST.get(f"qty-{ln.pk}"), "quantity", lo=0)
                if q:
                    lines.append(
                        {"order_line": ln.pk, "quantity": q, "amount_cents": q * ln.unit_cents}
                    )
            bill = actions.record_bill(
                po.vendor,
                number=request.POST.get("number", ""),
                kind=Bill.Kind.GOODS,
                order=po,
                lines=lines,
                issued_on=parse.optional_day(request.POST.get("issued_on"), "issued on"),
                actor=user,
            )
            messages.success(request, f"Bill {bill.number} recorded: matched to what was received.")
        else:
            raise DomainError("Unknown action.")
    except DomainError as exc:
        messages.error(request, exc.message)


@role_required(*PLANNERS)
def plan(request: HttpRequest) -> HttpResponse:
    """The buying plan: copies per title and DC for a target wait; order from it."""
    if request.method == "POST":
        try:
            vendor = get_object_or_404(
                Vendor, pk=parse.record_id(request.POST.get("vendor"), "vendor")
            )
            unit = to_cents(request.POST.get("unit") or "0")
            by_dc: dict[int, list] = {}
            for item in request.POST.getlist("need"):
                dc_id, title_id, qty = (parse.record_id(x) for x in item.split(":"))
                by_dc.setdefault(dc_id, []).append((title_id, qty, unit))
            if not by_dc:
                raise DomainError("Tick at least one line to order.")
            made = [
                actions.create_order(vendor, dc, lines, actor=request.user)
                for dc, lines in sorted(by_dc.items())
            ]
            messages.success(
                request, f"Draft order(s) {', '.join(o.number for o in made)}: review and send."
            )
        except (DomainError, ValueError) as exc:
            messages.error(request, getattr(exc, "message", "Bad line."))
        return redirect("payables_plan")
    try:
        target = float(parse.integer(request.GET.get("wait") or "7", "target wait", lo=0, hi=90))
    except DomainError as exc:
        messages.error(request, exc.message)
        target = 7.0
    cycle, needs = queries.buying_plan(target)
    ctx = {
        "cycle": cycle,
        "needs": needs,
        "target": int(target),
        "vendors": Vendor.objects.filter(kind=Vendor.Kind.DISTRIBUTOR),
        "dcs": DistributionCenter.objects.all(),
        "can_order": has_role(request.user, *PLANNERS),
    }
    return render(request, "payables/plan.html", ctx)


@role_required(*PLANNERS)
def report(request: HttpRequest, name: str) -> HttpResponse:
    from redenvelope.billing.reports import respond

    return respond(
        request, reports.REPORTS, reports.build, name, "web/report.html", back="payables",
        back_label="Payables",
    )  # fmt: skip
