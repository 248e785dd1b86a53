"""The SMTP listener an MTA relays support mail to (aiosmtpd): each message goes through
`mail.receive` in a worker thread (the ORM is synchronous). Over the size limit the server answers
552 before the data is taken; a malformed message gets 550/554; a database failure 451 (the MTA
tries again later, and the Message-ID keeps the retry from counting twice)."""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import queue
import threading
import time

from django.db import connection

from . import mail

log = logging.getLogger(__name__)


def default_workers() -> int:
    """Threads that store mail at once: one on SQLite (one writer at a time; more only wait on
    its lock, in the busy handler's sleeps), four on PostgreSQL."""
    from django.db import connection

    return 1 if connection.vendor == "sqlite" else 4


def tarpit_s() -> float:
    """How long each message of a flooding sender waits before it is taken (setting
    SUPPORT_MAIL_TARPIT_MS, default 40: at most 25 a second on one connection, so 1,000 in a
    minute still get in)."""
    from django.conf import settings

    return int(settings.REDENVELOPE.get("SUPPORT_MAIL_TARPIT_MS", 40)) / 1000


class Handler:
    """Stores each message in a worker thread, in order of priority: mail from a sender who is
    flooding the address (more than the flood limit in the last minute, as this gateway has
    seen) is slowed (a tarpit) and then waits until no one else's mail does, so a flood is
    taken (and held on its case by `mail.receive`) without slowing other senders."""

    def __init__(self, workers: int | None = None):
        self.workers = workers or default_workers()
        self.queue: queue.PriorityQueue = queue.PriorityQueue()
        self.seq = itertools.count()
        self.seen: dict[str, collections.deque] = {}
        self.counts = {"opened": 0, "threaded": 0, "duplicate": 0, "held": 0, "ignored": 0}
        self.threads = [
            threading.Thread(target=self._work, name=f"support-mail-{n}", daemon=True)
            for n in range(self.workers)
        ]
        for t in self.threads:
            t.start()

    def _receive(self, data: bytes):
        # Each worker thread keeps its database connection from message to message (opening
        # one per message cost as much as storing it); one that failed is closed, and the next
        # message opens a fresh one.
        try:
            return mail.receive(data)
        except mail.MailRefused:
            raise
        except Exception:
            connection.close()
            raise

    def _work(self) -> None:
        while True:
            _prio, _n, data, loop, fut = self.queue.get()
            if data is None:
                return
            try:
                got = self._receive(data)
            except BaseException as exc:  # handed to the SMTP session, which answers for it
                loop.call_soon_threadsafe(_settle, fut, None, exc)
            else:
                loop.call_soon_threadsafe(_settle, fut, got, None)

    def stop(self) -> None:
        for _ in self.threads:
            self.queue.put((9, next(self.seq), None, None, None))

    def _priority(self, sender: str) -> int:
        """0, or 1 for a sender over the flood limit in the last minute (in this process)."""
        now = time.monotonic()
        seen = self.seen.setdefault(sender, collections.deque())
        seen.append(now)
        while seen and seen[0] < now - 60:
            seen.popleft()
        if len(self.seen) > 10_000:  # forget senders quiet for a minute
            for k in [k for k, v in self.seen.items() if not v or v[-1] < now - 60]:
                del self.seen[k]
        return 1 if len(seen) > mail.flood_limit() else 0

    async def handle_DATA(self, server, session, envelope):
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        prio = self._priority((envelope.mail_from or "").strip().lower())
        if prio:  # a tarpit: the flooder waits, so its mail cannot crowd out anyone else's
            await asyncio.sleep(tarpit_s())
        self.queue.put((prio, next(self.seq), envelope.content, loop, fut))
        try:
            got = await fut
        except mail.MailRefused as exc:
            return f"{exc.code} {exc.text}"
        except Exception:
            log.exception("support mail could not be stored")
            return "451 Try again later"
        self.counts[got.outcome] = self.counts.get(got.outcome, 0) + 1
        return "250 OK" + (f" case {got.case_id}" if got.case_id else "")


def _settle(fut, result, exc) -> None:
    if fut.cancelled():
        return
    if exc is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(result)


def controller(host: str, port: int, workers: int | None = None):
    """An aiosmtpd controller (not started) listening on host:port; stopping it stops the
    handler's worker threads once the mail already taken is stored."""
    from aiosmtpd.controller import Controller

    class _Controller(Controller):
        def stop(self, *args, **kwargs):
            super().stop(*args, **kwargs)
            self.handler.stop()

    return _Controller(
        Handler(workers),
        hostname=host,
        port=port,
        data_size_limit=mail.max_bytes(),
        server_hostname=host,
    )
