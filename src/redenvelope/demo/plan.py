"""The demo's planning day: the planner is asked where next-day reach is missing and how deep
shelves must go into members' queues, and its recommendations are applied through the actions
(DCs opened with their transit, purchase orders sent to the demo's disc distributor and
received). The simulated days after it show the difference; what it said is kept
with the planner's answers (its page)."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from redenvelope.insight import actions as apply
from redenvelope.insight import planner
from redenvelope.insight.actions import ask, record_answer
from redenvelope.insight.twin_state import load_twin
from redenvelope.payables import actions as payables
from redenvelope.payables.models import Vendor

DISTRIBUTOR = "Ingram Entertainment (demo)"


def plan_demo(
    *, reach: float = 0.97, next_day: float = 0.95, top3: float = 0.90, days: int = 14,
    seeds=(1, 2, 3), depths=(4, 6, 8, 10, 12), say=print,
) -> dict:  # fmt: skip
    staff = get_user_model().objects.filter(username="operations").first()
    asked = []

    def question(name: str, twin, **options):
        answer = ask(name, twin, days=options.pop("days", days), seeds=seeds, **options)
        asked.append((name, answer))
        say(answer.text())
        return answer

    twin = load_twin()
    question("baseline", twin)
    add = planner.sites_for_reach(twin, reach)
    opened = []
    if add:
        sites = question("sites", twin, add=add)
        opened = apply.open_sites(sites.recommended["open"], actor=staff)
        say("Opened " + ", ".join(d.code for d in opened))
        twin = load_twin()
    stock = question("stock", twin, depths=depths, next_day=next_day, top3=top3)
    orders = []
    if stock.recommended:
        vendor = Vendor.objects.filter(name=DISTRIBUTOR).first() or payables.add_vendor(
            DISTRIBUTOR, kind="distributor", email="orders@ingram.example",
            routing_number="011000015", account_number="7700123456",
        )  # fmt: skip
        orders = apply.buy_copies(
            stock.recommended["buy"], vendor=vendor, unit_cents=1500, actor=staff, receive=True
        )
        say(f"{len(orders)} purchase orders sent to {vendor.name} and received")
    question("staffing", load_twin(), days=7)
    for name, answer in asked:
        record_answer(name, answer, actor=staff)
    return {"dcs opened": len(opened), "orders": len(orders)}
