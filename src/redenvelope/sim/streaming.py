"""Streaming members watch, by plan: each simulated evening a share of the members whose plan
streams (more of them on plans with more screens) press play on one of the encoded titles
licensed to them, watch a while and stop, through the same actions a player's requests call
(start, heartbeat, stop). Resume positions, watch history, 'continue watching' and the staff
page's hours by title all come from these.

`Viewers` keeps a few screens playing for real, with heartbeats, while the demo site is served,
so that the operations page has live sessions to show."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading

import numpy as np
from django.db import close_old_connections
from django.utils import timezone

from redenvelope.core import clock
from redenvelope.core.errors import DomainError
from redenvelope.membership.models import Member
from redenvelope.streaming import actions
from redenvelope.streaming.models import Encode, Session

from .mix import uniform as _u

DEVICES = ("Web browser", "Phone", "TV box", "Console", "Tablet")


def _titles() -> list[tuple[int, float]]:
    rows = Encode.objects.filter(status=Encode.Status.READY).values_list("title_id", "duration_s")
    return sorted(dict(rows).items())


def _streamers():
    return (
        Member.objects.filter(
            status__in=["active", "trial"], plan__streaming_screens__gt=0, blocked=False
        )
        .order_by("pk")
        .values_list("pk", "plan__streaming_screens")
    )


def day(day: dt.date, seed: int, share_per_screen: float = 0.12) -> dict:
    """One evening's watching. Returns what happened: started, refused, minutes."""
    titles = _titles()
    out = {"started": 0, "refused": 0, "seconds": 0.0}
    if not titles:
        return out
    evening = timezone.make_aware(dt.datetime.combine(day, dt.time(18, 0)))
    late = evening + dt.timedelta(hours=6)
    if Session.objects.filter(started_at__gte=evening, started_at__lt=late).exists():
        return out  # this evening was simulated already: nobody watches it twice
    rows = np.array(list(_streamers()), dtype=np.int64).reshape(-1, 2)
    if not len(rows):
        return out
    salt = day.toordinal()
    ids, screens = rows[:, 0], rows[:, 1]
    watch = _u(ids, salt, seed) < np.minimum(0.6, 0.15 + share_per_screen * screens)
    pick = _u(ids, salt + 1, seed)
    length = _u(ids, salt + 2, seed)
    when = _u(ids, salt + 3, seed)
    device = _u(ids, salt + 4, seed)
    members = Member.objects.select_related("plan").in_bulk([int(i) for i in ids[watch]])
    for k in np.flatnonzero(watch):
        member = members.get(int(ids[k]))
        if member is None:
            continue
        title_id, duration = titles[int(pick[k] * len(titles))]
        start = evening + dt.timedelta(minutes=int(when[k] * 300))
        try:
            with clock.frozen(start):
                session = actions.start_playback(
                    member, title_id, device_name=DEVICES[int(device[k] * len(DEVICES))]
                )
        except DomainError:
            out["refused"] += 1  # out of window, over the screens: as a real player would be
            continue
        watched = max(1.0, (duration - session.start_position_s) * (0.3 + 0.7 * length[k]))
        position = min(duration, session.start_position_s + watched)
        beat = actions.heartbeat_s()
        t = float(beat)
        while t < watched:  # the player's heartbeats, every few seconds of watching
            with clock.frozen(start + dt.timedelta(seconds=t)):
                actions.heartbeat(member, session.lease_id, session.start_position_s + t)
            t += beat
        with clock.frozen(start + dt.timedelta(seconds=watched)):
            actions.stop_playback(member, session.lease_id, position)
        out["started"] += 1
        out["seconds"] += watched
    return out


class Viewers:
    """A few members watching now, with heartbeats, in a background thread (the demo)."""

    def __init__(self, count: int = 4):
        self.count = count
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-viewers", daemon=True)
        self.playing: dict[int, tuple[str, float, float]] = {}  # member -> lease, pos, duration

    def start(self) -> Viewers:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._finish()

    def _members(self) -> list[Member]:
        from redenvelope.demo.build import DEMO_MEMBER

        return list(
            Member.objects.filter(
                status="active", plan__streaming_screens__gt=1, pk__in=_streamers().values("pk")
            )
            .exclude(user__username=DEMO_MEMBER)
            .select_related("plan")
            .order_by("pk")[: self.count]
        )

    def _run(self) -> None:
        try:
            titles = _titles()
            members = self._members() if titles else []
            for k, member in enumerate(members):
                title_id, duration = titles[k % len(titles)]
                try:
                    s = actions.start_playback(member, title_id, device_name=DEVICES[k % 5])
                except DomainError:
                    continue
                self.playing[member.pk] = (s.lease_id, s.start_position_s, duration)
            by_pk = {m.pk: m for m in members}
            while not self._stop.wait(actions.heartbeat_s()):
                for pk, (lease, pos, duration) in list(self.playing.items()):
                    pos = (pos + actions.heartbeat_s()) % max(duration, 1.0)
                    try:
                        actions.heartbeat(by_pk[pk], lease, pos)
                        self.playing[pk] = (lease, pos, duration)
                    except DomainError:
                        self.playing.pop(pk)
                close_old_connections()
        finally:
            close_old_connections()

    def _finish(self) -> None:
        members = Member.objects.in_bulk(list(self.playing))
        for pk, (lease, pos, _duration) in list(self.playing.items()):
            with contextlib.suppress(DomainError, KeyError):
                actions.stop_playback(members[pk], lease, pos)
        self.playing.clear()
