"""The demo's planning day: the planner is asked where next-day reach is missing and how deep
shelves must go into members' queues, and its recommendations are applied through the actions
(DCs opened with their transit, purchase orders sent to the demo's disc distributor and
received). The simulated days after it show the difference; what it said is kept
with the planner's answers (its page)."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from redenvelope.fulfillment.dispatch import engine_params
from redenvelope.insight import apply, planner
from redenvelope.insight.actions import record_answer
from redenvelope.insight.twin_state import load_twin
from redenvelope.payables import actions as payables
from redenvelope.payables.models import Vendor

DISTRIBUTOR = "Ingram Entertainment (demo)"


def plan_demo(
    *, reach: float = 0.97, next_day: float = 0.95, top3: float = 0.90, days: int = 14,
    seeds=(1, 2, 3), depths=(4, 6, 8, 10, 12), say=print,
) -> dict:  # fmt: skip
    staff = get_user_model().objects.filter(username="operations").first()
    params = engine_params()
    twin = load_twin()
    report = [planner.baseline(twin, days=days, seeds=seeds, params=params)]
    asked = ["baseline"]
    say(report[-1].text())
    add = planner.sites_for_reach(twin, reach)
    opened = []
    if add:
        report.append(planner.sites(twin, add=add, days=days, seeds=seeds, params=params))
        asked.append("sites")
        say(report[-1].text())
        opened = apply.open_sites(report[-1].recommended["open"], actor=staff)
        say("Opened " + ", ".join(d.code for d in opened))
        twin = load_twin()
    report.append(
        planner.stock(twin, depths=depths, days=days, seeds=seeds, params=params,
                      next_day=next_day, top3=top3)
    )  # fmt: skip
    asked.append("stock")
    say(report[-1].text())
    orders = []
    if report[-1].recommended:
        vendor = Vendor.objects.filter(name=DISTRIBUTOR).first() or payables.add_vendor(
            DISTRIBUTOR, kind="distributor", email="orders@ingram.example",
            routing_number="011000015", account_number="7700123456",
        )  # fmt: skip
        orders = apply.buy_copies(
            report[-1].recommended["buy"], vendor=vendor, unit_cents=1500, actor=staff,
            receive=True,
        )  # fmt: skip
        say(f"{len(orders)} purchase orders sent to {vendor.name} and received")
    twin = load_twin()
    report.append(planner.staffing(twin, days=7, seeds=seeds, params=params))
    asked.append("staffing")
    say(report[-1].text())
    for question, ans in zip(asked, report, strict=True):
        record_answer(question, ans, actor=staff)
    return {"dcs opened": len(opened), "orders": len(orders)}
