"""Streaming in the demo and the simulator: generated masters encoded through the real pipeline,
members watching by plan through the same actions as a player, and a few live screens kept
playing with heartbeats while the demo is served."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from redenvelope.demo import build_demo
from redenvelope.demo.streaming import demo_titles, seed_streaming
from redenvelope.membership.models import Member
from redenvelope.rights.models import LicenseWindow
from redenvelope.sim import simulate
from redenvelope.sim.streaming import Viewers
from redenvelope.streaming import queries
from redenvelope.streaming.models import Device, Encode, Session, WatchPosition

DAY = dt.date(2026, 10, 1)


@pytest.fixture
def business(settings, tmp_path):
    settings.REDENVELOPE = {
        **settings.REDENVELOPE,
        "MEDIA_STORAGE_URL": f"file://{tmp_path}",
        "REDIS_URL": "",
        "STREAM_HEARTBEAT_S": 1,
        "STREAM_LEASE_S": 3,
    }
    build_demo(members=200, seed=5, n_films=150, catalog="synthetic", today=DAY)
    return seed_streaming(titles=2, seconds=4)


@pytest.mark.django_db(transaction=True)
def test_demo_streams_and_members_watch_by_plan(business):
    assert len(business.encoded) == 2 and len(demo_titles()) == 2
    assert Encode.objects.filter(status="ready", has_captions=True).count() == 1
    assert Device.objects.filter(member__user__username="member").count() == 1
    kinds = set(Member.objects.values_list("plan__discs_at_once", "plan__streaming_screens"))
    assert any(d == 0 for d, _ in kinds) and any(s == 0 for _, s in kinds)  # both one-sided
    assert LicenseWindow.objects.filter(territories="CA,GB").exists()  # not streamable here

    reports = simulate(3, start=DAY + dt.timedelta(days=1), seed=3)
    watched = sum(r.streams for r in reports)
    assert watched > 50 and watched == Session.objects.count()
    assert not Session.objects.filter(member__plan__streaming_screens=0).exists()
    assert not Session.objects.filter(ended_at__isnull=True).exists()  # every screen stopped
    assert WatchPosition.objects.exists()
    # More screens, more watching: the share of members who watched grows with the plan.
    share = {}
    for screens in (1, 4):
        members = Member.objects.filter(plan__streaming_screens=screens, status="active")
        did = members.filter(stream_sessions__isnull=False).distinct().count()
        share[screens] = did / max(1, members.count())
    assert share[4] > share[1]
    hours = queries.hours_by_title(days=3650)
    assert {row["title_id"] for row in hours} <= {pk for pk, _ in demo_titles()}
    # A day simulated again is not watched twice.
    simulate(1, start=DAY + dt.timedelta(days=3), seed=3)
    assert Session.objects.count() == watched

    viewers = Viewers(3).start()
    try:
        end = time.monotonic() + 20
        while time.monotonic() < end and len(viewers.playing) < 3:
            time.sleep(0.1)
        assert len(viewers.playing) == 3
        time.sleep(4)  # past the lease length: only the heartbeats keep them
        assert len(queries.live_sessions()) == 3
    finally:
        viewers.stop()
    assert not Session.objects.filter(ended_at__isnull=True).exists()
