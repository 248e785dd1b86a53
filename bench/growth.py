"""Growth at scale, through the paths the product runs:

1. a personalised newsletter issue for every member of a MEMBERS-member business: recipients
   read, each member's picks scored by the live recommendations model, one delivery per
   recipient written (`newsletter.queue_issue`), then every message rendered exactly as the
   sender renders it (text, HTML, MIME);
2. that issue sent to a local SMTP server (aiosmtpd, in a process of its own) by the sender
   (`newsletter.send_issue`, exactly-once bookkeeping included): MESSAGES with the rate limit
   off, then for ten seconds at RATE messages a second;
3. attribution of EVENTS click and signup events (`actions.attribute_events`: floods marked,
   last click within the window credited, clicks and signups written).

    redenvelope bench growth [--members 1000000] [--messages 20000] [--rate 200]

On a database without members it first builds the demo business of that size and trains the
recommendations (timed apart)."""

from __future__ import annotations

import datetime as dt
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SINK = """
import asyncio, signal, sys
from aiosmtpd.controller import Controller

class Count:
    n = 0
    async def handle_DATA(self, server, session, envelope):
        Count.n += 1
        return "250 OK"

c = Controller(Count(), hostname="127.0.0.1", port=int(sys.argv[1]))
c.start()
print("ready", flush=True)
def stop(*_):
    c.stop()
    open(sys.argv[2], "w").write(str(Count.n))
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
signal.pause()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sink:
    """A counting aiosmtpd server in its own process (so it does not share our interpreter)."""

    def __init__(self):
        self.port = _free_port()
        self.out = Path(tempfile.mkdtemp(prefix="bench-smtp-")) / "count"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SINK, str(self.port), str(self.out)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout.readline().strip() == "ready"

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)
        return int(self.out.read_text())


def _prepare(members: int, console) -> dict:
    from redenvelope.membership.models import Member
    from redenvelope.recommendations.models import ModelVersion

    out = {}
    have = Member.objects.count()
    if have == 0:
        from redenvelope.demo import build_demo

        t0 = time.perf_counter()
        with console.status(f"building the {members:,}-member demo business ..."):
            build_demo(members=members, seed=1)
        out["build_s"] = time.perf_counter() - t0
        console.print(f"built the demo business in {out['build_s']:.0f} s")
    elif have < members:
        console.print(f"[yellow]the database holds {have:,} members, not {members:,}[/yellow]")
    if not ModelVersion.objects.filter(status="live").exists():
        from redenvelope.recommendations.actions import train

        t0 = time.perf_counter()
        with console.status("training the recommendations ..."):
            train(actor="bench growth")
        out["train_s"] = time.perf_counter() - t0
        console.print(f"trained the recommendations in {out['train_s']:.0f} s")
    out["members"] = Member.objects.count()
    return out


def _free_week():
    from redenvelope.core import clock
    from redenvelope.growth.models import Issue

    day = clock.today()
    while Issue.objects.filter(week=day - dt.timedelta(days=day.weekday())).exists():
        day += dt.timedelta(days=7)
    return day


def issue(console) -> tuple[dict, object]:
    from redenvelope.core.bulk import read_columns
    from redenvelope.growth import newsletter

    t0 = time.perf_counter()
    built = newsletter.build_issue(_free_week())
    steps = {}
    last = [time.perf_counter(), "recipients read"]

    def note(text):
        now = time.perf_counter()
        steps[last[1]] = now - last[0]
        last[:] = [now, text]
        console.log(text)

    n = newsletter.queue_issue(built, progress=note)
    steps[last[1]] = time.perf_counter() - last[0]
    queued = time.perf_counter() - t0
    # every message rendered as the sender renders it (in chunks of deliveries)
    t1 = time.perf_counter()
    b = newsletter.blocks(built)
    now = dt.datetime.now(dt.UTC)
    total_bytes, rendered, last_id = 0, 0, 0
    while True:
        rows = read_columns(
            "SELECT id, email, name, picks FROM growth_delivery "  # noqa: S608 - our ids
            f"WHERE issue_id = {int(built.pk)} AND id > {int(last_id)} ORDER BY id LIMIT 100000",
            [("id", "int64"), ("email", "object"), ("name", "object"), ("picks", "object")],
        )
        if rows["id"].size == 0:
            break
        for d in zip(rows["id"].tolist(), rows["email"], rows["name"], rows["picks"], strict=True):
            total_bytes += len(newsletter.mime(b, (d[0], d[1], d[2] or "", d[3] or ""), now))
        rendered += rows["id"].size
        last_id = int(rows["id"][-1])
    render_s = time.perf_counter() - t1
    with_picks = read_columns(
        "SELECT COUNT(*) FROM growth_delivery "  # noqa: S608 - our id
        f"WHERE issue_id = {int(built.pk)} AND picks <> ''",
        [("n", "int64")],
    )["n"][0]
    return {
        "recipients": n,
        "with_picks": int(with_picks),
        "queue_s": queued,
        "steps": steps,
        "render_s": render_s,
        "rendered": rendered,
        "mean_bytes": total_bytes / max(rendered, 1),
        "total_s": queued + render_s,
    }, built


def smtp(built, messages: int, rate: float, console) -> dict:
    from django.conf import settings

    from redenvelope.growth import newsletter
    from redenvelope.growth.models import Issue

    sink = Sink()
    saved = {k: getattr(settings, k) for k in ("EMAIL_HOST", "EMAIL_PORT")}
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sink.port
    try:
        with console.status(f"sending {messages:,} with no rate limit ..."):
            fast = newsletter.send_issue(
                Issue.objects.get(pk=built.pk), rate=0, connections=4, limit=messages
            )
        n_limited = int(rate * 10)
        with console.status(f"sending {n_limited:,} at {rate:g}/s ..."):
            slow = newsletter.send_issue(
                Issue.objects.get(pk=built.pk), rate=rate, connections=4, limit=n_limited
            )
    finally:
        received = sink.stop()
        settings.EMAIL_HOST, settings.EMAIL_PORT = saved["EMAIL_HOST"], saved["EMAIL_PORT"]
    newsletter.pause_issue(Issue.objects.get(pk=built.pk))  # the rest stays queued
    return {
        "fast_sent": fast.sent,
        "fast_s": fast.seconds,
        "fast_rate": fast.rate,
        "limited_sent": slow.sent,
        "limited_s": slow.seconds,
        "limited_rate": slow.rate,
        "rate": rate,
        "received": received,
        "handed": fast.sent + slow.sent,
    }


def attribution(events: int, console) -> dict:
    from redenvelope.core import clock
    from redenvelope.core.bulk import read_columns
    from redenvelope.growth import actions
    from redenvelope.growth.models import Link, Partner

    rng = np.random.default_rng(5)
    partners = []
    for k in range(20):
        name = f"bench-partner-{k}"
        p = Partner.objects.filter(name=name).first()
        if p is None:
            p = actions.create_partner(
                username=f"bench-partner-{k}-{secrets.token_hex(3)}",
                password=secrets.token_urlsafe(16),
                email=f"p{k}@partners.example",
                name=name,
                kind="network" if k % 4 == 0 else "individual",
                flat_cents=1700 + 100 * (k % 11),
            )
            actions.create_link(p, code=f"bench-{k}-{secrets.token_hex(3)}")
        partners.append(p)
    links = {lk.partner_id: lk.pk for lk in Link.objects.filter(partner__in=partners)}
    free = read_columns(
        "SELECT m.id FROM membership_member m WHERE NOT EXISTS "
        "(SELECT 1 FROM growth_signup s WHERE s.member_id = m.id) ORDER BY m.id",
        [("id", "int64")],
    )["id"]
    n_signups = min(events // 5, free.size)
    n_clicks = events - n_signups
    # visitors: each signup is one visitor; most clicks are other visitors who never join
    visitors = np.array([secrets.token_hex(16) for _ in range(n_clicks // 2 + n_signups)])
    now = int(clock.now().timestamp())
    c_vis = rng.integers(0, visitors.size, n_clicks)
    c_at = now - rng.integers(0, 60 * 86400, n_clicks)  # the last 60 days: some too old
    pidx = rng.integers(0, len(partners), n_clicks)
    pid = np.array([p.pk for p in partners], np.int64)[pidx]
    ips = np.array([secrets.token_hex(8) for _ in range(50_000)])
    c_ip = ips[rng.integers(0, ips.size, n_clicks)]
    flood_ip = ips[0]  # one address floods: a burst of clicks in a few seconds
    burst = min(2000, n_clicks // 10)
    c_ip[:burst] = flood_ip
    c_at[:burst] = now - 3600 + rng.integers(0, 30, burst)
    clicks = {
        "token": [secrets.token_hex(12) for _ in range(n_clicks)],
        "link_id": np.array([links[p] for p in pid.tolist()], np.int64),
        "partner_id": pid,
        "visitor": visitors[c_vis].tolist(),
        "at": c_at,
        "ip_hash": c_ip.tolist(),
    }
    s_vis = rng.integers(0, visitors.size, n_signups)
    signups = {
        "member_id": free[:n_signups],
        "visitor": visitors[s_vis].tolist(),
        "at": now - rng.integers(0, 86400, n_signups),
    }
    t0 = time.perf_counter()
    with console.status(f"attributing {n_clicks:,} clicks and {n_signups:,} signups ..."):
        got = actions.attribute_events(clicks, signups)
    got["seconds"] = time.perf_counter() - t0
    got["events"] = n_clicks + n_signups
    return got


def _waiting_issue():
    """The latest issue with deliveries still queued (a paused one resumed), for `--parts smtp`."""
    from redenvelope.growth import newsletter
    from redenvelope.growth.models import Delivery, Issue

    for i in Issue.objects.filter(status__in=["queued", "sending", "paused"]).order_by("-pk"):
        if Delivery.objects.filter(issue_id=i.pk, state="queued").exists():
            return newsletter.resume_issue(i) if i.status == "paused" else i
    raise RuntimeError("no issue has deliveries waiting: run the issue part first")


def run(members: int, messages: int, rate: float, events: int, console, parts=None) -> dict:
    from django.db import connection

    parts = parts or {"issue", "smtp", "attribution"}
    out = {"database": connection.vendor, "prepare": _prepare(members, console)}
    built = None
    if "issue" in parts:
        console.rule(f"newsletter: an issue for {out['prepare']['members']:,} members")
        out["issue"], built = issue(console)
    if "smtp" in parts:
        console.rule("newsletter: SMTP delivery to aiosmtpd")
        out["smtp"] = smtp(built or _waiting_issue(), messages, rate, console)
    if "attribution" in parts:
        console.rule(f"attribution: {events:,} events")
        out["attribution"] = attribution(events, console)
    return out


def report(r: dict, console) -> None:
    i, s, a = r.get("issue"), r.get("smtp"), r.get("attribution")
    if i:
        console.print(
            f"[bold]issue[/bold] ({r['database']}): {i['recipients']:,} recipients "
            f"({i['with_picks']:,} with picks) queued in {i['queue_s']:.1f} s "
            f"({', '.join(f'{k} {v:.1f} s' for k, v in i['steps'].items())}); "
            f"{i['rendered']:,} messages rendered in {i['render_s']:.1f} s "
            f"(mean {i['mean_bytes'] / 1024:.1f} KiB); rendered and queued in "
            f"{i['total_s']:.1f} s (target <= 600 s)"
        )
    if s:
        _smtp_line(s, console)
    if a:
        _attribution_line(a, console)


def _smtp_line(s: dict, console) -> None:
    off = (s["limited_rate"] - s["rate"]) / s["rate"] * 100 if s["rate"] else 0.0
    console.print(
        f"[bold]smtp[/bold]: no limit {s['fast_sent']:,} in {s['fast_s']:.1f} s = "
        f"{s['fast_rate']:,.0f} msg/s (target >= 500); limit {s['rate']:g}/s: "
        f"{s['limited_sent']:,} in {s['limited_s']:.1f} s = {s['limited_rate']:,.1f} msg/s "
        f"({off:+.1f}%, target within 5%); the server received {s['received']:,} of "
        f"{s['handed']:,} handed over"
    )


def _attribution_line(a: dict, console) -> None:
    console.print(
        f"[bold]attribution[/bold]: {a['events']:,} events ({a['clicks']:,} clicks, "
        f"{a['floods']:,} in floods; {a['signups']:,} signups, {a['credited']:,} credited, "
        f"{a['expired']:,} expired) in {a['seconds']:.1f} s (target <= 60 s)"
    )
