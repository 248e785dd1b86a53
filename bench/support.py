"""Customer service benchmarks, on the configured database (SQLite by default, PostgreSQL with
DATABASE_URL; the issue's lookup figure is for PostgreSQL at 1,000,000 members).

    redenvelope bench support [--members 1000000] [--lookups 1000] [--messages 2000] [--flood 1000]

1. The agent's lookup, as the console runs it (`support.queries.find_members`): by email, phone
   number, name prefix ("smi", "mary jo") and a disc's barcode, a quarter each. On a database
   with fewer members than asked it first adds them in bulk (COPY on PostgreSQL), with a disc
   out for every third member. Prints p50/p95/p99 per kind and overall.
2. The mail gateway: `redenvelope support mail-gateway` in this process (aiosmtpd, 4 workers),
   fed by 8 SMTP clients on 127.0.0.1. A third of the messages answer an earlier one of the same
   sender (In-Reply-To and References); every answer must land on its parent's case. Prints
   messages a second and how many were threaded correctly.
3. A flood: `--flood` messages from one address, sent as fast as one client can, while 4 other
   senders go on writing; the flood must end on one case, held (no new cases), staff alerted
   once, and the others' time per message must not grow.
"""

from __future__ import annotations

import datetime as dt
import smtplib
import socket
import time
import uuid
from email.message import EmailMessage

import numpy as np


def _world():
    """A plan, a region and a DC, a title: what bulk members and discs point at."""
    from redenvelope.catalog import actions as catalog
    from redenvelope.catalog.models import Title
    from redenvelope.inventory import actions as inventory
    from redenvelope.inventory.models import DistributionCenter, Region
    from redenvelope.membership import actions as membership
    from redenvelope.membership.models import Plan

    plan = Plan.objects.first() or membership.create_plan(
        code="bench", name="Bench", discs_at_once=3, monthly_price="16.99"
    )
    region = Region.objects.first() or inventory.add_region(
        zip3="100", name="Manhattan", state="NY", latitude=40.78, longitude=-73.97
    )
    dc = DistributionCenter.objects.first() or inventory.add_distribution_center(
        code="EWR",
        name="Newark",
        city="Newark",
        state="NJ",
        latitude=40.7,
        longitude=-74.2,
        daily_capacity=500,
    )
    title = Title.objects.first() or catalog.add_title(
        name="Bench Film", year=2001, release_date=dt.date(2001, 1, 1), genres=["Drama"]
    )
    return plan, region, dc, title


def ensure_members(n: int, seed: int, console) -> float:
    """Add members in bulk until there are n; returns the seconds it took."""
    from django.db import transaction

    from redenvelope.core.bulk import after_bulk_load, copy_arrays, next_id
    from redenvelope.demo.build import FIRST, LAST
    from redenvelope.inventory.barcodes import make_barcode
    from redenvelope.membership.models import Member

    have = Member.objects.count()
    if have >= n:
        return 0.0
    plan, region, dc, title = _world()
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    chunk = 200_000
    with transaction.atomic():
        while have < n:
            k = min(chunk, n - have)
            uid0, mid0 = next_id("auth_user"), next_id("membership_member")
            uids, mids = np.arange(uid0, uid0 + k), np.arange(mid0, mid0 + k)
            first = np.array(FIRST)[rng.integers(0, len(FIRST), k)]
            last = np.array(LAST)[rng.integers(0, len(LAST), k)]
            now = dt.datetime.now(dt.UTC).isoformat()
            copy_arrays(
                "auth_user",
                {
                    "id": uids,
                    "password": "!",
                    "is_superuser": False,
                    "username": [f"bench{u}" for u in uids.tolist()],
                    "first_name": first,
                    "last_name": [
                        f"{a}{u % 997}" for a, u in zip(last.tolist(), uids.tolist(), strict=True)
                    ],
                    "email": [f"bench{u}@example.com" for u in uids.tolist()],
                    "is_staff": False,
                    "is_active": True,
                    "date_joined": now,
                },
            )
            copy_arrays(
                "membership_member",
                {
                    "id": mids,
                    "user_id": uids,
                    "plan_id": plan.pk,
                    "status": "active",
                    "street": "1 Main St",
                    "city": "New York",
                    "state": "NY",
                    "zip_code": "10001",
                    "region_id": region.pk,
                    "joined_at": now,
                    "billing_day": 1,
                    "bonus_rentals": 0,
                    "blocked": False,
                    "gift_months_left": 0,
                    "gift_month_value": 0,
                    "muted_emails": "",
                    "phone": [f"1{2000000000 + int(u)}" for u in uids.tolist()],
                },
            )
            out = mids[::3]
            cid0, sid0 = next_id("inventory_copy"), next_id("fulfillment_shipment")
            cids = np.arange(cid0, cid0 + len(out))
            copy_arrays(
                "inventory_copy",
                {
                    "id": cids,
                    "barcode": [make_barcode(int(c)) for c in cids.tolist()],
                    "title_id": title.pk,
                    "format": "dvd",
                    "condition": "good",
                    "status": "shipped",
                    "dc_id": dc.pk,
                    "acquired_on": "2026-01-01",
                },
            )
            copy_arrays(
                "fulfillment_shipment",
                {
                    "id": np.arange(sid0, sid0 + len(out)),
                    "member_id": out,
                    "copy_id": cids,
                    "title_id": title.pk,
                    "dc_id": dc.pk,
                    "shipped_at": now,
                    "status": "open",
                    "bonus": False,
                },
            )
            have += k
            console.print(f"  {have:,} members")
    after_bulk_load()
    return time.perf_counter() - t0


def lookups(n: int, seed: int):
    """Queries as agents type them, a quarter of each kind."""
    from redenvelope.fulfillment.models import Shipment
    from redenvelope.membership.models import Member

    rng = np.random.default_rng(seed)
    lo, hi = (
        Member.objects.order_by("pk").values_list("pk", flat=True)[:1][0],
        (Member.objects.order_by("-pk").values_list("pk", flat=True)[:1][0]),
    )
    picks = rng.integers(lo, hi + 1, n)
    rows = dict(Member.objects.filter(pk__in=picks.tolist()).values_list("pk", "user__email"))
    phones = dict(Member.objects.filter(pk__in=picks.tolist()).values_list("pk", "phone"))
    names = dict(Member.objects.filter(pk__in=picks.tolist()).values_list("pk", "user__last_name"))
    firsts = dict(
        Member.objects.filter(pk__in=picks.tolist()).values_list("pk", "user__first_name")
    )
    barcodes = list(
        Shipment.objects.filter(member_id__in=picks.tolist()).values_list(
            "copy__barcode", flat=True
        )
    ) or [None]
    out = []
    for i, m in enumerate(picks.tolist()):
        if m not in rows:
            continue
        kind = ("email", "phone", "name", "barcode")[i % 4]
        if kind == "email":
            q = rows[m].upper() if i % 8 == 0 else rows[m]
        elif kind == "phone":
            p = phones[m]
            q = f"({p[1:4]}) {p[4:7]}-{p[7:]}" if len(p) == 11 else p
        elif kind == "name":
            q = names[m][: 3 + i % 4] if i % 3 else f"{firsts[m]} {names[m][:4]}"
        else:
            q = barcodes[i % len(barcodes)]
            if q is None:
                continue
        out.append((kind, q))
    return out


def time_lookups(queries):
    from redenvelope.support.queries import find_members

    times = {}
    for _kind, q in queries[:20]:
        find_members(q)  # warm
    for kind, q in queries:
        t = time.perf_counter()
        found = find_members(q)
        len(found.members)
        times.setdefault(kind, []).append((time.perf_counter() - t) * 1000)
    return {k: np.asarray(v) for k, v in times.items()}


# --- mail -------------------------------------------------------------------------------------


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _msg(sender, subject, mid, parent=None, size=600):
    m = EmailMessage()
    m["From"] = sender
    m["To"] = "support@redenvelope.example"
    m["Subject"] = subject
    m["Message-ID"] = mid
    if parent:
        m["In-Reply-To"] = parent
        m["References"] = parent
    m.set_content("Hello, about my disc. " + "x" * size)
    return m


def _send_all(port: int, batch: list[tuple[str, bytes]]) -> list[float]:
    """Send (sender, message bytes) over one SMTP connection; the seconds each took. Runs in a
    client process of its own, so the clients do not share the server's interpreter."""
    out = []
    with smtplib.SMTP("127.0.0.1", port) as c:
        for sender, data in batch:
            t = time.perf_counter()
            c.sendmail(sender, ["support@redenvelope.example"], data)
            out.append(time.perf_counter() - t)
    return out


def _send_until(port: int, batch, stop_after: float) -> list[float]:
    """Like _send_all, but stop once `stop_after` seconds have passed."""
    out = []
    end = time.perf_counter() + stop_after
    with smtplib.SMTP("127.0.0.1", port) as c:
        for sender, data in batch:
            if time.perf_counter() > end:
                break
            t = time.perf_counter()
            c.sendmail(sender, ["support@redenvelope.example"], data)
            out.append(time.perf_counter() - t)
    return out


def mail_run(messages: int, flood: int, seed: int, console) -> dict:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from redenvelope.support import gateway
    from redenvelope.support.models import Case, Interaction

    _world()
    port = _port()
    run = uuid.uuid4().hex[:8]
    rng = np.random.default_rng(seed)
    senders = [f"sender{run}{i}@example.org" for i in range(max(8, messages // 5))]
    # Two thirds new messages, then a third that answer one of them (its sender writing again,
    # In-Reply-To and References set): the answers go in a second wave, since a reply is stored
    # after the message it answers, as mail arrives in life.
    first = messages - messages // 3
    plan = []  # (sender, mid, parent)
    for i in range(messages):
        mid = f"<m{i}.{run}@bench.example>"
        if i < first:
            plan.append((senders[int(rng.integers(len(senders)))], mid, None))
        else:
            s, parent, _ = plan[int(rng.integers(first))]
            plan.append((s, mid, parent))
    data = {mid: bytes(_msg(s, f"Question {mid[2:8]}", mid, parent)) for s, mid, parent in plan}
    waves = [plan[:first], plan[first:]]
    ctl = gateway.controller("127.0.0.1", port)
    ctl.start()
    clients = ProcessPoolExecutor(8, mp_context=multiprocessing.get_context("fork"))
    try:
        list(clients.map(_send_all, [port] * 8, [[] for _ in range(8)]))  # start the clients
        t0 = time.perf_counter()
        for wave in waves:
            items = [(s, data[mid]) for s, mid, _ in wave]
            list(clients.map(_send_all, [port] * 8, [items[k::8] for k in range(8)]))
        mail_s = time.perf_counter() - t0
        case_of = dict(
            Interaction.objects.filter(message_id__in=[p[1] for p in plan]).values_list(
                "message_id", "case_id"
            )
        )
        answers = [(mid, parent) for _, mid, parent in plan if parent]
        threaded = sum(1 for mid, parent in answers if case_of.get(mid) == case_of.get(parent))
        stored = len(case_of)

        # a flood from one address while other senders write (4 clients, each message from an
        # address of its own, as members write); first the others' pace alone
        flooder = f"flood{run}@example.org"
        others = [f"other{run}{i}@example.org" for i in range(4)]

        def other_mail(tag):
            return [
                [
                    (f"{k}.{a}", bytes(_msg(f"{k}.{a}", f"{tag} {k}", f"<{tag}{k}.{a}>")))
                    for k in range(400)
                ]
                for a in others
            ]

        alone = list(clients.map(_send_until, [port] * 4, other_mail("alone"), [3.0] * 4))
        flood_mail = [
            (flooder, bytes(_msg(flooder, f"Spam {k}", f"<f{k}.{run}@bench.example>", size=200)))
            for k in range(flood)
        ]
        t0 = time.perf_counter()
        flood_job = clients.submit(_send_all, port, flood_mail)
        during = [clients.submit(_send_until, port, batch, 4.0) for batch in other_mail("during")]
        flood_job.result()
        flood_s = time.perf_counter() - t0
        during = [f.result() for f in during]
    finally:
        clients.shutdown()
        ctl.stop()
    flat = [x for xs in during for x in xs]
    base = [x for xs in alone for x in xs]
    return {
        "messages": messages,
        "stored": stored,
        "mail_s": mail_s,
        "per_s": messages / mail_s,
        "answers": len(answers),
        "threaded": threaded,
        "flood": flood,
        "flood_s": flood_s,
        "flood_cases": Case.objects.filter(contact=flooder).count(),
        "flood_kept": Interaction.objects.filter(address=flooder).count(),
        "flood_held": Interaction.objects.filter(address=flooder, held=True).count(),
        "others_alone_ms": float(np.median(base) * 1000),
        "others_during_ms": float(np.median(flat) * 1000) if flat else 0.0,
        "others_sent": len(flat),
    }


def run(members: int, n_lookups: int, messages: int, flood: int, seed: int, console) -> dict:
    from django.db import connection

    console.print(f"Members: making sure there are {members:,} ...")
    build_s = ensure_members(members, seed, console)
    queries = lookups(n_lookups, seed)
    times = time_lookups(queries)
    console.print(f"Mail: {messages:,} messages through the gateway, then a flood of {flood:,}")
    mail = mail_run(messages, flood, seed, console)
    return {
        "vendor": connection.vendor,
        "members": members,
        "build_s": build_s,
        "lookup": times,
        **mail,
    }


def report(r: dict, console) -> None:
    from rich.table import Table

    table = Table(title=f"Agent lookup, {r['members']:,} members, {r['vendor']}")
    for col in ("kind", "queries", "p50 ms", "p95 ms", "p99 ms"):
        table.add_column(col, justify="right")
    every = np.concatenate(list(r["lookup"].values()))
    for kind, t in [*r["lookup"].items(), ("all", every)]:
        table.add_row(kind, str(len(t)), *(f"{np.percentile(t, p):.1f}" for p in (50, 95, 99)))
    console.print(table)
    p95 = float(np.percentile(every, 95))
    shown = r["vendor"] == "postgresql" and r["members"] >= 1_000_000
    verdict = ("met" if p95 <= 50 else "NOT met") if shown else "not shown by this run"
    console.print(
        f"lookup p95 {p95:.1f} ms (target <= 50 ms on PostgreSQL at 1,000,000 members: {verdict})"
    )
    console.print(
        f"mail gateway: {r['messages']:,} messages in {r['mail_s']:.2f} s = "
        f"{r['per_s']:.0f} a second (target >= 200: {'met' if r['per_s'] >= 200 else 'NOT met'});"
        f" stored {r['stored']:,}; answers threaded onto their parent's case: "
        f"{r['threaded']}/{r['answers']}"
    )
    console.print(
        f"flood: {r['flood']:,} messages from one address in {r['flood_s']:.1f} s -> "
        f"{r['flood_cases']} case(s), {r['flood_kept']:,} kept, {r['flood_held']:,} held; "
        f"another sender's time a message {r['others_alone_ms']:.1f} ms alone, "
        f"{r['others_during_ms']:.1f} ms during the flood ({r['others_sent']} sent)"
    )
