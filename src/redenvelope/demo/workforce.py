"""The demo's people: at each DC two part-time packers and a salaried manager (the demo's DCs
are a scale model, so the simulator's shifts for them are minutes long), the warehouse login
clocking in as a packer at the first DC, an HR officer (the `hr` login), a customer-service team
on a 24/7 rota for this week and next with one gap left open next week (flagged on
/workforce/), goals for a few people, and a time-off request waiting. Run before `simulate`
(which staffs the DCs day by day)."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.utils import timezone

from redenvelope.core import clock
from redenvelope.inventory.models import DistributionCenter
from redenvelope.workforce import actions as wf
from redenvelope.workforce.models import Employee

FIRST = ["Alex", "Bea", "Cruz", "Dana", "Eli", "Fay", "Gus", "Hal", "Ida", "Jo", "Kai", "Lu"]
LAST = ["Ng", "Ortiz", "Park", "Quinn", "Reyes", "Shah", "Tran", "Ueda", "Vega", "Wolfe"]


def seed_workforce(*, start: dt.date | None = None) -> dict:
    if Employee.objects.exists():
        return {"skipped": "workforce is seeded already"}
    users = {u.username: u for u in get_user_model().objects.filter(
        username__in=["warehouse", "ops", "hr", "agent", "lead"])}  # fmt: skip
    began = (start or clock.today()) - dt.timedelta(days=400)
    n = 0

    def name() -> str:
        nonlocal n
        n += 1
        return f"{FIRST[n % len(FIRST)]} {LAST[(n * 7) % len(LAST)]}"

    hr = wf.add_employee(name="Hana Rivera", job="HR officer", team="office", badge="B-HR01",
                         pay_type="salaried", rate_cents=8_200_000, starts_on=began,
                         user=users.get("hr"))  # fmt: skip
    ops = wf.add_employee(name="Otto Ops", job="operations manager", team="office",
                          badge="B-OPS1", pay_type="salaried", rate_cents=9_500_000,
                          starts_on=began, user=users.get("ops"))  # fmt: skip
    people = 2
    for i, dc in enumerate(DistributionCenter.objects.order_by("code")):
        boss = wf.add_employee(name=name(), job="DC manager", team="warehouse", dc=dc,
                               badge=f"B-{dc.code}M", pay_type="salaried", rate_cents=6_800_000,
                               starts_on=began, manager=ops)  # fmt: skip
        people += 1
        for k in range(2):
            wf.add_employee(
                name=name(), job="packer", team="warehouse", dc=dc, badge=f"B-{dc.code}{k + 1}",
                pay_type="hourly", rate_cents=1_950 + 75 * k, starts_on=began, manager=boss,
                user=users.get("warehouse") if i == 0 and k == 0 else None,
            )  # fmt: skip
            people += 1
    lead = wf.add_employee(name="Lee Lead", job="support lead", team="support", badge="B-CS00",
                           pay_type="salaried", rate_cents=6_000_000, starts_on=began,
                           manager=hr, user=users.get("lead"))  # fmt: skip
    agents = [
        wf.add_employee(
            name=name(),
            job="agent",
            team="support",
            badge=f"B-CS{k + 1:02d}",
            pay_type="hourly",
            rate_cents=2_100,
            starts_on=began,
            manager=lead,
            user=users.get("agent") if k == 0 else None,
        )  # fmt: skip
        for k in range(9)
    ]
    people += 10
    tz = timezone.get_current_timezone()
    today = clock.today()
    shifts = 0
    for w in (0, 7):
        week = wf.monday(today) + dt.timedelta(days=w)
        for d in range(7):
            day = week + dt.timedelta(days=d)
            for slot, hour in enumerate((6, 14, 22)):
                if w == 7 and d == 2 and slot == 2:
                    continue  # next Wednesday night: nobody yet (the page flags the gap)
                who = agents[(d * 3 + slot + w) % len(agents)]
                a = dt.datetime.combine(day, dt.time(hour), tzinfo=tz)
                wf.add_shift(who, starts_at=a, ends_at=a + dt.timedelta(hours=8), break_minutes=30)
                shifts += 1
        if w == 0:
            wf.publish_rota(wf.rota_for(week, team="support"), actor=users.get("hr"))
    goal = "First reply to every email within 4 hours."
    due = today + dt.timedelta(days=60)
    wf.add_note(agents[0], kind="goal", text=goal, actor=users.get("hr") or _any_hr(), due_on=due)
    wf.request_time_off(agents[1], starts_on=today + dt.timedelta(days=20),
                        ends_on=today + dt.timedelta(days=21), hours=16, kind="unpaid",
                        note="family wedding")  # fmt: skip
    return {"employees": people, "support shifts": shifts, "gap": "next Wednesday 22:00-06:00"}


def _any_hr():
    return get_user_model().objects.filter(is_superuser=True).first()
