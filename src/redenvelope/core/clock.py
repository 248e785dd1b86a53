"""The business clock. Actions ask it for "now" so the simulator can run days ahead:

    with clock.frozen(some_datetime):
        run_dispatch(...)

Outside a `frozen` block it is the real time.
"""

from __future__ import annotations

import contextvars
import datetime as dt
from contextlib import contextmanager

from django.utils import timezone

_now: contextvars.ContextVar[dt.datetime | None] = contextvars.ContextVar("now", default=None)


def now() -> dt.datetime:
    return _now.get() or timezone.now()


def today() -> dt.date:
    return timezone.localdate(now())


@contextmanager
def frozen(at: dt.datetime):
    if timezone.is_naive(at):
        at = timezone.make_aware(at)
    token = _now.set(at)
    try:
        yield at
    finally:
        _now.reset(token)
