"""A local SMTP server that keeps what it receives (aiosmtpd): the tests' and benchmarks' real
mail server, so delivery is measured through SMTP, not a stand-in backend."""

from __future__ import annotations

import socket
from email import message_from_bytes, policy


class Inbox:
    def __init__(self, keep: bool = True):
        self.keep = keep
        self.messages: list[tuple[list[str], str, str, str]] = []  # to, subject, body, id
        self.received = []  # each whole message (email.message.EmailMessage): headers, parts
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        if self.keep:
            msg = message_from_bytes(envelope.content, policy=policy.default)
            text = msg.get_body(("plain",))
            body = text.get_content() if text is not None else msg.get_payload()
            self.received.append(msg)
            self.messages.append(
                (envelope.rcpt_tos, str(msg["Subject"]), body.rstrip("\n"), msg["Message-ID"])
            )
        return "250 OK"


class FolderInbox:
    """Keeps each message it receives as a file (`<n>.eml`) in a folder: the demo's mail server."""

    def __init__(self, folder):
        from pathlib import Path

        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.count = len(list(self.folder.glob("*.eml")))

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        (self.folder / f"{self.count:07d}.eml").write_bytes(envelope.content)
        return "250 OK"


class SmtpSink:
    """`with SmtpSink() as sink:` — a server on 127.0.0.1 at `sink.port`; `sink.settings()`
    gives Django's email settings for it."""

    def __init__(self, keep: bool = True, *, port: int = 0, handler=None):
        from aiosmtpd.controller import Controller

        if not port:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
        self.port = port
        self.inbox = handler or Inbox(keep)
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)

    def settings(self) -> dict:
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": self.port,
            "EMAIL_USE_TLS": False,
            "EMAIL_USE_SSL": False,
            "EMAIL_HOST_USER": "",
            "EMAIL_HOST_PASSWORD": "",
        }

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()

    @property
    def messages(self):
        return self.inbox.messages

    @property
    def received(self):
        return self.inbox.received
