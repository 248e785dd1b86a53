"""The planner's figure: one what-if over 30 simulated days of a business, end to end (today's
state read into the twin, the baseline and the changed twin run for each seed side by side,
the answer worked out), the way `redenvelope plan ...` and the planner page run it.

    redenvelope bench plan --members 100000 [--question rebalance|sites|stock|staffing]

On an empty database it builds a demo business of that size first (timed apart).
"""

from __future__ import annotations

import time

from django.db import connection


def run(members: int, seed: int, console, question: str = "rebalance", days: int = 30,
        seeds=(1, 2, 3)) -> dict:  # fmt: skip
    from django.utils import timezone

    from redenvelope.accounts.actions import ensure_roles
    from redenvelope.demo import build_demo
    from redenvelope.insight.actions import ask
    from redenvelope.insight.twin_state import load_twin
    from redenvelope.membership.models import Member

    out: dict = {"database": connection.vendor, "question": question, "days": days}
    if Member.objects.count() == 0:
        ensure_roles()
        t = time.perf_counter()
        with console.status(f"building a business of {members:,} members (once) ..."):
            build_demo(members=members, seed=seed, today=timezone.localdate())
        out["build_s"] = time.perf_counter() - t
    out["members"] = Member.objects.count()
    t0 = time.perf_counter()
    twin = load_twin()
    out["load_s"] = time.perf_counter() - t0
    out["twin"] = (
        f"{twin.n_members:,} members with disc slots, {len(twin.q_title):,} queue entries, "
        f"{int(twin.shelf.sum()):,} copies on shelves, {len(twin.r_member):,} out, "
        f"{int(twin.dc_open.sum())} DCs"
    )
    t = time.perf_counter()
    options = {"sites": {"add": 1, "each": 1}, "stock": {"depths": (6,)}}.get(question, {})
    # the product's door: what the CLI, the page's job and the demo call
    ans = ask(question, twin, days=days, seeds=list(seeds), **options)
    out["what_if_s"] = time.perf_counter() - t
    out["total_s"] = time.perf_counter() - t0
    out["answer"] = ans.text()
    return out


def report(r: dict, console) -> None:
    console.print(f"{r['database']}: {r['members']:,} members" + (
        f" (built in {r['build_s']:.0f} s)" if "build_s" in r else ""))  # fmt: skip
    console.print(f"twin: {r['twin']}, read in {r['load_s']:.1f} s")
    console.print(r["answer"])
    console.print(
        f"what-if '{r['question']}' over {r['days']} simulated days: {r['what_if_s']:.1f} s; "
        f"with the read {r['total_s']:.1f} s (target ≤ 120 s)"
    )
