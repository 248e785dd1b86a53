"""The SMTP listener an MTA relays support mail to (aiosmtpd): each message goes through
`mail.receive` in a worker thread (the ORM is synchronous). Over the size limit the server answers
552 before the data is taken; a malformed message gets 550/554; a database failure 451 (the MTA
tries again later, and the Message-ID keeps the retry from counting twice)."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from django.db import close_old_connections

from . import mail

log = logging.getLogger(__name__)


class Handler:
    def __init__(self, workers: int = 4):
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="support-mail")
        self.counts = {"opened": 0, "threaded": 0, "duplicate": 0, "held": 0, "ignored": 0}

    def _receive(self, data: bytes):
        close_old_connections()
        try:
            return mail.receive(data)
        finally:
            close_old_connections()

    async def handle_DATA(self, server, session, envelope):
        loop = asyncio.get_running_loop()
        try:
            got = await loop.run_in_executor(self.pool, self._receive, envelope.content)
        except mail.MailRefused as exc:
            return f"{exc.code} {exc.text}"
        except Exception:
            log.exception("support mail could not be stored")
            return "451 Try again later"
        self.counts[got.outcome] = self.counts.get(got.outcome, 0) + 1
        return "250 OK" + (f" case {got.case_id}" if got.case_id else "")


def controller(host: str, port: int, workers: int = 4):
    """An aiosmtpd controller (not started) listening on host:port."""
    from aiosmtpd.controller import Controller

    return Controller(
        Handler(workers),
        hostname=host,
        port=port,
        data_size_limit=mail.max_bytes(),
        server_hostname=host,
    )
