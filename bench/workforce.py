"""Workforce at scale, through the paths the product runs:

1. capacity derivation: `fulfillment.rules.dc_capacity_on` (what dispatch reads) for every DC on
   each day of a week whose rota is published (EMPLOYEES people, five shifts each, over DCS
   DCs, with each DC's rate measured from its scan events and clocked hours);
2. a two-week pay period's payroll (`workforce.actions.run_payroll`): ten clocked days for
   every hourly employee, overtime, night and weekend premiums, PTO, CSV, ledger.

    redenvelope bench workforce [--employees 5000] [--dcs 58]

Its people, DCs, rotas and clocked time are written first (timed apart); run again, it pays the
two weeks before the last period it paid."""

from __future__ import annotations

import datetime as dt
import time

import numpy as np


def _setup(employees: int, dcs: int, seed: int, console) -> dict:
    from django.utils import timezone

    from redenvelope.core import clock
    from redenvelope.inventory import actions as inventory
    from redenvelope.inventory.models import DistributionCenter
    from redenvelope.workforce.actions import monday
    from redenvelope.workforce.models import Employee, Rota, Shift

    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    have = list(DistributionCenter.objects.order_by("id"))
    for i in range(len(have), dcs):
        have.append(
            inventory.add_distribution_center(
                code=f"W{chr(65 + i // 26)}{chr(65 + i % 26)}",
                name=f"Bench DC {i}",
                city="Bench",
                state="CA",
                latitude=34.0 + i / 10,
                longitude=-118.0 - i / 10,
                daily_capacity=20_000,
            )  # fmt: skip
        )
    centers = have[:dcs]
    if Employee.objects.filter(badge__startswith="B-BEN").count() >= employees:
        return {"dcs": centers, "setup_s": 0.0}
    tz = timezone.get_current_timezone()
    today = clock.today()
    support = employees // 10
    people = []
    for i in range(employees):
        warehouse = i >= support
        people.append(
            Employee(
                name=f"Bench Person {i}",
                job="picker" if warehouse else "agent",
                team="warehouse" if warehouse else "support",
                dc=centers[i % len(centers)] if warehouse else None,
                badge=f"B-BEN{i:06d}",
                pay_type="hourly" if i % 20 else "salaried",
                rate_cents=int(rng.integers(1700, 3200)) if i % 20 else 6_000_000,
                starts_on=today - dt.timedelta(days=400),
            )  # fmt: skip
        )
    Employee.objects.bulk_create(people, batch_size=5000)
    people = list(Employee.objects.filter(badge__startswith="B-BEN").order_by("id"))
    week = monday(today)
    rotas = {
        c.pk: Rota.objects.get_or_create(dc=c, team="warehouse", week=week)[0] for c in centers
    }
    support_rota = Rota.objects.get_or_create(dc=None, team="support", week=week)[0]
    shifts = []
    for k, e in enumerate(people):
        rota = rotas[e.dc_id] if e.dc_id else support_rota
        start_hour = [6, 14, 22][k % 3]
        for d in range(5):
            day = week + dt.timedelta(days=(d + k) % 7)
            a = dt.datetime.combine(day, dt.time(start_hour), tzinfo=tz)
            shifts.append(Shift(rota=rota, employee=e, starts_at=a,
                                ends_at=a + dt.timedelta(hours=8, minutes=30)))  # fmt: skip
    Shift.objects.bulk_create(shifts, batch_size=5000)
    for r in [*rotas.values(), support_rota]:
        r.published_at = clock.now()
        r.save(update_fields=["published_at"])
    out = {"dcs": centers, "setup_s": time.perf_counter() - t0}
    console.print(
        f"wrote {len(people):,} people over {len(centers)} DCs and {len(shifts):,} shifts "
        f"in {out['setup_s']:.0f} s"
    )
    return out


def _clock(period_end: dt.date, seed: int) -> int:
    """Ten clocked days in the two weeks ending `period_end` for every bench person (written
    in bulk, once per period)."""
    from django.utils import timezone

    from redenvelope.workforce.models import Employee, TimeEntry

    tz = timezone.get_current_timezone()
    lo = dt.datetime.combine(period_end - dt.timedelta(days=13), dt.time(), tzinfo=tz)
    people = list(Employee.objects.filter(badge__startswith="B-BEN").order_by("id"))
    hi = lo + dt.timedelta(days=14)
    if TimeEntry.objects.filter(
        employee__in=people[:1], clock_in__gte=lo, clock_in__lt=hi
    ).exists():
        return 0
    rng = np.random.default_rng(seed)
    entries = []
    for k, e in enumerate(people):
        start_hour = [6, 14, 22][k % 3]
        for d in range(14):
            if (d + k) % 7 in (5, 6):
                continue
            day = period_end - dt.timedelta(days=13 - d)
            a = dt.datetime.combine(day, dt.time(start_hour), tzinfo=tz)
            a += dt.timedelta(minutes=int(rng.integers(-10, 10)))
            span = dt.timedelta(hours=8, minutes=30 + int(rng.integers(0, 120)))
            entries.append(TimeEntry(employee=e, dc_id=e.dc_id, clock_in=a, clock_out=a + span,
                                     break_minutes=30))  # fmt: skip
    TimeEntry.objects.bulk_create(entries, batch_size=5000)
    return len(entries)


def run(employees: int, dcs: int, seed: int, console) -> dict:
    from redenvelope.core import clock
    from redenvelope.fulfillment.rules import dc_capacity_on
    from redenvelope.ledger.actions import ensure_chart
    from redenvelope.ledger.queries import trial_balance
    from redenvelope.workforce.actions import monday, run_payroll
    from redenvelope.workforce.models import PayrollRun

    ensure_chart()
    out = _setup(employees, dcs, seed, console)
    centers = out.pop("dcs")
    week = monday(clock.today())
    t0 = time.perf_counter()
    caps = [dc_capacity_on(week + dt.timedelta(days=d), centers) for d in range(7)]
    out["capacity_s"] = time.perf_counter() - t0
    out["capacity_total"] = sum(sum(c.values()) for c in caps)
    end = week - dt.timedelta(days=1)
    while PayrollRun.objects.filter(period_start__lte=end, period_end__gte=end).exists():
        end -= dt.timedelta(days=14)
    out["clocked"] = _clock(end, seed)
    t0 = time.perf_counter()
    payroll = run_payroll(end - dt.timedelta(days=13), end)
    out["payroll_s"] = time.perf_counter() - t0
    out["paid"] = payroll.employees
    out["gross"] = payroll.gross_cents
    out["balanced"] = trial_balance().balanced
    out["employees"] = employees
    out["n_dcs"] = len(centers)
    return out


def report(r: dict, console) -> None:
    from rich.table import Table

    t = Table(title=f"bench workforce: {r['employees']:,} employees over {r['n_dcs']} DCs")
    t.add_column("what")
    t.add_column("figure", justify="right")
    t.add_column("target", justify="right")
    t.add_row(f"capacity for every DC, 7 days (dispatch's read; {r['capacity_total']:,} discs)",
              f"{r['capacity_s']:.2f} s", "")  # fmt: skip
    t.add_row(f"payroll for two weeks ({r['paid']:,} paid, {r['gross'] / 100:,.2f} gross)",
              f"{r['payroll_s']:.2f} s", "")  # fmt: skip
    t.add_row("both", f"{r['capacity_s'] + r['payroll_s']:.2f} s", "≤ 10 s")
    t.add_row("ledger balanced", str(r["balanced"]), "True")
    console.print(t)
