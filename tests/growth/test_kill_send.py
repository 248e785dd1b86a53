"""The newsletter's sender killed (kill -9) while sending, then run again, as an operator does
(`redenvelope newsletter send` in a subprocess, mailing a real local SMTP server): nobody is
mailed twice, and everyone is mailed once (a message the server was taking at the moment of
the kill is recorded unconfirmed and not sent again)."""

import os
import random
import signal
import time
from collections import Counter

import pytest

from redenvelope.core.smtpsink import SmtpSink
from tests.trials import TRIALS, business

STATES = """
from redenvelope.growth.models import Delivery, Issue
issue = Issue.objects.get()
result = {
    "states": dict(Counter(Delivery.objects.filter(issue_id=issue.pk)
                           .values_list("state", flat=True))),
    "unconfirmed": list(Delivery.objects.filter(state="unconfirmed")
                        .values_list("email", flat=True)),
    "recipients": issue.recipients, "status": issue.status,
}
"""
STATES = "from collections import Counter\n" + STATES


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    b = business(tmp_path_factory, "newsletter-trials", members=400, seed=3, today="2026-11-20")
    b.template.run("newsletter", "build")
    yield b
    b.drop()


def _send(trial, sink, monkeypatch, *extra, connections: int = 2):
    monkeypatch.setenv("EMAIL_URL", f"smtp://127.0.0.1:{sink.port}")
    return ["newsletter", "send", "1", "--connections", str(connections), *extra]


def _check(trial, sink):
    got = trial.probe(STATES)
    counts = Counter(to for tos, *_ in sink.messages for to in tos)
    twice = [a for a, n in counts.items() if n > 1]
    assert not twice, f"mailed twice: {twice}"
    assert got["states"].get("queued", 0) == 0 and got["status"] == "sent", got
    missing = got["recipients"] - len(counts)
    assert set(got["unconfirmed"]) - set(counts) == set() or missing <= len(got["unconfirmed"])
    return got, counts, missing


def test_killed_at_random_and_resumed_mails_each_once(shop, monkeypatch):
    rng = random.Random(7)
    for k in range(TRIALS):
        trial = shop.copy()
        with SmtpSink() as sink:
            args = _send(trial, sink, monkeypatch, "--rate", "300")
            proc = trial._start(args, "")
            started = time.perf_counter()
            while sink.inbox.count == 0 and time.perf_counter() - started < 60:
                time.sleep(0.01)  # start-up (Django, the database) takes its own time
            # a moment spread over the sending of ~400 messages at 300 a second
            time.sleep(1.2 * (k + rng.random()) / TRIALS)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            before = len(sink.messages)
            trial.run(*args)
            got, counts, missing = _check(trial, sink)
        assert 0 < before < got["recipients"], "the kill should land while sending"
        # a message lost can only be one being handed over at the kill (recorded unconfirmed)
        assert missing <= len(got["unconfirmed"]) <= 4
        trial.drop()


def test_killed_while_the_server_takes_a_message_it_is_not_sent_again(shop, monkeypatch):
    """The worst moment: the server has the whole message and the sender dies before reading
    the server's "250 OK". The message counts as delivered; it is not sent again. One
    connection, so that no other message is half handed over at that moment (with two, one
    under load sometimes was: recorded unconfirmed and, rightly, not sent again — the random
    kills above allow for those)."""
    trial = shop.copy()
    with SmtpSink() as sink:
        args = _send(trial, sink, monkeypatch, "--rate", "0", connections=1)
        proc = trial._start(args, "")
        inbox = sink.inbox
        original = inbox.handle_DATA

        async def kill_on_fiftieth(server, session, envelope):
            if inbox.count == 49:
                os.killpg(proc.pid, signal.SIGKILL)
            return await original(server, session, envelope)

        inbox.handle_DATA = kill_on_fiftieth
        proc.wait(timeout=120)
        time.sleep(0.2)
        assert len(sink.messages) >= 50
        trial.run(*args)
        got, counts, missing = _check(trial, sink)
    assert missing == 0 and len(counts) == got["recipients"]
    assert len(got["unconfirmed"]) >= 1  # the one the server took as the sender died
    trial.drop()
