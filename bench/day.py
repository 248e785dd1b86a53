"""One whole dispatch day end to end on a database: read inputs, solve, write shipments, pick
lists and labels. Meant for PostgreSQL (DATABASE_URL=postgres://...).

    redenvelope bench day --members 1000000

On an empty database it first builds a demo business of that size (timed separately); then it
runs the day after the last recorded run the way the scheduler does (each open DC's run at its
cut-off, `--national` for one national run), with emails queued in each run and pick lists and
labels drawn, prints the split by phase, and then delivers the emails to a local SMTP server,
timed on their own.
"""

from __future__ import annotations

import datetime as dt
import time

from django.db import connection
from django.utils import timezone

from redenvelope.core.errors import DomainError


def run(
    members: int, seed: int, console, national: bool = False, deliver_limit: int = 20_000
) -> dict:
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
    out["day"] = str(day)
    out["database"] = connection.vendor
    out["scope"] = "national" if national else "per DC"

    # The product's own door: the scheduler's job (`run_due_dispatches`, each open DC at its
    # cut-off) or one national run; emails on (queued with each run, in its transaction), pick
    # lists and labels drawn. The emails are delivered afterwards to a local SMTP server, timed
    # on their own (in production the worker, or the committing process after the commit).
    from django.conf import settings

    from redenvelope.core.mail import deliver, pending_count
    from redenvelope.core.smtpsink import SmtpSink
    from redenvelope.fulfillment.dispatch import run_due_dispatches

    settings.REDENVELOPE = {**settings.REDENVELOPE, "MAIL_DELIVERY": "worker"}
    t1 = time.perf_counter()
    if national:
        runs = [run_dispatch(day, notify=True, documents=True)]
    else:
        evening = timezone.make_aware(dt.datetime.combine(day, dt.time(23, 59)))
        runs = run_due_dispatches(evening)
    total = time.perf_counter() - t1
    out["runs"] = []
    for run in runs:
        f = run.figures
        sec = f.get("seconds", {})
        out["runs"].append(
            {
                "scope": run.scope,
                "members_with_slots": f.get("members_considered", 0),
                "shipments": f.get("shipments", 0),
                "emails": f.get("emails_queued", 0),
                "read_inputs_s": sec.get("gather", 0.0),
                "solve_s": sec.get("solve", 0.0),
                "write_shipments_s": sec.get("record", 0.0),
                "emails_s": sec.get("emails", 0.0),
                "documents_s": run.documents_wait_s,
                "record_parts": sec.get("record_parts", {}),
                "gather_parts": sec.get("gather_parts", {}),
                "documents": len(run.documents),
            }
        )
    runs_out = out["runs"]

    def summed(k):
        return sum(r[k] for r in runs_out)

    out.update(
        {
            "members_with_slots": summed("members_with_slots"),
            "shipments": summed("shipments"),
            "emails": summed("emails"),
            "read_inputs_s": summed("read_inputs_s"),
            "solve_s": summed("solve_s"),
            "write_shipments_s": summed("write_shipments_s"),
            "emails_s": summed("emails_s"),
            "documents_s": summed("documents_s"),
            "documents": summed("documents"),
            "total_s": total,
        }
    )
    from redenvelope.fulfillment.dispatch import side_by_side

    out["side_by_side"] = 1 if national else side_by_side(len(runs))
    # What is not in the runs' own phases (commits, the scheduler's own reads); with runs
    # side by side the phases add up to more than the day.
    out["commit_s"] = max(
        0.0,
        total
        - sum(
            out[k]
            for k in ("read_inputs_s", "solve_s", "write_shipments_s", "emails_s", "documents_s")
        ),
    )
    parts: dict[str, dict[str, float]] = {"record_parts": {}, "gather_parts": {}}
    for r in runs_out:
        for group, steps in parts.items():
            for step, secs in r[group].items():
                steps[step] = steps.get(step, 0.0) + secs
    out.update(parts)
    queued = pending_count()
    with SmtpSink(keep=False) as sink:
        for k, v in sink.settings().items():
            setattr(settings, k, v)
        t = time.perf_counter()
        sent = deliver(limit=deliver_limit or None)["sent"]
        out["deliver_s"] = time.perf_counter() - t
    out["delivered"] = sent
    out["smtp_received"] = sink.inbox.count
    out["queued_before"] = queued
    return out


def report(r: dict, console) -> None:
    from rich.table import Table

    table = Table(
        title=f"Dispatch day {r['day']} on {r['database']} ({r['scope']}, "
        f"{len(r['runs'])} runs): {r['members']:,} members, {r['members_with_slots']:,} "
        f"with open slots, {r['shipments']:,} shipments, {r['emails']:,} emails"
    )
    table.add_column("phase")
    table.add_column("seconds", justify="right")
    for label, key in (
        ("read inputs", "read_inputs_s"),
        ("solve", "solve_s"),
        ("write shipments", "write_shipments_s"),
        ("render and queue emails (in the run's transaction)", "emails_s"),
        ("commit and the rest", "commit_s"),
        ("pick lists and labels (left after the commit)", "documents_s"),
        ("whole day", "total_s"),
    ):
        table.add_row(label, f"{r[key]:.2f}")
        parts = {"write_shipments_s": "record_parts", "read_inputs_s": "gather_parts"}
        if key in parts:
            for step, secs in r.get(parts[key], {}).items():
                table.add_row(f"  {step}", f"{secs:.2f}")
    console.print(table)
    if r.get("side_by_side", 1) > 1:
        console.print(
            f"(the DCs' runs went side by side, {r['side_by_side']} at a time, as the scheduler "
            "runs the DCs due together: the phases are summed over the runs, so they add up to "
            "more than the whole day)"
        )
    if len(r["runs"]) > 1:
        per = Table(title="Runs (the scheduler's order)")
        for c in ("DC", "members", "shipments", "read", "solve", "write", "docs"):
            per.add_column(c, justify="right")
        for x in r["runs"]:
            per.add_row(
                x["scope"],
                f"{x['members_with_slots']:,}",
                f"{x['shipments']:,}",
                f"{x['read_inputs_s']:.2f}",
                f"{x['solve_s']:.2f}",
                f"{x['write_shipments_s']:.2f}",
                f"{x['documents_s']:.2f}",
            )
        console.print(per)
    rate = r["delivered"] / r["deliver_s"] if r["deliver_s"] else 0
    console.print(
        f"emails: {r['emails']:,} queued by the runs; delivered {r['delivered']:,} through SMTP "
        f"(a local aiosmtpd server received {r['smtp_received']:,}) in {r['deliver_s']:.1f} s "
        f"({rate:,.0f} a second by one deliverer, after the runs; "
        f"{r['queued_before'] - r['delivered']:,} left queued for the worker)"
    )
    if "build_s" in r:
        console.print(f"(building the business first took {r['build_s']:.1f} s, not counted)")
    console.print(f"target: whole day <= 60 s: {'met' if r['total_s'] <= 60 else 'NOT met'}")
