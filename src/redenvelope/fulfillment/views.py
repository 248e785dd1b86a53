"""Warehouse pages: the return desk (a scanner acting as a keyboard) and CSV import of scans."""

from __future__ import annotations

import re

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from redenvelope.accounts.roles import Role, role_required
from redenvelope.core.errors import DomainError
from redenvelope.inventory.models import DistributionCenter
from redenvelope.workforce.actions import badge_scan, is_badge

from . import actions
from .models import ReturnScan

DESK_ROLES = (Role.WAREHOUSE, Role.OPERATIONS, Role.ADMIN)


def _desk_dc(request: HttpRequest) -> DistributionCenter | None:
    code = request.POST.get("dc") or request.GET.get("dc") or request.session.get("desk_dc")
    dc = DistributionCenter.objects.filter(code=(code or "").upper()).first()
    if dc:
        request.session["desk_dc"] = dc.code
    return dc


@role_required(*DESK_ROLES)
def scan_desk(request: HttpRequest) -> HttpResponse:
    dc = _desk_dc(request)
    recent = ReturnScan.objects.filter(dc=dc).select_related("copy__title")[:25] if dc else []
    binned = (
        ReturnScan.objects.filter(dc=dc, outcome=ReturnScan.Outcome.MEMBERS_DISC)
        .exclude(disposition__in=(ReturnScan.Disposition.MAILED, ReturnScan.Disposition.KEPT))
        .select_related("member__user")
        .order_by("scanned_at")[:200]
        if dc
        else []
    )
    return render(
        request,
        "fulfillment/scan_desk.html",
        {
            "dc": dc,
            "dcs": DistributionCenter.objects.all(),
            "recent": recent,
            "binned": binned,
        },
    )


@require_POST
@role_required(*DESK_ROLES)
def members_disc_mailed(request: HttpRequest, scan_id: int) -> HttpResponse:
    """The desk mailed a member's own disc back (the member asked for it through support)."""
    dc = _desk_dc(request)
    if dc is None:
        messages.error(request, "Choose the DC this desk is at first.")
        return redirect("scan_desk")
    try:
        actions.mark_members_disc_mailed(scan_id, dc, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Recorded as mailed back.")
    return redirect("scan_desk")


@require_POST
@role_required(*DESK_ROLES)
def scan(request: HttpRequest) -> HttpResponse:
    dc = _desk_dc(request)
    if dc is None:
        messages.error(request, "Choose the DC this desk is at first.")
        return redirect("scan_desk")
    raw = request.POST.get("barcode", "")
    if is_badge(raw):  # a staff badge at the desk's scanner: clock in or out
        try:
            entry = badge_scan(raw, dc=dc)
            ok, text = (
                True,
                (
                    f"{entry.employee.name} clocked "
                    + ("out" if entry.clock_out else "in")
                    + f" at {timezone.localtime(entry.clock_out or entry.clock_in):%H:%M}."
                ),
            )
        except DomainError as exc:
            ok, text = False, exc.message
        if request.htmx:
            return render(request, "fulfillment/_badge_row.html",
                          {"ok": ok, "text": text, "raw": raw, "at": timezone.now()})  # fmt: skip
        (messages.success if ok else messages.error)(request, text)
        return redirect("scan_desk")
    envelope = request.POST.get("envelope", "").strip()
    scan = actions.scan_return(
        request.POST.get("barcode", ""),
        dc,
        actor=request.user,
        damaged=bool(request.POST.get("damaged")),
        envelope_member=int(envelope) if envelope.isdigit() else None,
    )
    if request.htmx:
        return render(request, "fulfillment/_scan_row.html", {"s": scan})
    (messages.error if scan.is_problem else messages.success)(request, scan.message)
    return redirect("scan_desk")


@require_POST
@role_required(*DESK_ROLES)
def scan_csv(request: HttpRequest) -> HttpResponse:
    dc = _desk_dc(request)
    upload = request.FILES.get("file")
    if dc is None or upload is None:
        messages.error(request, "Choose a DC and a CSV file.")
        return redirect("scan_desk")
    try:
        text = upload.read().decode("utf-8-sig")
        scans = actions.import_scans_csv(text, dc, actor=request.user)
    except UnicodeDecodeError:
        messages.error(request, "The file is not UTF-8 text; nothing was imported.")
        return redirect("scan_desk")
    except DomainError as exc:
        messages.error(request, f"{exc.message} Nothing was imported.")
        return redirect("scan_desk")
    counts: dict[str, int] = {}
    for s in scans:
        counts[s.get_outcome_display()] = counts.get(s.get_outcome_display(), 0) + 1
    problems = sum(1 for s in scans if s.is_problem)
    summary = ", ".join(f"{k}: {v}" for k, v in counts.items())
    (messages.warning if problems else messages.success)(
        request,
        f"Imported {len(scans)} scans ({summary})."
        + (f" {problems} set aside — see the list below." if problems else ""),
    )
    return redirect("scan_desk")


@role_required(Role.OPERATIONS, Role.WAREHOUSE, Role.ADMIN)
def dispatch_overview(request: HttpRequest) -> HttpResponse:
    """Recent runs with their figures, and the rules the engine runs by (shown to staff)."""
    from django.conf import settings

    from .dispatch import PRIORITY_POLICIES, engine_params
    from .models import DispatchRun, Incident

    policy = settings.REDENVELOPE.get("DISPATCH_PRIORITY", "equal")
    return render(
        request,
        "fulfillment/dispatch.html",
        {
            "runs": DispatchRun.objects.all()[:30],
            "policy": policy,
            "policy_text": PRIORITY_POLICIES.get(policy, ""),
            "policies": PRIORITY_POLICIES,
            "params": engine_params(),
            "incidents": Incident.objects.select_related("dc")[:20],
        },
    )


DOCUMENT_ROLES = (Role.WAREHOUSE, Role.OPERATIONS, Role.ADMIN)
_DOCUMENT_NAME = re.compile(r"[A-Z0-9]{2,10}-(picklist|labels)(-[0-9]{1,3})?\.pdf")


def _run_files(run) -> list:
    from pathlib import Path

    from django.conf import settings

    folder = Path(settings.MEDIA_ROOT) / "runs" / run.run_date.isoformat() / run.scope
    if not folder.is_dir():
        return []
    return sorted(f for f in folder.iterdir() if _DOCUMENT_NAME.fullmatch(f.name) and f.is_file())


@role_required(*DOCUMENT_ROLES)
def run_documents(request: HttpRequest, run_id: int) -> HttpResponse:
    """A dispatch run's pick lists and labels, per DC, for the warehouse to print."""
    from .models import DispatchRun

    run = get_object_or_404(DispatchRun, pk=run_id)
    files = [{"name": f.name, "kb": max(1, f.stat().st_size // 1024)} for f in _run_files(run)]
    return render(request, "fulfillment/run_documents.html", {"run": run, "files": files})


@role_required(*DOCUMENT_ROLES)
def run_document(request: HttpRequest, run_id: int, name: str) -> HttpResponse:
    """One pick list or label sheet (a PDF), by its name in the run's folder only."""
    from django.http import FileResponse, Http404

    from .models import DispatchRun

    run = get_object_or_404(DispatchRun, pk=run_id)
    for f in _run_files(run):
        if f.name == name:
            return FileResponse(f.open("rb"), content_type="application/pdf", filename=f.name)
    raise Http404("No such document for this run.")
