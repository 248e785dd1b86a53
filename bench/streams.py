"""Streaming benchmarks: leases on Redis (a throw-away redis-server unless REDIS_URL is set) and
the encoding ladder.

    redenvelope bench streams [--members 1000] [--seconds 10] [--encode-seconds 60]

1. Heartbeats a second, sustained for `--seconds`, through `streaming.actions.heartbeat` (what the
   player's heartbeat calls: the Lua script on Redis, no database), from 4 client processes, over
   the leases of `--members` members each playing on every screen of their plan.
2. Starts: p50/p95/p99 of `streaming.actions.start_playback` (member, title, licence window and
   encode checked, the lease taken, the session written) and of the lease alone.
3. A race: `--members` members x (screens + 2) starters pressing play at once (16 threads in
   each of 4 processes, barrier-released); after it, no member has more leases than screens.
4. `media encode` of a generated `--encode-seconds` 1080p master into the whole ladder: wall time
   and real-time factor (0 to skip).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
import uuid
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from types import SimpleNamespace

import numpy as np


def _setup(members: int, console):
    """Plans with 1, 2 and 4 screens, a licensed and encoded title, and `members` members
    (added in bulk when the database has fewer bench members)."""
    import datetime as dt

    from redenvelope.catalog import actions as catalog
    from redenvelope.catalog.models import Title
    from redenvelope.core import clock
    from redenvelope.membership import actions as membership
    from redenvelope.membership.models import Member, Plan
    from redenvelope.rights import actions as rights
    from redenvelope.rights import queries as rq
    from redenvelope.streaming.models import Encode

    plans = []
    for screens in (1, 2, 4):
        code = f"bench-stream-{screens}"
        plans.append(
            Plan.objects.filter(code=code).first()
            or membership.create_plan(
                code=code,
                name=f"Bench {screens} screens",
                discs_at_once=0,
                streaming_screens=screens,
                monthly_price="9.99",
            )
        )
    title = Title.objects.filter(name="Bench Stream").first() or catalog.add_title(
        name="Bench Stream", year=2001, release_date=dt.date(2001, 1, 1), genres=["Drama"]
    )
    if rq.window_now(title.pk, "US") is None:
        rights.add_window(title, territories="US", starts_at=clock.now() - dt.timedelta(days=1))
    if not Encode.objects.filter(title=title, status="ready").exists():
        now = clock.now()
        Encode.objects.create(
            title=title,
            master_sha256="0" * 64,
            master_name="bench",
            status="ready",
            prefix="bench",
            duration_s=3600,
            started_at=now,
            finished_at=now,
        )
    have = list(
        Member.objects.filter(plan__in=plans).select_related("plan").order_by("pk")[:members]
    )
    if len(have) < members:
        from bench.support import ensure_members

        base = Member.objects.count()
        ensure_members(base + members - len(have), 11, console)
        fresh = Member.objects.order_by("-pk")[: members - len(have)]
        ids = list(fresh.values_list("pk", flat=True))
        for k, plan in enumerate(plans):
            Member.objects.filter(pk__in=ids[k :: len(plans)]).update(plan=plan, status="active")
        have = list(
            Member.objects.filter(plan__in=plans).select_related("plan").order_by("pk")[:members]
        )
    return title, have


def _beat_worker(url: str, ttl: float, pairs: list[tuple[int, str]], seconds: float) -> int:
    from django.conf import settings

    from redenvelope.streaming import actions

    settings.REDENVELOPE["REDIS_URL"] = url
    members = {m: SimpleNamespace(pk=m) for m, _ in pairs}
    n, k, end = 0, 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        for _ in range(200):
            m, lease = pairs[k % len(pairs)]
            actions.heartbeat(members[m], lease, position=float(k % 3600))
            k += 1
        n += 200
    return n


def _race_worker(url: str, jobs: list[tuple[int, int, str]]) -> list[tuple[int, bool]]:
    from redenvelope.streaming.leases import RedisLeases

    store = RedisLeases(url, prefix="race")
    barrier = threading.Barrier(16)

    def go(job):
        m, screens, lease = job
        return m, store.start(m, lease, screens, 60)[0]

    with ThreadPoolExecutor(16, initializer=barrier.wait) as pool:
        return list(pool.map(go, jobs))


def encode_run(seconds: int, console) -> dict:
    import subprocess
    import tempfile
    from pathlib import Path

    from redenvelope.catalog import actions as catalog
    from redenvelope.streaming import media

    tmp = Path(tempfile.mkdtemp(prefix="bench-encode-"))
    master = tmp / "master.mp4"
    media.make_test_master(master, seconds=seconds, height=1080)
    title = catalog.add_title(
        name=f"Bench Encode {uuid.uuid4().hex[:6]}",
        year=2001,
        release_date="2001-01-01",
        genres=["Drama"],
    )
    t0 = time.perf_counter()
    enc = media.encode_title(title.pk, master, console=console)
    wall = time.perf_counter() - t0
    subprocess.run(["rm", "-rf", str(tmp)], check=False)
    return {
        "encode_s": wall,
        "encode_rtf": seconds / wall,
        "renditions": enc.renditions.count(),
        "bytes": sum(r.size_bytes for r in enc.renditions.all()),
    }


def run(members: int, seconds: float, encode_seconds: int, console) -> dict:
    from django.conf import settings
    from django.db import connection

    from redenvelope.core import services
    from redenvelope.streaming import actions, leases

    out: dict = {"members": members, "database": connection.vendor}
    given = os.environ.get("REDIS_URL", "")
    ctx = services.redis_server() if not given else None
    url = given or ctx.__enter__()
    try:
        settings.REDENVELOPE["REDIS_URL"] = url
        store = leases.store()
        title, people = _setup(members, console)
        # starts through the action (database + Redis), then the lease alone
        t_action, sessions = [], []
        for m in people:
            for _ in range(m.plan.streaming_screens):
                t = time.perf_counter()
                sessions.append(actions.start_playback(m, title.pk))
                t_action.append(time.perf_counter() - t)
        t_lease = []
        for m in people[:1000]:
            t = time.perf_counter()
            store.start(m.pk + 10_000_000, uuid.uuid4().hex, 4, 60)
            t_lease.append(time.perf_counter() - t)
        out["start_ms"] = np.percentile(np.array(t_action) * 1000, [50, 95, 99]).tolist()
        out["lease_start_ms"] = np.percentile(np.array(t_lease) * 1000, [50, 95, 99]).tolist()
        out["leases"] = len(sessions)
        # heartbeats, 4 client processes
        pairs = [(s.member_id, s.lease_id) for s in sessions]
        connection.close()
        ctxp = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(4, mp_context=ctxp) as pool:
            parts = [pairs[k::4] for k in range(4)]
            t0 = time.perf_counter()
            counts = list(pool.map(_beat_worker, [url] * 4, [60.0] * 4, parts, [seconds] * 4))
            wall = time.perf_counter() - t0
        out["beats"] = sum(counts)
        out["beats_per_s"] = sum(counts) / wall
        # still every lease alive after the load
        out["alive_after"] = sum(len(store.live(m.pk)) for m in people)
        # the race
        rng = np.random.default_rng(5)
        screens = {m: int(rng.choice([1, 2, 4])) for m in range(1, members + 1)}
        jobs = [(m, n, f"r{m}-{k}") for m, n in screens.items() for k in range(n + 2)]
        order = rng.permutation(len(jobs))
        jobs = [jobs[i] for i in order]
        with ProcessPoolExecutor(4, mp_context=ctxp) as pool:
            results = [
                r
                for part in pool.map(_race_worker, [url] * 4, [jobs[k::4] for k in range(4)])
                for r in part
            ]
        won: dict[int, int] = {}
        for m, ok in results:
            won[m] = won.get(m, 0) + int(ok)
        race = leases.RedisLeases(url, prefix="race")
        out["race_starters"] = len(jobs)
        out["race_over"] = sum(1 for m, n in screens.items() if won.get(m, 0) > n)
        out["race_under"] = sum(1 for m, n in screens.items() if won.get(m, 0) < n)
        out["race_live_over"] = sum(1 for m, n in screens.items() if len(race.live(m)) > n)
        race.flush()
        for s in sessions:
            actions.stop_playback(SimpleNamespace(pk=s.member_id), s.lease_id)
    finally:
        if ctx is not None:
            ctx.__exit__(None, None, None)
    if encode_seconds:
        out.update(encode_run(encode_seconds, console))
    return out


def report(r: dict, console) -> None:
    p = r["start_ms"]
    q = r["lease_start_ms"]
    console.print(
        f"leases: {r['leases']:,} screens of {r['members']:,} members ({r['database']} + Redis)"
    )
    ok = "met" if r["beats_per_s"] >= 10_000 else "NOT met"
    console.print(
        f"heartbeats: {r['beats']:,} in the run = {r['beats_per_s']:,.0f} a second "
        f"(target >= 10,000: {ok}); leases alive after: {r['alive_after']:,}/{r['leases']:,}"
    )
    ok = "met" if p[1] <= 5 else "NOT met"
    console.print(
        f"starts (the action: checks, lease, session row): p50 {p[0]:.2f} ms, p95 {p[1]:.2f} ms, "
        f"p99 {p[2]:.2f} ms (target p95 <= 5 ms: {ok}); the lease alone p50 {q[0]:.2f}, "
        f"p95 {q[1]:.2f}, p99 {q[2]:.2f} ms"
    )
    ok = "never exceeded" if r["race_over"] == 0 and r["race_live_over"] == 0 else "EXCEEDED"
    console.print(
        f"race: {r['race_starters']:,} starters for {r['members']:,} members at once: screen "
        f"limit {ok} ({r['race_over']} over, {r['race_under']} under their screens)"
    )
    if "encode_s" in r:
        console.print(
            f"encode: {r['renditions']} renditions, {r['bytes'] / 1e6:,.1f} MB in "
            f"{r['encode_s']:.1f} s wall = {r['encode_rtf']:.2f}x real time"
        )
