"""One whole dispatch day end to end on a database: read inputs, solve, write shipments, pick
lists and labels. Meant for PostgreSQL (DATABASE_URL=postgres://...).

    redenvelope bench day --members 1000000

On an empty database it first builds a demo business of that size (timed separately); then it
runs the day after the last recorded run and prints the split by phase.
"""

from __future__ import annotations

import datetime as dt
import time

from django.db import connection
from django.utils import timezone

from redenvelope.core.errors import DomainError


def run(members: int, seed: int, console) -> dict:
    from redenvelope.accounts.actions import ensure_roles
    from redenvelope.demo import build_demo
    from redenvelope.fulfillment.dispatch import run_dispatch
    from redenvelope.fulfillment.models import DispatchRun
    from redenvelope.membership.models import Member

    console.width = max(console.width, 130)
    if connection.vendor != "postgresql":
        console.print(
            "[yellow]Not PostgreSQL: figures are for "
            f"{connection.vendor}; set DATABASE_URL=postgres://... for the target."
            "[/yellow]"
        )
    have = Member.objects.count()
    out = {"members": have or members}
    if have == 0:
        ensure_roles()
        t = time.perf_counter()
        with console.status(f"building a business of {members:,} members (once) ..."):
            report = build_demo(members=members, seed=seed, today=timezone.localdate())
        out["build_s"] = time.perf_counter() - t
        console.print(report.summary())
    elif have != members:
        raise DomainError(
            f"The database holds {have:,} members, not {members:,}; use an empty "
            "database or that size."
        )
    last = DispatchRun.objects.order_by("-run_date").values_list("run_date", flat=True).first()
    day = (last + dt.timedelta(days=1)) if last else timezone.localdate()

    # The same door as production; the run records its own phases. Its wall time includes the
    # commit, where PostgreSQL runs the deferred foreign-key checks of every row written.
    # Pick lists and labels are drawn by worker processes while the shipments are written; what
    # is left of them after the commit is the last phase.
    t1 = time.perf_counter()
    run = run_dispatch(day, notify=False, documents=True)
    t3 = time.perf_counter()
    t2 = t3 - run.documents_wait_s
    paths = run.documents
    f = run.figures
    out.update(
        {
            "day": str(day),
            "members_with_slots": f["members_considered"],
            "shipments": f["shipments"],
            "read_inputs_s": f["seconds"]["gather"],
            "solve_s": f["seconds"]["solve"],
            "write_shipments_s": f["seconds"]["record"],
            "commit_s": (t2 - t1)
            - f["seconds"]["gather"]
            - f["seconds"]["solve"]
            - f["seconds"]["record"],
            "record_parts": f["seconds"].get("record_parts", {}),
            "gather_parts": f["seconds"].get("gather_parts", {}),
            "documents_s": t3 - t2,
            "documents": len(paths),
            "total_s": t3 - t1,
            "database": connection.vendor,
        }
    )
    return out


def report(r: dict, console) -> None:
    from rich.table import Table

    table = Table(
        title=f"Dispatch day {r['day']} on {r['database']}: {r['members']:,} members, "
        f"{r['members_with_slots']:,} with open slots, {r['shipments']:,} "
        "shipments"
    )
    table.add_column("phase")
    table.add_column("seconds", justify="right")
    for label, key in (
        ("read inputs", "read_inputs_s"),
        ("solve", "solve_s"),
        ("write shipments", "write_shipments_s"),
        ("commit (deferred checks)", "commit_s"),
        ("pick lists and labels (left after the commit)", "documents_s"),
        ("whole run", "total_s"),
    ):
        table.add_row(label, f"{r[key]:.2f}")
        parts = {"write_shipments_s": "record_parts", "read_inputs_s": "gather_parts"}
        if key in parts:
            for step, secs in r.get(parts[key], {}).items():
                table.add_row(f"  {step}", f"{secs:.2f}")
    console.print(table)
    if "build_s" in r:
        console.print(f"(building the business first took {r['build_s']:.1f} s, not counted)")
    console.print(f"target: whole run <= 60 s: {'met' if r['total_s'] <= 60 else 'NOT met'}")
