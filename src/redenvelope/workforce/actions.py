"""Every change in workforce: employees, shifts and their weekly rota, badge scans at the DC's
scan station (clock in, clock out), time corrections (audited), capacity overrides, payroll
runs. Each is atomic and says who did it."""

from __future__ import annotations

import datetime as dt
import re

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from redenvelope.core import clock, parse
from redenvelope.core.errors import Conflict, DomainError, NotFound
from redenvelope.inventory.models import DistributionCenter

from .models import CapacityOverride, Employee, Rota, Shift, TimeCorrection, TimeEntry

# Badges start B- so the desk's one scanner tells them from discs (RE + 10 digits).
BADGE = re.compile(r"^B-[A-Z0-9]{2,16}$")
MAX_SHIFT = dt.timedelta(hours=16)


def _employee(value) -> Employee:
    if isinstance(value, Employee):
        return value
    found = Employee.objects.filter(pk=int(value)).first() if str(value).isdigit() else None
    if found is None:
        raise NotFound(f"No employee {value}.")
    return found


def _dc(value) -> DistributionCenter | None:
    if value is None or isinstance(value, DistributionCenter):
        return value
    found = DistributionCenter.objects.filter(code=str(value).upper()).first() or (
        DistributionCenter.objects.filter(pk=int(value)).first() if str(value).isdigit() else None
    )
    if found is None:
        raise NotFound(f"No distribution center {value}.")
    return found


def _aware(value, name: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        moment = value
    else:
        try:
            moment = dt.datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise DomainError(f"{name} {value!r} is not a time (YYYY-MM-DD HH:MM).") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.get_current_timezone())
    return moment


def is_badge(raw: str) -> bool:
    """Whether a scan is a staff badge (not a disc)."""
    return (raw or "").strip().upper().startswith("B-")


def parse_badge(raw: str) -> str:
    code = (raw or "").strip().upper()
    if not BADGE.match(code):
        raise DomainError(f"Malformed badge {raw!r}: B- then 2 to 16 letters or digits.")
    return code


@transaction.atomic
def add_employee(
    *,
    name: str,
    job: str,
    team: str,
    badge: str,
    pay_type: str,
    rate_cents: int,
    starts_on,
    dc=None,
    manager=None,
    user=None,
    email: str = "",
    phone: str = "",
) -> Employee:
    name, job = (name or "").strip(), (job or "").strip()
    if not name or not job:
        raise DomainError("An employee needs a name and a job.")
    if team not in Employee.Team.values:
        raise DomainError(f"Unknown team {team!r} ({', '.join(Employee.Team.values)}).")
    if pay_type not in Employee.PayType.values:
        raise DomainError("Pay is hourly or salaried.")
    rate_cents = parse.integer(rate_cents, "A pay rate (cents)")
    if rate_cents <= 0:
        raise DomainError("A pay rate is a whole number of cents, more than zero.")
    center = _dc(dc)
    if team == Employee.Team.WAREHOUSE and center is None:
        raise DomainError("Warehouse staff work at a distribution center.")
    code = parse_badge(badge)
    if Employee.objects.filter(badge=code).exists():
        raise Conflict(f"Badge {code} is someone else's.", code="duplicate_badge")
    boss = _employee(manager) if manager is not None else None
    start = parse.day(starts_on, "First day")
    if user is not None and Employee.objects.filter(user=user).exists():
        raise Conflict(f"The sign-in {user} belongs to another employee.", code="duplicate_user")
    return Employee.objects.create(
        name=name[:120], job=job[:60], team=team, dc=center, manager=boss, user=user, badge=code,
        pay_type=pay_type, rate_cents=int(rate_cents), email=email.strip(), phone=phone.strip(),
        starts_on=start,
    )  # fmt: skip


@transaction.atomic
def end_employment(employee, *, on, actor=None) -> Employee:
    e = Employee.objects.select_for_update().get(pk=_employee(employee).pk)
    day = parse.day(on, "Last day")
    if day < e.starts_on:
        raise DomainError(f"{e} starts on {e.starts_on}: employment cannot end before it starts.")
    e.ends_on = day
    e.save(update_fields=["ends_on"])
    return e


def monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def rota_for(week: dt.date, *, dc=None, team: str = Employee.Team.WAREHOUSE) -> Rota:
    """The rota of a DC (or the support team) for the week containing `week`."""
    center = _dc(dc)
    rota, _ = Rota.objects.get_or_create(dc=center, team=team, week=monday(week))
    return rota


@transaction.atomic
def add_shift(employee, *, starts_at, ends_at, break_minutes: int = 30, actor=None) -> Shift:
    """A shift for one person on their DC's (or team's) rota. Refused when it overlaps another
    of their shifts (named), lies outside their employment, or is longer than 16 hours."""
    e = Employee.objects.select_for_update().get(pk=_employee(employee).pk)  # one writer per person
    start, end = _aware(starts_at, "Start"), _aware(ends_at, "End")
    if end <= start:
        raise DomainError("A shift must end after it starts.")
    if end - start > MAX_SHIFT:
        raise DomainError("A shift is at most 16 hours.")
    if not 0 <= int(break_minutes) < (end - start).total_seconds() / 60:
        raise DomainError("The break must be shorter than the shift.")
    local = timezone.localtime(start).date()
    if local < e.starts_on or (e.ends_on and local > e.ends_on):
        raise DomainError(f"{e} is not employed on {local}.")
    clash = Shift.objects.filter(employee=e, starts_at__lt=end, ends_at__gt=start).first()
    if clash is not None:
        raise Conflict(f"{e} already works {clash} then.", code="overlapping_shift")
    rota = rota_for(local, dc=e.dc, team=e.team)
    return Shift.objects.create(
        rota=rota, employee=e, starts_at=start, ends_at=end, break_minutes=int(break_minutes)
    )


@transaction.atomic
def remove_shift(shift: Shift | int, *, reason: str, actor=None) -> None:
    """Take a shift off the rota (someone called in sick, a swap gone wrong): only before it
    ends, with why (kept on the rota's record)."""
    pk = shift.pk if isinstance(shift, Shift) else shift
    s = Shift.objects.select_for_update().select_related("rota").filter(pk=pk).first()
    if s is None:
        raise NotFound(f"No shift {pk}.")
    if not (reason or "").strip():
        raise DomainError("Say why the shift comes off the rota.")
    if s.ends_at <= clock.now():
        raise Conflict("That shift is over: correct the time clocked instead.")
    from .models import ShiftRemoval

    ShiftRemoval.objects.create(
        rota=s.rota, employee=s.employee, starts_at=s.starts_at, ends_at=s.ends_at,
        reason=reason.strip()[:300], at=clock.now(), by=actor,
    )  # fmt: skip
    s.delete()


@transaction.atomic
def add_template(*, name: str, starts, ends, dc=None, team: str = Employee.Team.WAREHOUSE,
                 break_minutes: int = 30, weekdays="0,1,2,3,4", headcount: int = 1):  # fmt: skip
    from .models import ShiftTemplate

    center = _dc(dc)
    if team == Employee.Team.WAREHOUSE and center is None:
        raise DomainError("A warehouse shift template belongs to a DC.")
    days = sorted({int(d) for d in str(weekdays).replace(" ", "").split(",") if d != ""})
    if not days or any(d < 0 or d > 6 for d in days):
        raise DomainError("Weekdays are 0 (Monday) to 6 (Sunday), comma-separated.")
    try:
        a = starts if isinstance(starts, dt.time) else dt.time.fromisoformat(str(starts))
        b = ends if isinstance(ends, dt.time) else dt.time.fromisoformat(str(ends))
    except ValueError:
        raise DomainError("A template's times are HH:MM.") from None
    if a == b:
        raise DomainError("A shift template ends at another time than it starts.")
    if int(headcount) < 1:
        raise DomainError("A template needs at least one person.")
    if ShiftTemplate.objects.filter(dc=center, team=team, name=name.strip()).exists():
        raise Conflict(f"A template named {name!r} exists here already.", code="duplicate")
    return ShiftTemplate.objects.create(
        dc=center, team=team, name=name.strip()[:60], starts=a, ends=b,
        break_minutes=int(break_minutes), weekdays=",".join(map(str, days)),
        headcount=int(headcount),
    )  # fmt: skip


@transaction.atomic
def apply_templates(rota: Rota | int, *, actor=None) -> int:
    """Fill a draft rota from its DC's (or team's) templates: for each template and weekday,
    its headcount of people taken in turn, skipping anyone already working then or off (an
    approved time off). Returns the shifts made; a slot nobody can take is left empty (and
    shows as a gap)."""
    from .models import ShiftTemplate, TimeOff

    r = Rota.objects.select_for_update().get(pk=rota.pk if isinstance(rota, Rota) else rota)
    if r.published_at is not None:
        raise Conflict("This rota is published: add or take off shifts one by one.")
    tz = timezone.get_current_timezone()
    people = list(
        Employee.objects.filter(team=r.team, dc=r.dc, starts_on__lte=r.week + dt.timedelta(days=6))
        .exclude(ends_on__lt=r.week)
        .order_by("id")
    )
    if not people:
        raise DomainError("Nobody works here to fill the rota.")
    off = set(
        TimeOff.objects.filter(
            employee__in=people, status="approved", starts_on__lte=r.week + dt.timedelta(days=6),
            ends_on__gte=r.week,
        ).values_list("employee_id", "starts_on", "ends_on")
    )  # fmt: skip
    made, turn = 0, 0
    for t in ShiftTemplate.objects.filter(dc=r.dc, team=r.team):
        for d in t.days:
            day = r.week + dt.timedelta(days=d)
            a = dt.datetime.combine(day, t.starts, tzinfo=tz)
            b = dt.datetime.combine(day + dt.timedelta(days=1 if t.ends <= t.starts else 0), t.ends,
                                    tzinfo=tz)  # fmt: skip
            placed = 0
            for k in range(len(people)):
                if placed == t.headcount:
                    break
                e = people[(turn + k) % len(people)]
                if any(o[0] == e.pk and o[1] <= day <= o[2] for o in off):
                    continue
                if Shift.objects.filter(employee=e, starts_at__lt=b, ends_at__gt=a).exists():
                    continue
                Shift.objects.create(rota=r, employee=e, starts_at=a, ends_at=b,
                                     break_minutes=t.break_minutes)  # fmt: skip
                placed += 1
                made += 1
            turn = (turn + placed) % len(people)
    return made


@transaction.atomic
def publish_rota(rota: Rota | int, *, actor=None) -> Rota:
    r = Rota.objects.select_for_update().get(pk=rota.pk if isinstance(rota, Rota) else rota)
    if not r.shifts.exists():
        raise DomainError("A rota with no shifts cannot be published.")
    if r.published_at is None:
        r.published_at = clock.now()
        r.published_by = actor
        r.save(update_fields=["published_at", "published_by"])
    return r


@transaction.atomic
def badge_scan(raw: str, *, dc=None, at: dt.datetime | None = None) -> TimeEntry:
    """The scan station's one action: a badge clocks its owner in, or out when they are in."""
    code = parse_badge(raw)
    e = Employee.objects.select_for_update().filter(badge=code).first()
    if e is None:
        raise NotFound(f"Badge {code} is nobody's.", code="unknown_badge")
    open_entry = TimeEntry.objects.filter(employee=e, clock_out__isnull=True).first()
    if open_entry is not None:
        return _clock_out(open_entry, at or clock.now())
    return _clock_in(e, _dc(dc), at or clock.now())


@transaction.atomic
def clock_in(employee, *, dc=None, at: dt.datetime | None = None) -> TimeEntry:
    e = Employee.objects.select_for_update().get(pk=_employee(employee).pk)
    if TimeEntry.objects.filter(employee=e, clock_out__isnull=True).exists():
        raise Conflict(f"{e} is clocked in already.", code="already_in")
    return _clock_in(e, _dc(dc), at or clock.now())


@transaction.atomic
def clock_out(employee, *, at: dt.datetime | None = None) -> TimeEntry:
    e = Employee.objects.select_for_update().get(pk=_employee(employee).pk)
    open_entry = TimeEntry.objects.filter(employee=e, clock_out__isnull=True).first()
    if open_entry is None:
        raise Conflict(f"{e} is not clocked in: a clock-out needs a clock-in.", code="not_in")
    return _clock_out(open_entry, at or clock.now())


def _clock_in(e: Employee, dc, at: dt.datetime) -> TimeEntry:
    if e.ends_on and timezone.localtime(at).date() > e.ends_on:
        raise Conflict(f"{e} no longer works here.", code="ended")
    try:
        with transaction.atomic():
            return TimeEntry.objects.create(employee=e, dc=dc or e.dc, clock_in=at)
    except IntegrityError:
        raise Conflict(f"{e} is clocked in already.", code="already_in") from None


def _clock_out(entry: TimeEntry, at: dt.datetime) -> TimeEntry:
    if at <= entry.clock_in:
        raise DomainError("A clock-out comes after its clock-in.")
    worked = at - entry.clock_in
    # A break is taken on any stretch over six hours (the rota's default of 30 minutes).
    entry.break_minutes = 30 if worked > dt.timedelta(hours=6) else 0
    entry.clock_out = at
    entry.save(update_fields=["clock_out", "break_minutes"])
    return entry


def _entry_state(e: TimeEntry) -> dict:
    return {
        "clock_in": e.clock_in.isoformat(),
        "clock_out": e.clock_out.isoformat() if e.clock_out else None,
        "break_minutes": e.break_minutes,
    }


@transaction.atomic
def correct_entry(entry, *, reason: str, actor, clock_in=None, clock_out=None,
                  break_minutes: int | None = None) -> TimeEntry:  # fmt: skip
    """Change a time entry (a forgotten clock-out, a wrong break): the before and after are
    kept with who and why. A period already paid cannot change."""
    from .models import PayrollRun

    pk = entry.pk if isinstance(entry, TimeEntry) else entry
    e = TimeEntry.objects.select_for_update().filter(pk=pk).first()
    if e is None:
        raise NotFound(f"No time entry {pk}.")
    if actor is None:
        raise DomainError("A correction says who made it.")
    if not (reason or "").strip():
        raise DomainError("Say why the time is corrected.")
    day = timezone.localtime(e.clock_in).date()
    if PayrollRun.objects.filter(period_start__lte=day, period_end__gte=day).exists():
        raise Conflict(f"The pay period holding {day} is closed: the entry cannot change.")
    before = _entry_state(e)
    if clock_in is not None:
        e.clock_in = _aware(clock_in, "Clock-in")
    if clock_out is not None:
        e.clock_out = _aware(clock_out, "Clock-out")
    if break_minutes is not None:
        e.break_minutes = int(break_minutes)
    if e.clock_out is not None and e.clock_out <= e.clock_in:
        raise DomainError("A clock-out comes after its clock-in.")
    if e.clock_out is not None and e.clock_out - e.clock_in > MAX_SHIFT:
        raise DomainError("An entry of more than 16 hours is not a shift: split it.")
    e.save()
    TimeCorrection.objects.create(
        entry=e, before=before, after=_entry_state(e), reason=reason.strip()[:300],
        at=clock.now(), by=actor,
    )  # fmt: skip
    return e


@transaction.atomic
def override_capacity(dc, *, day, capacity: int, reason: str, actor=None) -> CapacityOverride:
    """Set a DC's capacity for a day by hand (a machine down, a surge), with why."""
    center = _dc(dc)
    if center is None:
        raise DomainError("Name the DC.")
    if not (reason or "").strip():
        raise DomainError("Say why the rota's capacity is overridden.")
    capacity = parse.integer(capacity, "Capacity")
    if capacity < 0:
        raise DomainError("Capacity is a whole number of discs, zero or more.")
    d = parse.day(day, "Day")
    row, _ = CapacityOverride.objects.update_or_create(
        dc=center, day=d,
        defaults={"capacity": int(capacity), "reason": reason.strip()[:300], "at": clock.now(),
                  "by": actor},
    )  # fmt: skip
    return row


def _lock_payroll() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtext('workforce:payroll'))")


def pay_rules():
    from decimal import Decimal

    from django.conf import settings

    from .pay import Rules

    conf = settings.REDENVELOPE
    return Rules(
        overtime_after=float(conf.get("OVERTIME_AFTER_HOURS", 40)),
        overtime_rate=Decimal(str(conf.get("OVERTIME_RATE", "1.5"))),
        night_premium=Decimal(str(conf.get("NIGHT_PREMIUM", "0.10"))),
        weekend_premium=Decimal(str(conf.get("WEEKEND_PREMIUM", "0.05"))),
        pto_per_hour=Decimal(str(conf.get("PTO_HOURS_PER_HOUR", "0.0385"))),
    )


PAYROLL_COLUMNS = [
    "employee_id", "name", "badge", "team", "dc", "pay_type", "rate_cents", "regular_hours",
    "overtime_hours", "night_hours", "weekend_hours", "pto_taken_hours", "pto_accrued_hours",
    "gross_cents",
]  # fmt: skip


@transaction.atomic
def run_payroll(period_start, period_end, *, actor=None):
    """Close a pay period: every employee's hours (regular, overtime over 40 a week, night and
    weekend premiums) × their rate, PTO accrued, as CSV for the payroll provider, and the total
    posted (Dr 5700 wages / Cr 2700 accrued payroll). A closed period is never run again; an
    entry still open in it is refused, naming the person."""
    import csv
    import io

    from redenvelope.ledger.actions import Line, post_entry
    from redenvelope.ledger.money import from_cents

    from . import pay
    from .models import PayrollRun

    start = parse.day(period_start, "The period's first day")
    end = parse.day(period_end, "The period's last day")
    if end < start:
        raise DomainError("A pay period ends on or after its first day.")
    if end >= clock.today():
        raise DomainError(f"The period ends {end}: it is paid once it has ended.")
    _lock_payroll()
    done = PayrollRun.objects.filter(period_start__lte=end, period_end__gte=start).first()
    if done is not None:
        raise Conflict(
            f"Payroll for {done.period_start} to {done.period_end} was run on "
            f"{timezone.localtime(done.at):%Y-%m-%d}: that period is closed.",
            code="closed_period",
        )
    tz = timezone.get_current_timezone()
    lo = dt.datetime.combine(start, dt.time(), tzinfo=tz)
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tzinfo=tz)
    still_in = (
        TimeEntry.objects.filter(clock_in__gte=lo, clock_in__lt=hi, clock_out__isnull=True)
        .select_related("employee")
        .first()
    )
    if still_in is not None:
        raise Conflict(
            f"{still_in.employee} is still clocked in since "
            f"{timezone.localtime(still_in.clock_in):%Y-%m-%d %H:%M}: clock them out or correct "
            "the entry first.",
            code="open_entry",
        )
    entries: dict[int, list] = {}
    for emp_id, cin, cout, brk in TimeEntry.objects.filter(
        clock_in__gte=lo, clock_in__lt=hi
    ).values_list("employee_id", "clock_in", "clock_out", "break_minutes"):
        entries.setdefault(emp_id, []).append((cin.astimezone(tz), cout.astimezone(tz), brk))
    from decimal import Decimal

    from .models import PayrollLine, TimeOff

    pto: dict[int, Decimal] = {}
    for emp_id, hours in TimeOff.objects.filter(
        kind=TimeOff.Kind.PTO, status=TimeOff.Status.APPROVED, starts_on__gte=start,
        starts_on__lte=end,
    ).values_list("employee_id", "hours"):  # fmt: skip
        pto[emp_id] = pto.get(emp_id, Decimal(0)) + hours
    rules = pay_rules()
    people = Employee.objects.filter(starts_on__lte=end).exclude(ends_on__lt=start)
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(PAYROLL_COLUMNS)
    gross, lines = 0, []
    for e in people.select_related("dc").order_by("id").iterator(chunk_size=2000):
        taken = pto.get(e.pk, Decimal(0))
        if e.pay_type == Employee.PayType.SALARIED:
            days = (min(end, e.ends_on or end) - max(start, e.starts_on)).days + 1
            p = pay.salaried_pay(e.rate_cents, days, rules)
        else:
            if not entries.get(e.pk) and not taken:
                continue
            p = pay.hourly_pay(entries.get(e.pk, []), e.rate_cents, rules)
            if taken:  # paid time off at the base rate
                cents = pay.cents(taken * e.rate_cents)
                p.lines.append(("paid time off", cents))
                p.gross_cents += cents
        gross += p.gross_cents
        w.writerow([e.pk, e.name, e.badge, e.team, e.dc.code if e.dc else "", e.pay_type,
                    e.rate_cents, p.regular_h, p.overtime_h, p.night_h, p.weekend_h, taken,
                    p.pto_accrued_h, p.gross_cents])  # fmt: skip
        lines.append(
            PayrollLine(
                employee=e,
                regular_h=p.regular_h,
                overtime_h=p.overtime_h,
                night_h=p.night_h,
                weekend_h=p.weekend_h,
                pto_taken_h=taken,
                pto_accrued_h=p.pto_accrued_h,
                gross_cents=p.gross_cents,
            )  # fmt: skip
        )
    run = PayrollRun.objects.create(
        period_start=start, period_end=end, employees=len(lines), gross_cents=gross,
        csv=out.getvalue(), at=clock.now(), by=actor,
    )  # fmt: skip
    for ln in lines:
        ln.run = run
    PayrollLine.objects.bulk_create(lines, batch_size=5000)
    n = len(lines)
    if gross:
        post_entry(
            "payroll",
            [Line("5700", debit=from_cents(gross)), Line("2700", credit=from_cents(gross))],
            memo=f"Payroll {start} to {end}: {n} people", effective_date=end, actor=actor,
            idempotency_key=f"payroll:{start.isoformat()}",
        )  # fmt: skip
    return run


# --- time off, swaps, notes ------------------------------------------------------------------


def may_manage(user, e: Employee) -> bool:
    """HR, admins and operations (DC managers) manage everyone; a manager their own reports."""
    from redenvelope.accounts.roles import Role, has_role

    if has_role(user, Role.HR, Role.ADMIN, Role.OPERATIONS):
        return True
    boss = getattr(user, "employee", None)
    return boss is not None and e.manager_id == boss.pk


@transaction.atomic
def request_time_off(employee, *, starts_on, ends_on, hours, kind: str = "pto", note: str = "",
                     actor=None):  # fmt: skip
    from decimal import Decimal, InvalidOperation

    from .models import TimeOff

    e = _employee(employee)
    if actor is not None and getattr(actor, "employee", None) != e and not may_manage(actor, e):
        raise DomainError("You may ask for your own time off only.", code="forbidden")
    a, b = parse.day(starts_on, "First day off"), parse.day(ends_on, "Last day off")
    if b < a:
        raise DomainError("Time off ends on or after its first day.")
    if kind not in TimeOff.Kind.values:
        raise DomainError(f"Time off is pto, sick or unpaid, not {kind!r}.")
    try:
        h = Decimal(str(hours))
    except InvalidOperation:
        raise DomainError(f"{hours!r} is not a number of hours.") from None
    if not (Decimal(0) < h <= Decimal(24) * ((b - a).days + 1)):
        raise DomainError("Hours off must be more than zero and fit the days asked for.")
    return TimeOff.objects.create(employee=e, kind=kind, starts_on=a, ends_on=b, hours=h,
                                  note=note.strip()[:300], requested_at=clock.now())  # fmt: skip


@transaction.atomic
def decide_time_off(request, *, approve: bool, actor):
    """The manager (or HR) approves or refuses. Approving is refused while the person has a
    shift in those days (move it first: a swap), and paid time off beyond what they have
    accrued is refused."""
    from .models import TimeOff

    pk = request.pk if isinstance(request, TimeOff) else request
    r = TimeOff.objects.select_for_update().select_related("employee").filter(pk=pk).first()
    if r is None:
        raise NotFound(f"No time-off request {pk}.")
    if not may_manage(actor, r.employee):
        raise DomainError("Only their manager or HR decides this.", code="forbidden")
    if r.status != TimeOff.Status.REQUESTED:
        raise Conflict(f"That request was {r.get_status_display().lower()} already.")
    if approve:
        tz = timezone.get_current_timezone()
        lo = dt.datetime.combine(r.starts_on, dt.time(), tzinfo=tz)
        hi = dt.datetime.combine(r.ends_on + dt.timedelta(days=1), dt.time(), tzinfo=tz)
        clash = Shift.objects.filter(employee=r.employee, starts_at__lt=hi, ends_at__gt=lo).first()
        if clash is not None:
            raise Conflict(f"{r.employee} works {clash}: swap or remove that shift first.")
        if r.kind == TimeOff.Kind.PTO and r.hours > pto_balance(r.employee):
            raise Conflict(
                f"{r.employee} has {pto_balance(r.employee)} hours of paid time off, not {r.hours}."
            )
    r.status = TimeOff.Status.APPROVED if approve else TimeOff.Status.REFUSED
    r.decided_at, r.decided_by = clock.now(), actor
    r.save(update_fields=["status", "decided_at", "decided_by"])
    return r


def pto_balance(employee):
    """Hours of paid time off accrued (from payroll runs' CSVs, closed periods) less taken."""
    from decimal import Decimal

    from django.db.models import Sum

    from .models import PayrollLine, TimeOff

    e = _employee(employee)
    accrued = PayrollLine.objects.filter(employee=e).aggregate(s=Sum("pto_accrued_h"))["s"] or 0
    taken = (
        TimeOff.objects.filter(employee=e, kind=TimeOff.Kind.PTO, status="approved").aggregate(
            s=Sum("hours")
        )["s"]
        or 0
    )
    return Decimal(accrued) - Decimal(taken)


@transaction.atomic
def request_swap(shift, *, taker, actor=None):
    from .models import Swap

    s = Shift.objects.select_related("employee").get(
        pk=shift.pk if isinstance(shift, Shift) else shift
    )
    t = _employee(taker)
    if t.pk == s.employee_id:
        raise DomainError("A swap goes to someone else.")
    if t.team != s.employee.team or t.dc_id != s.employee.dc_id:
        raise DomainError(f"{t} works elsewhere: a swap stays within the DC or team.")
    return Swap.objects.create(shift=s, giver=s.employee, taker=t, requested_at=clock.now())


@transaction.atomic
def decide_swap(swap, *, approve: bool, actor):
    from .models import Swap

    pk = swap.pk if isinstance(swap, Swap) else swap
    w = Swap.objects.select_for_update().select_related("shift", "giver", "taker").get(pk=pk)
    if not may_manage(actor, w.giver):
        raise DomainError("Only their manager or HR decides this.", code="forbidden")
    if w.status != Swap.Status.REQUESTED:
        raise Conflict(f"That swap was {w.get_status_display().lower()} already.")
    if approve:
        Employee.objects.select_for_update().filter(pk=w.taker_id).first()
        s = w.shift
        clash = (
            Shift.objects.filter(employee=w.taker, starts_at__lt=s.ends_at, ends_at__gt=s.starts_at)
            .exclude(pk=s.pk)
            .first()
        )
        if clash is not None:
            raise Conflict(f"{w.taker} already works {clash} then.", code="overlapping_shift")
        s.employee = w.taker
        s.save(update_fields=["employee"])
    w.status = Swap.Status.APPROVED if approve else Swap.Status.REFUSED
    w.decided_at, w.decided_by = clock.now(), actor
    w.save(update_fields=["status", "decided_at", "decided_by"])
    return w


@transaction.atomic
def add_note(employee, *, kind: str, text: str, actor, due_on=None):
    from .models import Note

    e = _employee(employee)
    if not may_manage(actor, e):
        raise DomainError("Only their manager or HR writes goals and reviews.", code="forbidden")
    if kind not in Note.Kind.values or not (text or "").strip():
        raise DomainError("A goal or a review note, with its text.")
    return Note.objects.create(employee=e, kind=kind, text=text.strip()[:5000], due_on=due_on,
                               at=clock.now(), by=actor)  # fmt: skip
