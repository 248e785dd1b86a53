"""Streaming tests: a real Redis server (Debian's redis-server, started here on a free port, as
`.ci/run` starts PostgreSQL) and the database store, each test run on both."""

from __future__ import annotations

import datetime as dt

import pytest

from redenvelope.core import clock
from redenvelope.rights import actions as rights
from redenvelope.streaming import leases
from redenvelope.streaming.models import Encode


@pytest.fixture(params=["database", "redis"])
def lease_store(request, settings):
    """Each test once with leases in the database, once in Redis."""
    url = request.getfixturevalue("redis_url") if request.param == "redis" else ""
    settings.REDENVELOPE = {**settings.REDENVELOPE, "REDIS_URL": url}
    store = leases.store()
    if url:
        store.flush()
    yield store
    if url:
        store.flush()


def ready(title, seconds: float = 600.0) -> Encode:
    """A title made playable without running ffmpeg: an encode row as `media` leaves one."""
    now = clock.now()
    return Encode.objects.create(
        title=title,
        master_sha256=f"{title.pk:064d}",
        master_name="test.mp4",
        status=Encode.Status.READY,
        prefix=f"titles/{title.pk}/test",
        duration_s=seconds,
        started_at=now,
        finished_at=now,
    )


def licensed(title, territories="US", days_before=1, days_after=None, **kw):
    now = clock.now()
    return rights.add_window(
        title,
        territories=territories,
        starts_at=now - dt.timedelta(days=days_before),
        ends_at=now + dt.timedelta(days=days_after) if days_after is not None else None,
        **kw,
    )
