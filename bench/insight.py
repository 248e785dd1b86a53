"""Insight's figures: the reporting tables brought up to date on a big business, and every
dashboard rendered through the product's own page (the view, its queries, the SVG charts and
the template) as a signed-in admin, many times, with the filters people use.

    DATABASE_URL=postgres://... redenvelope bench insight --members 1000000

On an empty database it builds a demo business of that size first (as `bench day` does; run
that first to have a real dispatch day in it). Then:
  1. a full refresh of the reporting tables from the records (timed: the first refresh);
  2. an incremental refresh (what the 15-minute job does: only the days since the last);
  3. a year of history: days before the business's first record get copies of its measured
     days' facts (scaled by a seeded factor), so the charts read 365 days as a live business's
     would — said in the output;
  4. each dashboard requested `--views` times for each filter set (30 days, 90 days, 365 days,
     one DC, one plan), timed from request to rendered page: p50, p95, max.
"""

from __future__ import annotations

import datetime as dt
import time

import numpy as np
from django.db import connection, transaction

FILTERS = [
    ("30 days", ""),
    ("90 days", "?from={d90}"),
    ("365 days", "?from={d365}"),
    ("one DC", "?dc={dc}"),
    ("one plan", "?plan={plan}"),
]


def _seed_empty(rng) -> int:
    """A built business has no returns, customer service or streams yet: give those tables a
    week of plausible days (so their charts draw real rows, then copied back for the year)."""
    from django.utils import timezone

    from redenvelope.insight.models import ReturnFact, StreamFact, SupportFact
    from redenvelope.inventory.models import DistributionCenter
    from redenvelope.membership.models import Plan

    today = timezone.localdate()
    week = [today - dt.timedelta(days=i) for i in range(7)]
    made = 0
    if not SupportFact.objects.exists():
        rows = []
        for d in week:
            for channel in ("phone", "email", "chat", "web"):
                n = int(rng.integers(500, 3000))
                rows.append(
                    SupportFact(
                        day=d,
                        channel=channel,
                        opened=n,
                        responded=n - 20,
                        response_seconds=(n - 20) * int(rng.integers(60, 7200)),
                        resolved=n - 50,
                        surveys=n // 5,
                        score_sum=(n // 5) * 4,
                    )
                )
        SupportFact.objects.bulk_create(rows)  # fmt: skip
        made += len(rows)
    if not ReturnFact.objects.exists():
        rows = [
            ReturnFact(day=d, dc_id=dc, returns=int(rng.integers(20_000, 80_000)),
                       damaged=int(rng.integers(100, 800)), lost=int(rng.integers(50, 300)))
            for d in week for dc in DistributionCenter.objects.values_list("pk", flat=True)
        ]  # fmt: skip
        ReturnFact.objects.bulk_create(rows)
        made += len(rows)
    if not StreamFact.objects.exists():
        rows = [
            StreamFact(day=d, plan_id=p, streams=int(rng.integers(20_000, 90_000)),
                       seconds=int(rng.integers(10**7, 10**8)))
            for d in week for p in Plan.objects.values_list("pk", flat=True)
        ]  # fmt: skip
        StreamFact.objects.bulk_create(rows)
        made += len(rows)
    return made


def _history(days: int, seed: int) -> int:
    """Facts for the days before the first one measured, copied from the measured days."""
    from redenvelope.insight.models import (
        LedgerFact,
        MemberFact,
        ReturnFact,
        ShipFact,
        StreamFact,
        SupportFact,
    )

    rng = np.random.default_rng(seed)
    made = _seed_empty(rng)
    for model in (ShipFact, ReturnFact, MemberFact, SupportFact, StreamFact, LedgerFact):
        days_have = sorted(set(model.objects.values_list("day", flat=True)))
        if not days_have:
            continue
        first = days_have[0]
        last = max(days_have)
        want = [last - dt.timedelta(days=i) for i in range(days)]
        missing = [d for d in want if d < first]
        rows = list(model.objects.filter(day__in=days_have[-7:]).values())
        counts = [
            f.name
            for f in model._meta.fields
            if f.get_internal_type() in ("IntegerField", "BigIntegerField")
            and f.name not in ("dc_id", "plan_id")
        ]
        out = []
        for d in missing:
            factor = float(rng.uniform(0.85, 1.1))
            for r in rows:
                if (r["day"] - first).days % 7 != (d - first).days % 7:
                    continue
                new = {k: v for k, v in r.items() if k != "id"}
                new["day"] = d
                for k in counts:
                    new[k] = int(round(r[k] * factor))
                out.append(model(**new))
        with transaction.atomic():
            model.objects.bulk_create(out, batch_size=5000)
        made += len(out)
    return made


def run(members: int, seed: int, console, views: int = 20, history: int = 365) -> dict:
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone

    from redenvelope.accounts.actions import ensure_roles
    from redenvelope.demo import build_demo
    from redenvelope.insight.dashboards import DASHBOARDS
    from redenvelope.insight.refresh import refresh
    from redenvelope.inventory.models import DistributionCenter
    from redenvelope.membership.models import Member, Plan

    console.width = max(console.width, 130)
    out: dict = {"database": connection.vendor}
    have = Member.objects.count()
    if have == 0:
        ensure_roles()
        t = time.perf_counter()
        with console.status(f"building a business of {members:,} members (once) ..."):
            build_demo(members=members, seed=seed, today=timezone.localdate())
        out["build_s"] = time.perf_counter() - t
        have = Member.objects.count()
    out["members"] = have
    from redenvelope.fulfillment.models import Shipment

    out["shipments"] = Shipment.objects.count()
    t = time.perf_counter()
    full = refresh(full=True)
    out["refresh_full_s"] = time.perf_counter() - t
    out["refresh_full"] = full
    t = time.perf_counter()
    again = refresh()
    out["refresh_incremental_s"] = time.perf_counter() - t
    out["refresh_incremental"] = again
    out["history_rows"] = _history(history, seed)

    admin = get_user_model().objects.filter(is_superuser=True).first()
    if admin is None:
        from redenvelope.accounts.actions import create_staff_user

        admin = create_staff_user("bench_admin", "bench-password-123", "admin")
    client = Client()
    client.force_login(admin)
    today = timezone.localdate()
    fill = {
        "d90": today - dt.timedelta(days=89),
        "d365": today - dt.timedelta(days=364),
        "dc": DistributionCenter.objects.order_by("code").values_list("code", flat=True).first(),
        "plan": Plan.objects.order_by("code").values_list("code", flat=True).first(),
    }
    results = []
    for slug in DASHBOARDS:
        for label, query in FILTERS:
            url = f"/insight/{slug}/" + query.format(**fill)
            client.get(url)  # warm
            times = []
            for _ in range(views):
                t = time.perf_counter()
                resp = client.get(url)
                times.append((time.perf_counter() - t) * 1000)
                if resp.status_code != 200:
                    raise RuntimeError(f"{url}: {resp.status_code}")
            a = np.array(times)
            results.append(
                {"dashboard": slug, "filters": label, "p50": float(np.percentile(a, 50)),
                 "p95": float(np.percentile(a, 95)), "max": float(a.max())}
            )  # fmt: skip
    out["views"] = results
    out["views_each"] = views
    return out


def report(r: dict, console) -> None:
    console.print(
        f"{r['database']}: {r['members']:,} members, {r['shipments']:,} shipments"
        + (f"; built in {r['build_s']:.0f} s" if "build_s" in r else "")
    )
    console.print(f"full refresh {r['refresh_full_s']:.1f} s: " + ", ".join(
        f"{k} {v['seconds']:.1f}s" for k, v in r["refresh_full"].items()))  # fmt: skip
    console.print(f"incremental refresh {r['refresh_incremental_s']:.1f} s: " + ", ".join(
        f"{k} {v['seconds']:.2f}s" for k, v in r["refresh_incremental"].items()))  # fmt: skip
    console.print(
        f"history: {r['history_rows']:,} fact rows copied from measured days for the year "
        "before the first record (returns, customer service and streams: a synthetic week "
        "where the business has none yet)"
    )
    console.print(f"each dashboard, {r['views_each']} requests per filter set (ms):")
    worst = 0.0
    for v in r["views"]:
        worst = max(worst, v["p95"])
        console.print(
            f"  {v['dashboard']:11} {v['filters']:9}  p50 {v['p50']:7.1f}  p95 {v['p95']:7.1f}"
            f"  max {v['max']:7.1f}"
        )
    console.print(f"worst p95: {worst:.1f} ms (target ≤ 500 ms)")
