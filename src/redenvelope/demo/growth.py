"""The demo's growth: two affiliate partners (one signs in as `partner`) whose tracked links
brought some of the demo's members (clicks before each joined, attributed by the same rule as
the site), commissions settled from what billing recorded (one held for review: the partner
lives at a referred member's address), newsletter subscribers, announcements, and this week's
newsletter issue queued with every member's picks. Run after `recs train`."""

from __future__ import annotations

import datetime as dt
import secrets

import numpy as np

from redenvelope.core import clock
from redenvelope.core.bulk import read_columns
from redenvelope.growth import actions, newsletter
from redenvelope.growth.models import Partner
from redenvelope.membership.models import Member, Plan

PARTNER_USER = "partner"


def seed_growth(password: str, *, seed: int = 1) -> dict:
    if Partner.objects.exists():
        return {"skipped": "growth is seeded already"}
    rng = np.random.default_rng(seed)
    pat = actions.create_partner(
        username=PARTNER_USER, password=password, email="pat@partners.example",
        name="Pat's Picks", street="12 Orchard Ln", zip_code="10001", flat_cents=2000,
    )  # fmt: skip
    net = actions.create_partner(
        username="cinenet", password=password, email="deals@cinenet.example",
        name="CineNet affiliate network", kind="network", flat_cents=1700,
    )  # fmt: skip
    top = Plan.objects.order_by("-monthly_price").first()
    if top is not None:
        actions.set_rule(net, top, flat_cents=2700)
    links = [
        actions.create_link(pat, code="pats-picks", name="Blog sidebar"),
        actions.create_link(pat, code="pats-newsletter", name="Pat's own newsletter"),
        actions.create_link(net, code="cinenet", name="Network default"),
    ]
    members = read_columns(
        "SELECT id, CAST(strftime('%s', joined_at) AS integer) FROM membership_member ORDER BY id"
        if _sqlite()
        else "SELECT id, CAST(EXTRACT(EPOCH FROM joined_at) AS bigint) FROM membership_member "
        "ORDER BY id",
        [("id", "int64"), ("at", "int64")],
    )
    n = members["id"].size
    referred = rng.random(n) < 0.15
    visitors = [secrets.token_hex(16) for _ in range(n)]
    c_m = np.repeat(np.nonzero(referred)[0], rng.integers(1, 4, int(referred.sum())))
    c_at = members["at"][c_m] - rng.integers(60, 40 * 86400, c_m.size)  # some too early
    lk = rng.choice(len(links), c_m.size, p=[0.45, 0.15, 0.40])
    noise = rng.integers(0, 1_000_000, c_m.size * 3)  # visitors who never joined
    clicks = {
        "token": [secrets.token_hex(12) for _ in range(c_m.size + noise.size)],
        "link_id": np.r_[
            np.array([links[k].pk for k in lk], np.int64),
            np.array([links[k].pk for k in rng.integers(0, 3, noise.size)], np.int64),
        ],
        "partner_id": np.r_[
            np.array([links[k].partner_id for k in lk], np.int64),
            np.zeros(noise.size, np.int64),
        ],
        "visitor": [visitors[m] for m in c_m.tolist()] + [f"v{x:030d}" for x in noise.tolist()],
        "at": np.r_[c_at, members["at"].max() - rng.integers(0, 60 * 86400, noise.size)],
        "ip_hash": [secrets.token_hex(8) for _ in range(c_m.size + noise.size)],
    }
    clicks["partner_id"][c_m.size :] = [links[k].partner_id for k in rng.integers(0, 3, noise.size)]
    got = actions.attribute_events(
        clicks, {"member_id": members["id"], "visitor": visitors, "at": members["at"]}
    )
    # Pat lives at the address of one member Pat referred: that commission waits for review
    from redenvelope.growth.models import Signup

    mine = Signup.objects.filter(partner_id=pat.pk).values_list("member_id", flat=True).first()
    if mine:
        m = Member.objects.get(pk=mine)
        pat.street, pat.zip_code = m.street, m.zip_code
        pat.save(update_fields=["street", "zip_code"])
    settled = actions.settle_commissions(clock.today())
    for email in ("film.fan@example.org", "cinephile@example.net"):
        sub = newsletter.subscribe(email)
        newsletter.confirm(_confirm_token(sub.pk))
    newsletter.subscribe("maybe.later@example.org")  # never confirmed: gets nothing
    posts = actions.announce_new_titles(since=clock.today() - dt.timedelta(days=60), actor="demo")
    issue = newsletter.build_issue()
    queued = newsletter.queue_issue(issue)
    return {
        "partners": 2,
        "clicks": got["clicks"],
        "attributed signups": got["credited"],
        **{f"commissions {k}": v for k, v in settled.items()},
        "announcements": posts,
        "newsletter issue": issue.pk,
        "newsletter recipients": queued,
    }


def _sqlite() -> bool:
    from django.db import connection

    return connection.vendor == "sqlite"


def _confirm_token(subscriber_id: int) -> str:
    from django.core import signing

    return signing.dumps(subscriber_id, salt=newsletter.CONFIRM_SALT, compress=True)
