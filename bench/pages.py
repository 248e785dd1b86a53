"""The member website under load: gunicorn serving the site (DEBUG off, as in production) on
the configured database (PostgreSQL for the target figure), and locust driving 50 members at
once, each signed in through the login form with a real session, for two minutes.

    DATABASE_URL=postgres://... redenvelope bench pages [--members 100000] [--users 50]

On a database without members it first builds the demo business of that size (timed apart).
It prints p50/p95/p99 per page (landing, catalog, search, title, queue, history, account) and
every error; the target is p95 <= 100 ms on every page with no errors."""

from __future__ import annotations

import csv
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

PAGES = ["landing", "catalog", "search", "title", "queue", "history", "account"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prepare(members: int, console) -> tuple[list[str], list[tuple[int, str]], float | None]:
    from django.db import connection

    from redenvelope.membership.models import Member

    built = None
    if not Member.objects.exists():
        from redenvelope.demo import build_demo

        t0 = time.perf_counter()
        with console.status(f"building the {members:,}-member demo business ..."):
            build_demo(members=members, seed=1)
        built = time.perf_counter() - t0
        console.print(f"built the demo business in {built:.0f} s")
    with connection.cursor() as cur:
        # Members who can sign in and have something to see: a queue and a history.
        cur.execute(
            "SELECT u.username FROM membership_member m JOIN auth_user u ON u.id = m.user_id "
            "WHERE m.status IN ('active', 'trial') AND EXISTS (SELECT 1 FROM "
            "queues_queueentry q WHERE q.member_id = m.id) ORDER BY m.id LIMIT 500"
        )
        logins = [r[0] for r in cur.fetchall()]
        cur.execute("SELECT id, name FROM catalog_title ORDER BY popularity DESC LIMIT 3000")
        titles = cur.fetchall()
    return logins, titles, built


def run(members: int, users: int, seconds: int, workers: int, console) -> dict:
    from django.conf import settings

    from redenvelope.demo.build import DEMO_PASSWORD

    logins, titles, built = _prepare(members, console)
    if len(logins) < users:
        raise RuntimeError(f"only {len(logins)} members can sign in; {users} are needed")
    tmp = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    (tmp / "logins").write_text("\n".join(logins))
    (tmp / "titles").write_text("\n".join(f"{i}\t{n}" for i, n in titles))
    port = _free_port()
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(32),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "ERROR",
    }
    if "DATABASE_URL" not in env and settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        env["REDENVELOPE_DATA_DIR"] = str(Path(settings.DATABASES["default"]["NAME"]).parent)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "redenvelope.wsgi",
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        env=env,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                urllib.request.urlopen(base + "/", timeout=2)  # noqa: S310 (our own server)
                break
            except OSError:
                time.sleep(0.1)
        console.print(
            f"gunicorn ({workers} workers) on {base}; {users} members for {seconds} s ..."
        )
        locustfile = Path(__file__).with_name("locust_pages.py")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "locust",
                "-f",
                str(locustfile),
                "--headless",
                "--users",
                str(users),
                "--spawn-rate",
                str(max(1, users // 5)),
                "--host",
                base,
                "--csv",
                str(tmp / "out"),
                "--only-summary",
                "--loglevel",
                "ERROR",
            ],
            env={
                **env,
                "BENCH_LOGINS": str(tmp / "logins"),
                "BENCH_TITLES": str(tmp / "titles"),
                "BENCH_PASSWORD": DEMO_PASSWORD,
                "BENCH_SECONDS": str(seconds),
                "BENCH_OUT": str(tmp / "sign_ins.json"),
            },
            check=False,
            capture_output=True,
            timeout=seconds + 600,
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    with open(tmp / "out_stats.csv") as f:
        rows = {r["Name"]: r for r in csv.DictReader(f)}
    with open(tmp / "out_failures.csv") as f:
        failures = list(csv.DictReader(f))
    import json

    from django.db import connection

    sign_ins = json.loads((tmp / "sign_ins.json").read_text())["sign_in_seconds"]
    return {
        "sign_ins": sign_ins,
        "vendor": connection.vendor,
        "built": built,
        "users": users,
        "seconds": seconds,
        "workers": workers,
        "pages": {
            name: {
                "n": int(rows[name]["Request Count"]),
                "errors": int(rows[name]["Failure Count"]),
                "p50": float(rows[name]["50%"]),
                "p95": float(rows[name]["95%"]),
                "p99": float(rows[name]["99%"]),
            }
            for name in PAGES
            if name in rows
        },
        "failures": failures,
    }


def report(r: dict, console) -> None:
    from rich.table import Table

    table = Table(
        title=f"member pages on {r['vendor']}: {r['users']} signed-in members, {r['seconds']} s, "
        f"gunicorn {r['workers']} workers (target p95 <= 100 ms, no errors)"
    )
    for col in ("page", "requests", "errors", "p50 ms", "p95 ms", "p99 ms"):
        table.add_column(col, justify="right" if col != "page" else "left")
    for name, p in r["pages"].items():
        table.add_row(
            name,
            f"{p['n']:,}",
            str(p["errors"]),
            f"{p['p50']:.0f}",
            f"{p['p95']:.0f}",
            f"{p['p99']:.0f}",
        )
    console.print(table)
    s = sorted(r["sign_ins"])
    if s:
        console.print(
            f"{len(s)} sign-ins through the login form before the timing began: median "
            f"{s[len(s) // 2] * 1000:.0f} ms, slowest {s[-1] * 1000:.0f} ms (a password hash "
            "each, slow on purpose; not in the page figures)"
        )
    for f in r["failures"][:10]:
        console.print(f"[red]{f['Name']}: {f['Error']} ({f['Occurrences']} times)[/red]")
    worst = max(p["p95"] for n, p in r["pages"].items() if n in PAGES)
    errors = sum(p["errors"] for p in r["pages"].values())
    console.print(f"worst page p95 {worst:.0f} ms; {errors} errors")
