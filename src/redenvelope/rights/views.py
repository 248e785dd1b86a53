"""Licenses pages: licensors and contracts (with their history), windows, avails import and
export. Finance, operations and admins read them; finance and admins amend contracts; finance,
operations and admins import avails. Thin: changes go through actions.py and avails.py."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from redenvelope.accounts.roles import Role, has_role, role_required
from redenvelope.core import clock, parse
from redenvelope.core.errors import DomainError
from redenvelope.ledger.money import to_cents

from . import actions, avails
from .models import TERMS, AvailsImport, Contract, LicenseWindow, WindowKind

READERS = (Role.FINANCE, Role.OPERATIONS, Role.ADMIN)
EDITORS = (Role.FINANCE, Role.ADMIN)
MAX_UPLOAD = 50 * 1024 * 1024


@role_required(*READERS)
def overview(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _import(request)
    q = request.GET.get("q", "").strip()[:100]
    kind = request.GET.get("kind", "")
    windows = LicenseWindow.objects.select_related("title", "contract").order_by(
        "title__name", "kind", "starts_at"
    )
    if q:
        windows = windows.filter(Q(title__name__icontains=q) | Q(contract__reference=q))
    if kind in WindowKind.values:
        windows = windows.filter(kind=kind)
    page = Paginator(windows, 50).get_page(request.GET.get("page"))
    now = clock.now()
    ctx = {
        "contracts": Contract.objects.select_related("licensor")
        .annotate(n_titles=Count("titles", distinct=True))
        .order_by("licensor__name", "starts_on"),
        "page": page,
        "q": q,
        "kind": kind,
        "kinds": WindowKind.choices,
        "expiring": {
            days: LicenseWindow.objects.filter(
                ends_at__gt=now, ends_at__lte=now + dt.timedelta(days=days)
            ).count()
            for days in (30, 60, 90)
        },
        "imports": AvailsImport.objects.select_related("by")[:10],
        "now": now,
    }
    return render(request, "rights/overview.html", ctx)


def _import(request: HttpRequest) -> HttpResponse:
    upload = request.FILES.get("file")
    mode = request.POST.get("mode", AvailsImport.Mode.ALL_OR_NOTHING)
    if upload is None:
        messages.error(request, "Choose an avails file (CSV or XLSX) to import.")
        return redirect("rights")
    if upload.size > MAX_UPLOAD:
        messages.error(
            request, "That file is over 50 MB: import it with `redenvelope rights avails-import`."
        )
        return redirect("rights")
    try:
        result = avails.import_avails(upload.name, upload.read(), mode=mode, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("rights")
    r = result.record
    if r.imported:
        messages.success(
            request,
            f"{r.filename}: {r.created} window(s) created, {r.unchanged} unchanged, "
            f"{r.rejected} row(s) refused.",
        )
    else:
        messages.error(
            request, f"{r.filename}: {r.rejected} bad row(s), so nothing was imported (see below)."
        )
    return redirect("rights_import", import_id=r.pk)


@role_required(*READERS)
def import_detail(request: HttpRequest, import_id: int) -> HttpResponse:
    record = get_object_or_404(AvailsImport, pk=import_id)
    return render(request, "rights/import.html", {"record": record})


@role_required(*READERS)
def export(request: HttpRequest, fmt: str) -> HttpResponse:
    stamp = clock.today().isoformat()
    if fmt == "xlsx":
        response = HttpResponse(
            avails.export_xlsx(),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    elif fmt == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        avails.export_csv(response)
    else:
        raise PermissionDenied
    response["Content-Disposition"] = f'attachment; filename="avails-{stamp}.{fmt}"'
    return response


@role_required(*READERS)
def contract(request: HttpRequest, contract_id: int) -> HttpResponse:
    deal = get_object_or_404(Contract.objects.select_related("licensor"), pk=contract_id)
    if request.method == "POST":
        if not has_role(request.user, *EDITORS):
            raise PermissionDenied
        try:
            changes = _changes(request, deal)
            actions.amend_contract(
                deal, reason=request.POST.get("reason", ""), actor=request.user, **changes
            )
            messages.success(request, f"{deal.reference} amended: version {deal.version + 1}.")
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect("rights_contract", contract_id=deal.pk)
    ctx = {
        "deal": deal,
        "versions": deal.versions.select_related("by").order_by("-version"),
        "titles": deal.titles.select_related("title").order_by("title__name")[:500],
        "windows": deal.windows.select_related("title").order_by("title__name", "starts_at"),
        "can_amend": has_role(request.user, *EDITORS),
        "recoupment": getattr(deal, "recoupment", None),
    }
    return render(request, "rights/contract.html", ctx)


def _changes(request: HttpRequest, deal: Contract) -> dict:
    """The fields of the amendment form that differ from the contract's terms."""
    out = {}
    for key in TERMS:
        raw = request.POST.get(key)
        if raw is None or raw == "":
            continue
        if key.endswith("_cents"):
            value = to_cents(raw)
        elif key in ("starts_on", "ends_on"):
            value = parse.day(raw, key.replace("_", " "))
        else:
            value = raw
        if key == "territories":
            value = actions.territory_codes(value)
        if value != getattr(deal, key):
            out[key] = value
    if not out:
        raise DomainError("Nothing in the amendment differs from the current terms.")
    return out
