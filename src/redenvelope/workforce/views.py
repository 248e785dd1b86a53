"""Workforce pages: HR and DC managers (operations) run people and rotas at /workforce/; each
employee sees their own shifts, time, pay and goals at /workforce/me/. Pay and personal data are
HR's and admins' (and the employee's own) only. Thin: changes go through actions.py."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from redenvelope.accounts.roles import STAFF_ROLES, Role, has_role, role_required
from redenvelope.core import clock, parse
from redenvelope.core.errors import DomainError
from redenvelope.inventory.models import DistributionCenter

from . import actions, queries
from .models import Employee, Note, PayrollRun, Rota, Shift, ShiftTemplate, Swap, TimeOff
from .reports import REPORTS

PEOPLE = (Role.HR, Role.ADMIN)
MANAGERS = (Role.HR, Role.OPERATIONS, Role.ADMIN)


@role_required(*MANAGERS)
def overview(request: HttpRequest) -> HttpResponse:
    today = clock.today()
    week = actions.monday(today)
    dcs = list(DistributionCenter.objects.order_by("code"))
    ctx = {
        "is_hr": has_role(request.user, *PEOPLE),
        "employees": Employee.objects.select_related("dc", "manager").order_by("team", "name")[
            :500
        ],
        "rotas": Rota.objects.filter(week__gte=week - dt.timedelta(days=7))
        .select_related("dc")
        .order_by("week", "team", "dc__code")[:200],
        "time_off": TimeOff.objects.filter(status="requested").select_related("employee"),
        "swaps": Swap.objects.filter(status="requested").select_related("shift", "giver", "taker"),
        "gaps": queries.coverage_gaps(today, days=14)[:50],
        "capacity": queries.capacity_table(today, dcs, days=7),
        "runs": PayrollRun.objects.all()[:12],
        "templates": ShiftTemplate.objects.select_related("dc"),
        "weekdays": list(enumerate(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])),
        "reports": REPORTS,
        "dcs": dcs,
        "week": week,
        "today": today,
    }
    return render(request, "workforce/overview.html", ctx)


@require_POST
@role_required(*MANAGERS)
def overview_action(request: HttpRequest) -> HttpResponse:
    what = request.POST.get("action", "")
    user = request.user
    try:
        if what == "rota":
            dc = request.POST.get("dc") or None
            team = Employee.Team.SUPPORT if dc is None else Employee.Team.WAREHOUSE
            rota = actions.rota_for(parse.day(request.POST.get("week"), "week"), dc=dc, team=team)
            return redirect("workforce_rota", rota_id=rota.pk)
        if what in ("approve_off", "refuse_off"):
            actions.decide_time_off(parse.record_id(request.POST.get("id")),
                                    approve=what == "approve_off", actor=user)  # fmt: skip
            messages.success(request, "Time off decided.")
        elif what in ("approve_swap", "refuse_swap"):
            actions.decide_swap(parse.record_id(request.POST.get("id")),
                                approve=what == "approve_swap", actor=user)  # fmt: skip
            messages.success(request, "Swap decided.")
        elif what == "override":
            actions.override_capacity(
                request.POST.get("dc"), day=parse.day(request.POST.get("day"), "day"),
                capacity=parse.integer(request.POST.get("capacity"), "capacity", lo=0),
                reason=request.POST.get("reason", ""), actor=user,
            )  # fmt: skip
            messages.success(request, "Capacity set for that day.")
        elif what == "template":
            actions.add_template(
                name=request.POST.get("name", ""), starts=request.POST.get("starts", ""),
                ends=request.POST.get("ends", ""), dc=request.POST.get("dc") or None,
                team="warehouse" if request.POST.get("dc") else "support",
                break_minutes=parse.integer(request.POST.get("break") or "30", "break", lo=0),
                weekdays=",".join(request.POST.getlist("weekday")) or "0,1,2,3,4",
                headcount=parse.integer(request.POST.get("headcount") or "1", "people", lo=1),
            )  # fmt: skip
            messages.success(request, "Template added: fill a draft rota from it.")
        elif what == "payroll":
            if not has_role(user, *PEOPLE):
                raise PermissionDenied
            run = actions.run_payroll(
                parse.day(request.POST.get("start"), "period start"),
                parse.day(request.POST.get("end"), "period end"), actor=user,
            )  # fmt: skip
            messages.success(request, f"Payroll for {run.employees} people: download its CSV.")
        else:
            raise DomainError("Unknown action.")
    except DomainError as exc:
        messages.error(request, exc.message)
    except ValueError:
        messages.error(request, "Times are HH:MM.")
    return redirect("workforce")


@role_required(*MANAGERS)
def rota(request: HttpRequest, rota_id: int) -> HttpResponse:
    r = get_object_or_404(Rota.objects.select_related("dc"), pk=rota_id)
    if request.method == "POST":
        try:
            if request.POST.get("action") == "publish":
                actions.publish_rota(r, actor=request.user)
                messages.success(request, "Published: staff see it and dispatch plans by it.")
            elif request.POST.get("action") == "templates":
                n = actions.apply_templates(r, actor=request.user)
                messages.success(request, f"{n} shift(s) from the templates: check, then publish.")
            else:
                day = parse.day(request.POST.get("day"), "day")
                start = dt.datetime.fromisoformat(f"{day}T{request.POST.get('start', '')}")
                end = dt.datetime.fromisoformat(f"{day}T{request.POST.get('end', '')}")
                if end <= start:
                    end += dt.timedelta(days=1)  # a night shift ends the next morning
                actions.add_shift(
                    parse.record_id(request.POST.get("employee"), "employee"),
                    starts_at=start, ends_at=end,
                    break_minutes=parse.integer(request.POST.get("break") or "30", "break", lo=0),
                    actor=request.user,
                )  # fmt: skip
                messages.success(request, "Shift added.")
        except ValueError:
            messages.error(request, "Times are HH:MM.")
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect("workforce_rota", rota_id=r.pk)
    staff = Employee.objects.filter(team=r.team, dc=r.dc).exclude(ends_on__lt=r.week)
    ctx = {
        "r": r,
        "shifts": r.shifts.select_related("employee").order_by("starts_at"),
        "staff": staff.order_by("name"),
        "days": [r.week + dt.timedelta(days=i) for i in range(7)],
        "gaps": queries.coverage_gaps(r.week, days=7) if r.dc_id is None else [],
    }
    return render(request, "workforce/rota.html", ctx)


def _me(request: HttpRequest) -> Employee:
    e = Employee.objects.filter(user=request.user).first()
    if e is None:
        raise PermissionDenied("You have no employee record.")
    return e


@role_required(*STAFF_ROLES)
def me(request: HttpRequest) -> HttpResponse:
    """An employee's own page: shifts, time, pay, goals and reviews; ask for time off or a
    swap."""
    e = _me(request)
    if request.method == "POST":
        try:
            if request.POST.get("action") == "time_off":
                actions.request_time_off(
                    e, starts_on=parse.day(request.POST.get("from"), "from"),
                    ends_on=parse.day(request.POST.get("to"), "to"),
                    hours=request.POST.get("hours", ""), kind=request.POST.get("kind", "pto"),
                    note=request.POST.get("note", ""), actor=request.user,
                )  # fmt: skip
                messages.success(request, "Asked: your manager decides.")
            elif request.POST.get("action") == "swap":
                shift = get_object_or_404(
                    Shift, pk=parse.record_id(request.POST.get("shift")), employee=e
                )
                actions.request_swap(shift, taker=parse.record_id(request.POST.get("taker")),
                                     actor=request.user)  # fmt: skip
                messages.success(request, "Swap asked for: your manager decides.")
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect("workforce_me")
    now = clock.now()
    ctx = {
        "e": e,
        "shifts": Shift.objects.filter(
            employee=e, ends_at__gte=now, rota__published_at__isnull=False
        ).order_by("starts_at")[:30],
        "time": e.time.all()[:20],
        "pay": e.pay.select_related("run").order_by("-run__period_start")[:12],
        "pto": actions.pto_balance(e),
        "notes": e.notes.select_related("by"),
        "time_off": e.time_off.all()[:10],
        "colleagues": Employee.objects.filter(team=e.team, dc=e.dc).exclude(pk=e.pk),
    }
    return render(request, "workforce/me.html", ctx)


@role_required(*STAFF_ROLES)
def employee(request: HttpRequest, employee_id: int) -> HttpResponse:
    """HR and admins see everything; operations and the employee's manager see the job, the
    rota and goals, never pay or personal data; anyone else is refused."""
    e = get_object_or_404(Employee.objects.select_related("dc", "manager"), pk=employee_id)
    if Employee.objects.filter(user=request.user, pk=e.pk).exists():
        return redirect("workforce_me")
    if not actions.may_manage(request.user, e):
        raise PermissionDenied("Only HR, an admin or their manager sees an employee's record.")
    if request.method == "POST":
        try:
            actions.add_note(
                e,
                kind=request.POST.get("kind", ""),
                text=request.POST.get("text", ""),
                actor=request.user,
                due_on=parse.optional_day(request.POST.get("due_on"), "due on"),
            )
            messages.success(request, "Noted.")
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect("workforce_employee", employee_id=e.pk)
    ctx = {
        "e": e,
        "is_hr": has_role(request.user, *PEOPLE),
        "notes": e.notes.select_related("by"),
        "pay": e.pay.select_related("run").order_by("-run__period_start")[:12]
        if has_role(request.user, *PEOPLE)
        else [],
        "time": e.time.all()[:20],
        "kinds": Note.Kind.choices,
    }
    return render(request, "workforce/employee.html", ctx)


@role_required(*PEOPLE)
def payroll_csv(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(PayrollRun, pk=run_id)
    response = HttpResponse(run.csv, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="payroll-{run.period_start}-{run.period_end}.csv"'
    )
    return response


@role_required(*MANAGERS)
def report(request: HttpRequest, name: str) -> HttpResponse:
    from redenvelope.billing.reports import respond

    from . import reports

    return respond(
        request, reports.REPORTS, reports.build, name, "web/report.html", back="workforce",
        back_label="Workforce",
    )  # fmt: skip
