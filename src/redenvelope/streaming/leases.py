"""Playback leases: one per screen playing, renewed by a heartbeat, gone without one.

Two stores keep the same guarantee (never more leases live for a member than the plan's
screens, even when several devices press play at the same instant):

- `RedisLeases` (REDIS_URL set): per member a sorted set of lease ids scored by expiry, changed
  only by Lua scripts (atomic on the server, timed by the server's clock). A lease's details
  sit in a hash beside it, expiring with it. Keys of one member share a hash tag, so the
  scripts also run on a Redis Cluster.
- `DatabaseLeases` (the embedded default, for `make demo`): rows in `streaming_lease`, a start
  taken under the member's row lock (PostgreSQL) or SQLite's one writer, in one transaction.

Both answer in the same shapes: `start` gives (True, []) or (False, lease ids now live);
`beat` gives BEAT_OK, or BEAT_GONE when the lease ran out (or was never this member's). A
heartbeat touches only the store; where each screen is in its title reaches the database in
bulk, every minute (`actions.sync_sessions`) and at each stop."""

from __future__ import annotations

import datetime as dt
import functools

from django.conf import settings
from django.db import transaction

BEAT_GONE, BEAT_OK = 0, 1

_START = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local live = redis.call('ZRANGE', KEYS[1], 0, -1)
if #live >= tonumber(ARGV[2]) then return {0, live} end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('HSET', KEYS[2], 'position', ARGV[4])
redis.call('PEXPIRE', KEYS[2], ttl)
return {1, live}
"""

_BEAT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
local exp = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not exp then return 0 end
if tonumber(exp) <= now then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 0
end
redis.call('ZADD', KEYS[1], 'XX', now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
if ARGV[3] ~= '' then redis.call('HSET', KEYS[2], 'position', ARGV[3]) end
return 1
"""

_STOP = """
local pos = redis.call('HGET', KEYS[2], 'position')
local gone = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
if gone == 0 then return false end
return pos or '0'
"""

_LIVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZRANGE', KEYS[1], 0, -1)
"""


class RedisLeases:
    kind = "redis"

    def __init__(self, url: str, prefix: str = "re"):
        import redis

        self.r = redis.Redis.from_url(url, decode_responses=True)
        self.prefix = prefix
        self._start = self.r.register_script(_START)
        self._beat = self.r.register_script(_BEAT)
        self._stop = self.r.register_script(_STOP)
        self._live = self.r.register_script(_LIVE)

    def _keys(self, member_id: int, lease_id: str = "") -> list[str]:
        tag = f"{self.prefix}:{{m{member_id}}}"
        return [f"{tag}:leases", f"{tag}:lease:{lease_id}"]

    def start(self, member_id: int, lease_id: str, limit: int, ttl_s: float, position=0.0):
        ok, live = self._start(
            keys=self._keys(member_id, lease_id),
            args=[lease_id, limit, int(ttl_s * 1000), float(position)],
        )
        return bool(ok), list(live)

    def beat(self, member_id: int, lease_id: str, ttl_s: float, position=None) -> int:
        return int(
            self._beat(
                keys=self._keys(member_id, lease_id),
                args=[lease_id, int(ttl_s * 1000), "" if position is None else float(position)],
            )
        )

    def stop(self, member_id: int, lease_id: str) -> float | None:
        """Remove the lease; its last position, or None when it was not live."""
        pos = self._stop(keys=self._keys(member_id, lease_id), args=[lease_id])
        return None if pos is None else float(pos)

    def live(self, member_id: int) -> list[str]:
        return list(self._live(keys=self._keys(member_id)[:1]))

    def position(self, member_id: int, lease_id: str) -> float | None:
        pos = self.r.hget(self._keys(member_id, lease_id)[1], "position")
        return None if pos is None else float(pos)

    def positions(self, pairs: list[tuple[int, str]]) -> list[float | None]:
        """Each (member, lease)'s position, None where the lease is gone: one round trip."""
        pipe = self.r.pipeline(transaction=False)
        for member_id, lease_id in pairs:
            pipe.hget(self._keys(member_id, lease_id)[1], "position")
        return [None if p is None else float(p) for p in pipe.execute()]

    def flush(self) -> None:  # tests
        for key in self.r.scan_iter(f"{self.prefix}:*"):
            self.r.delete(key)


class DatabaseLeases:
    """The same guarantee in the database: one transaction per start, serialised per member
    (PostgreSQL: the member's row locked FOR UPDATE; SQLite: one writer at a time)."""

    kind = "database"

    @staticmethod
    def _now() -> dt.datetime:
        from redenvelope.core import clock

        return clock.now()

    def start(self, member_id: int, lease_id: str, limit: int, ttl_s: float, position=0.0):
        from redenvelope.membership.models import Member

        from .models import Lease

        with transaction.atomic():
            Member.objects.select_for_update().filter(pk=member_id).values_list("pk").first()
            now = self._now()
            Lease.objects.filter(member_id=member_id, expires_at__lte=now).delete()
            live = list(
                Lease.objects.filter(member_id=member_id)
                .order_by("expires_at")
                .values_list("lease_id", flat=True)
            )
            if len(live) >= limit:
                return False, live
            Lease.objects.create(
                lease_id=lease_id,
                member_id=member_id,
                expires_at=now + dt.timedelta(seconds=ttl_s),
                position_s=float(position),
            )
            return True, live

    def beat(self, member_id: int, lease_id: str, ttl_s: float, position=None) -> int:
        from .models import Lease

        with transaction.atomic():
            now = self._now()
            row = (
                Lease.objects.select_for_update()
                .filter(member_id=member_id, lease_id=lease_id)
                .first()
            )
            if row is None:
                return BEAT_GONE
            if row.expires_at <= now:
                row.delete()
                return BEAT_GONE
            row.expires_at = now + dt.timedelta(seconds=ttl_s)
            if position is not None:
                row.position_s = float(position)
            row.save(update_fields=["expires_at", "position_s"])
            return BEAT_OK

    def stop(self, member_id: int, lease_id: str) -> float | None:
        from .models import Lease

        with transaction.atomic():
            row = (
                Lease.objects.select_for_update()
                .filter(member_id=member_id, lease_id=lease_id)
                .first()
            )
            if row is None:
                return None
            row.delete()
            return None if row.expires_at <= self._now() else row.position_s

    def live(self, member_id: int) -> list[str]:
        from .models import Lease

        return list(
            Lease.objects.filter(member_id=member_id, expires_at__gt=self._now())
            .order_by("expires_at")
            .values_list("lease_id", flat=True)
        )

    def position(self, member_id: int, lease_id: str) -> float | None:
        from .models import Lease

        row = Lease.objects.filter(member_id=member_id, lease_id=lease_id).first()
        return None if row is None else row.position_s

    def positions(self, pairs: list[tuple[int, str]]) -> list[float | None]:
        from .models import Lease

        now = self._now()
        found = dict(
            Lease.objects.filter(
                lease_id__in=[lease for _, lease in pairs], expires_at__gt=now
            ).values_list("lease_id", "position_s")
        )
        return [found.get(lease) for _, lease in pairs]

    def flush(self) -> None:
        from .models import Lease

        Lease.objects.all().delete()


@functools.cache
def _store_for(url: str):
    return RedisLeases(url) if url else DatabaseLeases()


def store():
    """The configured store: Redis when REDIS_URL is set, else the database."""
    return _store_for(settings.REDENVELOPE.get("REDIS_URL", ""))
