"""Insight's state changes: a question put to the planner and its answer, and a planner's
recommendation applied — through the domains' own actions (DCs opened with their transit,
copies moved between DCs, purchase orders sent and received, capacity set)."""

from __future__ import annotations

import time

from django.db import transaction

from redenvelope.core import clock
from redenvelope.core.errors import DomainError
from redenvelope.inventory import actions as inventory
from redenvelope.inventory.geo import km_between, transit_days
from redenvelope.inventory.models import DistributionCenter, Region

from .models import PlanRun

MAX_DAYS = 120


@transaction.atomic
def ask_planner(question: str, *, days: int = 30, seeds=(1, 2, 3), title: int | None = None,
                target_wait: float = 2.0, add: int = 1, actor=None) -> PlanRun:  # fmt: skip
    if question not in PlanRun.Question.values:
        raise DomainError(f"question: one of {', '.join(PlanRun.Question.values)}.")
    if not 1 <= days <= MAX_DAYS:
        raise DomainError(f"days: from 1 to {MAX_DAYS}.")
    seeds = [int(s) for s in seeds]
    if not 1 <= len(seeds) <= 8:
        raise DomainError("seeds: from one to eight.")
    if question == "release" and not title:
        raise DomainError("title: which release (its id)?")
    params = {"days": days, "seeds": seeds, "add": add, "title": title, "target_wait": target_wait}
    return PlanRun.objects.create(question=question, params=params, asked_by=actor,
                                  asked_at=clock.now())  # fmt: skip


def ask(question: str, twin=None, *, days: int = 30, seeds=(1, 2, 3), **options):
    """Put a question to the planner on today's twin (or `twin`): the one door the page's job,
    the CLI and the worker share, with the product's dispatch settings and labour rate."""
    from django.conf import settings

    from redenvelope.fulfillment.dispatch import engine_params

    from . import planner
    from .twin_state import load_twin

    questions = {
        "baseline": planner.baseline,
        "sites": planner.sites,
        "stock": planner.stock,
        "rebalance": planner.rebalance,
        "staffing": planner.staffing,
        "release": planner.release,
    }
    if question not in questions:
        raise DomainError(f"question: one of {', '.join(questions)}.")
    if question == "staffing" and not options.get("rate"):
        options["rate"] = float(settings.REDENVELOPE["WAREHOUSE_SHIPS_PER_HOUR"])
    twin = twin if twin is not None else load_twin()
    args = (int(options.pop("title")),) if question == "release" else ()
    try:
        return questions[question](
            twin, *args, days=days, seeds=list(seeds), params=engine_params(), **options
        )
    except ValueError as e:  # the planner's refusals (no such title, ...)
        raise DomainError(str(e)) from None


def answer(run: PlanRun | int) -> PlanRun:
    """Run a question asked on the page (the worker's job), keep the answer or why it failed."""
    run = PlanRun.objects.get(pk=run.pk if isinstance(run, PlanRun) else run)
    if run.status not in (PlanRun.Status.QUEUED, PlanRun.Status.FAILED):
        return run
    PlanRun.objects.filter(pk=run.pk).update(status=PlanRun.Status.RUNNING)
    t = time.perf_counter()
    p = run.params
    options = {
        "sites": {"add": int(p.get("add") or 1)},
        "release": {"title": p.get("title"), "target_wait": float(p.get("target_wait") or 2)},
    }.get(run.question, {})
    try:
        ans = ask(run.question, days=p["days"], seeds=p["seeds"], **options)
        run.answer, run.recommended, run.status = ans.text(), _jsonable(ans.recommended), "done"
    except DomainError as e:
        run.answer, run.status = e.message, PlanRun.Status.FAILED
    run.finished_at = clock.now()
    run.seconds = round(time.perf_counter() - t, 2)
    run.save(update_fields=["answer", "recommended", "status", "finished_at", "seconds"])
    return run


def record_answer(question: str, ans, *, actor=None, seconds: float = 0.0) -> PlanRun:
    """An answer worked out elsewhere (the demo's planning day), kept with the others."""
    now = clock.now()
    return PlanRun.objects.create(
        question=question, params={"days": ans.days, "seeds": ans.seeds}, status="done",
        answer=ans.text(), recommended=_jsonable(ans.recommended), asked_by=actor,
        asked_at=now, finished_at=now, seconds=seconds,
    )  # fmt: skip


def _jsonable(value):
    import numpy as np

    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


# --- a recommendation applied ---------------------------------------------------------------


def _code_for(name: str, taken: set[str]) -> str:
    """A free three-letter code from the city's name: its first letter and two after it in
    order (Boston: BOS, BOT, ...), else its first three letters and a digit."""
    letters = "".join(ch for ch in name.upper() if "A" <= ch <= "Z") or "DCX"
    for b in range(1, len(letters)):
        for c in range(b + 1, len(letters)):
            code = letters[0] + letters[b] + letters[c]
            if code not in taken:
                return code
    for digit in range(10):
        code = f"{letters[:3]:X<3}{digit}"
        if code not in taken:
            return code
    raise DomainError(f"No free DC code for {name}.")


@transaction.atomic
def open_sites(sites: list[dict], *, actor=None) -> list[DistributionCenter]:
    """Open a DC at each recommended site (a region's centre), with a transit row to every
    region it reaches by first-class mail."""
    regions = list(Region.objects.all())
    taken = set(DistributionCenter.objects.values_list("code", flat=True))
    opened = []
    for site in sites:
        region = min(
            regions, key=lambda r: km_between(r.latitude, r.longitude, site["lat"], site["lon"])
        )
        code = _code_for(region.name, taken)
        taken.add(code)
        dc = inventory.add_distribution_center(
            code=code,
            name=f"{region.name} Distribution Center",
            city=region.name,
            state=region.state,
            latitude=site["lat"],
            longitude=site["lon"],
            daily_capacity=int(site["capacity"]),
        )
        for r in regions:
            days = transit_days(km_between(site["lat"], site["lon"], r.latitude, r.longitude))
            if days is not None:
                inventory.set_transit(dc, r, days)
        opened.append(dc)
    return opened


def move_copies(moves: list[tuple[str, str, int, int]], *, actor=None) -> int:
    """(from DC code, to DC code, title id, copies) as transfers, set-wise."""
    ids = dict(DistributionCenter.objects.values_list("code", "pk"))
    unknown = {c for a, b, _, _ in moves for c in (a, b)} - set(ids)
    if unknown:
        raise DomainError(f"No distribution center {sorted(unknown)[0]}.")
    return inventory.transfer_shelf_copies(
        [(ids[a], ids[b], t, n) for a, b, t, n in moves],
        actor=actor,
        note="planner: copies for next week's demand",
    )


@transaction.atomic
def set_capacities(capacity: dict[str, int], *, actor=None) -> int:
    n = 0
    for dc in DistributionCenter.objects.filter(code__in=list(capacity)):
        inventory.set_daily_capacity(dc, capacity[dc.code])
        n += 1
    return n


def buy_copies(
    buys: list[tuple[str, int, int]], *, vendor, unit_cents: int, actor=None, receive: bool = False
) -> list:
    """One purchase order per DC (lines: title, copies), sent to `vendor`; with `receive`, each
    received whole at once (the copies go on the shelves)."""
    from collections import defaultdict

    from redenvelope.payables import actions as payables

    by_dc: dict[str, list] = defaultdict(list)
    for code, title_id, n in buys:
        if n > 0:
            by_dc[code].append((title_id, n, unit_cents))
    ids = dict(DistributionCenter.objects.values_list("code", "pk"))
    unknown = set(by_dc) - set(ids)
    if unknown:
        raise DomainError(f"No distribution center {sorted(unknown)[0]}.")
    orders = []
    with transaction.atomic():
        for code, lines in sorted(by_dc.items()):
            po = payables.create_order(
                vendor, ids[code], lines, actor=actor, note="planner: shelves for queue demand"
            )
            payables.send_order(po, actor=actor)
            if receive:
                for line in po.lines.all():
                    payables.receive(line, quantity=line.quantity, actor=actor)
            po.refresh_from_db()
            orders.append(po)
    return orders
