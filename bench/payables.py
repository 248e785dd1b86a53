"""Content money at scale, through the paths the product runs:

1. avails import (`rights.avails.import_avails`) of ROWS rows: once as CSV into an empty set
   of windows (every row valid, all-or-nothing mode), the same file again (every row unchanged),
   the same rows as an XLSX workbook (the layout studios send) after the first import's windows
   are removed, and a file with 1% bad rows in valid-rows mode (each refused row reported);
2. licensors' revenue-share statements (`payables.actions.run_statements`) for LICENSORS
   licensors (two contracts each over the whole catalog: per-rental and per-stream shares,
   monthly flat fees, minimum guarantees advanced and recouped; some contracts start or end
   inside the month) over last month's rentals and streams of a MEMBERS-member business:
   computed, written and posted to the ledger.

    redenvelope bench payables [--members 1000000] [--rows 100000] [--licensors 500]

On a database without members it first builds the demo business of that size, then writes the
month's shipments (RENTALS per member) and streaming sessions (STREAMS per member) in bulk (both
timed apart). Meant for PostgreSQL (DATABASE_URL=postgres://...)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import time

import numpy as np

RENTALS_PER_MEMBER = 6.0
STREAMS_PER_MEMBER = 4.0
TERRITORIES = [
    "AT", "BE", "BG", "CH", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
    "IE", "IS", "IT", "LI", "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE", "SI",
    "SK", "AU", "NZ", "JP", "KR", "BR", "MX", "AR", "CL", "CO",
]  # fmt: skip


def _last_month() -> tuple[dt.date, dt.date]:
    from redenvelope.core import clock

    end = clock.today().replace(day=1)
    return (end - dt.timedelta(days=1)).replace(day=1), end


def _prepare(members: int, console) -> dict:
    from redenvelope.membership.models import Member

    out = {}
    if not Member.objects.exists():
        from redenvelope.demo import build_demo

        t0 = time.perf_counter()
        with console.status(f"building the {members:,}-member demo business ..."):
            build_demo(members=members, seed=1)
        out["build_s"] = time.perf_counter() - t0
        console.print(f"built the demo business in {out['build_s']:.0f} s")
    out["members"] = Member.objects.count()
    return out


def _stamps(epoch_seconds: np.ndarray) -> np.ndarray:
    """UTC timestamps as the text both backends store (core.bulk.db_timestamp), vectorised."""
    from redenvelope.core.bulk import is_postgres

    text = np.datetime_as_string((epoch_seconds * 1e6).astype("datetime64[us]"), unit="us")
    text = np.char.replace(text, "T", " ")
    return np.char.add(text, "+00:00") if is_postgres() else text


def _write_month(members: int, seed: int, console) -> dict:
    """Last month's rentals (shipments of real copies to real members) and streams (sessions
    of real members on an encode per title), in bulk."""
    from django.utils import timezone

    from redenvelope.core import clock
    from redenvelope.core.bulk import after_bulk_load, copy_arrays, read_columns
    from redenvelope.streaming.models import Encode, Session

    first, end = _last_month()
    tz = timezone.get_current_timezone()
    lo = dt.datetime.combine(first, dt.time(), tzinfo=tz).timestamp()
    hi = dt.datetime.combine(end, dt.time(), tzinfo=tz).timestamp()
    out = {}
    if Session.objects.filter(lease_id__startswith="bench-").exists():
        console.print("last month's rentals and streams are written already")
        return out
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    m = read_columns("SELECT id FROM membership_member ORDER BY id", [("id", "int64")])["id"]
    cp = read_columns(
        "SELECT id, title_id, dc_id FROM inventory_copy ORDER BY id",
        [("id", "int64"), ("title_id", "int64"), ("dc_id", "int64")],
    )
    n = int(len(m) * RENTALS_PER_MEMBER)
    pick = rng.integers(0, len(cp["id"]), n)
    stamps = _stamps(rng.uniform(lo, hi, n))
    with console.status(f"writing {n:,} rentals ..."):
        copy_arrays(
            "fulfillment_shipment",
            {
                "member_id": m[rng.integers(0, len(m), n)],
                "copy_id": cp["id"][pick],
                "title_id": cp["title_id"][pick],
                "dc_id": cp["dc_id"][pick],
                "shipped_at": stamps,
                "status": "returned",
                "closed_at": stamps,
                "returned_to_id": cp["dc_id"][pick],
                "run_id": None,
                "bonus": False,
            },
        )
    out["rentals"] = n
    titles = np.unique(cp["title_id"])
    have = set(
        Encode.objects.filter(title_id__in=titles.tolist()).values_list("title_id", flat=True)
    )
    now = clock.now()
    Encode.objects.bulk_create(
        [
            Encode(
                title_id=int(t),
                master_sha256="bench",
                master_name="bench",
                status="ready",
                prefix=f"bench/{t}",
                started_at=now,
            )  # fmt: skip
            for t in titles.tolist()
            if t not in have
        ],
        batch_size=5000,
    )
    enc = dict(Encode.objects.filter(title_id__in=titles.tolist()).values_list("title_id", "id"))
    s = int(len(m) * STREAMS_PER_MEMBER)
    st = titles[rng.integers(0, len(titles), s)]
    stamps = _stamps(rng.uniform(lo, hi, s))
    base = Session.objects.count()
    with console.status(f"writing {s:,} streams ..."):
        copy_arrays(
            "streaming_session",
            {
                "lease_id": [f"bench-{base + i}" for i in range(s)],
                "member_id": m[rng.integers(0, len(m), s)],
                "title_id": st,
                "device_id": None,
                "device_name": "bench",
                "encode_id": np.array([enc[int(t)] for t in st.tolist()], np.int64),
                "started_at": stamps,
                "ended_at": stamps,
                "end_reason": "stopped",
                "start_position_s": 0.0,
                "position_s": 600.0,
                "max_height": 1080,
            },
        )
    out["streams"] = s
    after_bulk_load()
    out["write_s"] = time.perf_counter() - t0
    console.print(
        f"wrote {n:,} rentals and {s:,} streams for {first:%B %Y} in {out['write_s']:.0f} s"
    )
    return out


def _contracts(licensors: int, seed: int, console) -> dict:
    """LICENSORS licensors, two contracts each, covering every title once or twice; a third of
    them with a minimum guarantee advanced (billed and approved); some starting or ending
    inside the month."""
    from redenvelope.catalog.models import Title
    from redenvelope.payables import actions as payables
    from redenvelope.rights import actions as rights
    from redenvelope.rights.models import Contract, ContractTitle, Licensor

    first, end = _last_month()
    if Licensor.objects.filter(name__startswith="Bench licensor").count() >= licensors:
        return {"contracts": Contract.objects.filter(reference__startswith="BENCH-").count()}
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    titles = np.array(Title.objects.values_list("pk", flat=True), np.int64)
    rng.shuffle(titles)
    n_contracts = 2 * licensors
    share = np.array_split(titles, n_contracts)
    made = 0
    with console.status(f"signing {n_contracts:,} contracts ..."):
        for i in range(licensors):
            lic = rights.add_licensor(f"Bench licensor {i:04d}")
            payables.set_bank_account(
                payables.vendor_for_licensor(lic), account_number=f"{10000000 + i}",
                routing_number="011000015",
            )  # fmt: skip
            for j in range(2):
                k = 2 * i + j
                starts = first - dt.timedelta(days=400)
                ends = first + dt.timedelta(days=800)
                if k % 10 == 3:
                    starts = first + dt.timedelta(days=int(rng.integers(1, 25)))
                elif k % 10 == 7:
                    ends = first + dt.timedelta(days=int(rng.integers(1, 25)))
                c = rights.add_contract(
                    lic, reference=f"BENCH-{k:05d}", name=f"Bench deal {k}", territories="US,CA",
                    starts_on=starts, ends_on=ends,
                    per_rental_cents=int(rng.integers(0, 80)),
                    per_stream_cents=int(rng.integers(0, 25)),
                    flat_fee_cents=int(rng.integers(0, 5) * 50_000),
                    flat_fee_every="month" if k % 2 else "once",
                    minimum_guarantee_cents=int(rng.integers(1, 20) * 100_000) if k % 3 == 0 else 0,
                )  # fmt: skip
                covered = share[k].tolist()
                # a tenth of the catalog is covered twice (a disc deal and a streaming deal)
                covered += titles[rng.integers(0, len(titles), len(covered) // 10)].tolist()
                ContractTitle.objects.bulk_create(
                    [ContractTitle(contract=c, title_id=t) for t in sorted(set(covered))],
                    batch_size=5000,
                )
                if c.minimum_guarantee_cents:
                    payables.bill_advance(c)
                made += 1
    dt_s = time.perf_counter() - t0
    console.print(f"signed {made:,} contracts for {licensors:,} licensors in {dt_s:.0f} s")
    return {"contracts": made, "sign_s": dt_s}


def statements(licensors: int, seed: int, console) -> dict:
    from redenvelope.checks import run_checks
    from redenvelope.ledger.queries import trial_balance
    from redenvelope.payables.actions import run_statements
    from redenvelope.payables.models import Bill, StatementLine

    out = _contracts(licensors, seed, console)
    first, _ = _last_month()
    done = Bill.objects.filter(kind="revenue_share", period=first).count()
    if done:
        console.print(f"[yellow]{done} statements for {first:%B %Y} exist: nothing to time "
                      "(use a fresh database)[/yellow]")  # fmt: skip
        out["statements_s"] = None
        return out
    t0 = time.perf_counter()
    made = run_statements(first, actor=None)
    out["statements_s"] = time.perf_counter() - t0
    out["statements"] = len(made)
    out["statement_lines"] = StatementLine.objects.filter(bill__period=first).count()
    out["payable_cents"] = sum(b.total_cents for b in made)
    t0 = time.perf_counter()
    again = run_statements(first, actor=None)
    out["again_s"] = time.perf_counter() - t0
    out["again"] = len(again)
    out["balanced"] = trial_balance().balanced
    out["payables_posted"] = next(c for c in run_checks() if c.name == "payables_posted").ok
    return out


def _avails_rows(n: int, seed: int) -> list[dict]:
    from redenvelope.catalog.models import Title

    rng = np.random.default_rng(seed)
    titles = list(Title.objects.order_by("pk").values_list("pk", "name", "year"))
    per = len(TERRITORIES)
    need = -(-n // per)
    if need > len(titles):
        raise SystemExit(f"{n:,} rows need {need:,} titles; the catalog holds {len(titles):,}")
    picked = [titles[i] for i in sorted(rng.choice(len(titles), need, replace=False).tolist())]
    rows = []
    for pk, name, year in picked:
        start = dt.date(2026, 1, 1) + dt.timedelta(days=int(rng.integers(0, 300)))
        end = start + dt.timedelta(days=int(rng.integers(180, 900)))
        for code in TERRITORIES:
            rows.append(
                {
                    "DisplayName": name, "StoreLanguage": "en", "Territory": code,
                    "WorkType": "Movie", "EntryType": "Full Extract", "TitleInternalAlias": name,
                    "LicenseType": "TVOD", "LicenseRightsDescription": "Non-exclusive",
                    "FormatProfile": "HD", "Start": start.isoformat(), "End": end.isoformat(),
                    "ContentID": f"md:cid:org:bench:{pk}", "ReleaseYear": year,
                }
            )  # fmt: skip
            if len(rows) == n:
                return rows
    return rows


def _csv(rows: list[dict]) -> bytes:
    from redenvelope.rights.avails import COLUMNS

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, extrasaction="ignore")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue().encode()


def _xlsx(rows: list[dict]) -> bytes:
    import openpyxl

    from redenvelope.rights.avails import COLUMNS

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Movies")
    sheet.append(["Avails", "bench"])
    sheet.append(COLUMNS)
    for r in rows:
        sheet.append([r.get(c, "") for c in COLUMNS])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def avails(n: int, seed: int, console) -> dict:
    from redenvelope.rights.avails import import_avails
    from redenvelope.rights.models import LicenseWindow

    LicenseWindow.objects.filter(note__startswith="avails line", kind="tvod").delete()
    rows = _avails_rows(n, seed)
    data = _csv(rows)
    out = {"rows": len(rows)}
    t0 = time.perf_counter()
    r = import_avails("bench.csv", data, mode="all")
    out["csv_s"], out["csv_created"] = time.perf_counter() - t0, r.record.created
    t0 = time.perf_counter()
    r = import_avails("bench.csv", data, mode="all")
    out["again_s"], out["again_unchanged"] = time.perf_counter() - t0, r.record.unchanged
    LicenseWindow.objects.filter(avails_import__filename="bench.csv").delete()
    book = _xlsx(rows)
    t0 = time.perf_counter()
    r = import_avails("bench.xlsx", book, mode="all")
    out["xlsx_s"], out["xlsx_created"] = time.perf_counter() - t0, r.record.created
    LicenseWindow.objects.filter(avails_import__filename="bench.xlsx").delete()
    rng = np.random.default_rng(seed + 1)
    bad = rng.choice(len(rows), len(rows) // 100, replace=False)
    for i in bad.tolist():
        rows[i] = {**rows[i], "Territory": "QQ"} if i % 2 else {**rows[i], "End": "2020-01-01"}
    t0 = time.perf_counter()
    r = import_avails("bench-bad.csv", _csv(rows), mode="valid")
    out["bad_s"], out["bad_created"], out["bad_refused"] = (
        time.perf_counter() - t0, r.record.created, r.record.rejected,
    )  # fmt: skip
    LicenseWindow.objects.filter(avails_import__filename="bench-bad.csv").delete()
    return out


def run(members: int, rows: int, licensors: int, seed: int, console) -> dict:
    from django.db import connection

    out = {"database": connection.vendor, **_prepare(members, console)}
    out.update(_write_month(out["members"], seed, console))
    with console.status(f"importing {rows:,} avails rows (four ways) ..."):
        out["avails"] = avails(rows, seed, console)
    with console.status("revenue-share statements ..."):
        out["statements"] = statements(licensors, seed, console)
    return out


def report(r: dict, console) -> None:
    from rich.table import Table

    a, s = r["avails"], r["statements"]
    t = Table(title=f"bench payables on {r['database']} ({r['members']:,} members)")
    t.add_column("what")
    t.add_column("figure", justify="right")
    t.add_column("target", justify="right")
    t.add_row(f"avails import, {a['rows']:,} rows CSV ({a['csv_created']:,} windows)",
              f"{a['csv_s']:.1f} s", "≤ 20 s")  # fmt: skip
    t.add_row(f"same file again ({a['again_unchanged']:,} unchanged)", f"{a['again_s']:.1f} s", "")
    t.add_row(f"as XLSX ({a['xlsx_created']:,} windows)", f"{a['xlsx_s']:.1f} s", "≤ 20 s")
    t.add_row(f"1% bad rows, valid mode ({a['bad_created']:,} in, {a['bad_refused']:,} refused)",
              f"{a['bad_s']:.1f} s", "")  # fmt: skip
    if s.get("statements_s") is not None:
        t.add_row(
            f"revenue-share statements: {s['statements']:,} bills, {s['statement_lines']:,} "
            f"title lines, {s['contracts']:,} contracts",
            f"{s['statements_s']:.1f} s", "≤ 30 s",
        )  # fmt: skip
        t.add_row(f"the month again ({s['again']} new)", f"{s['again_s']:.1f} s", "")
        t.add_row("ledger balanced, payables_posted", f"{s['balanced']}, {s['payables_posted']}",
                  "True, True")  # fmt: skip
    console.print(t)
