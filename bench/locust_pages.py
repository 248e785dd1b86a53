"""Locust users for `redenvelope bench pages`: each is one demo member with a real session
(signed in through the login form, CSRF and all), browsing as members do. Run by bench/pages.py
in a process of its own (locust patches the standard library with gevent).

Environment: BENCH_LOGINS (a file of "username" lines), BENCH_TITLES (a file of "id<TAB>name"
lines), BENCH_PASSWORD."""

from __future__ import annotations

import os
import random
import re
from pathlib import Path

import gevent
from locust import HttpUser, between, events, task

LOGINS = Path(os.environ["BENCH_LOGINS"]).read_text().split()
TITLES = [line.split("\t", 1) for line in Path(os.environ["BENCH_TITLES"]).read_text().splitlines()]
PASSWORD = os.environ["BENCH_PASSWORD"]
SECONDS = int(os.environ.get("BENCH_SECONDS", "120"))
SETTLE = 5  # seconds after the last sign-in before the timing starts (requests queued behind)
OUT = Path(os.environ.get("BENCH_OUT", "bench-pages.json"))
_next = iter(range(10**9))
_signed_in: list[float] = []  # seconds each sign-in took


def _all_signed_in(environment) -> None:
    """Everyone has signed in (each a password check, slow on purpose): the pages are timed
    from a few seconds later, for SECONDS, without the sign-ins' CPU in their figures."""

    def start():
        environment.stats.reset_all()
        gevent.spawn_later(SECONDS, environment.runner.quit)

    gevent.spawn_later(SETTLE, start)


@events.test_stop.add_listener
def _write_sign_ins(environment, **kwargs):
    import json

    OUT.write_text(json.dumps({"sign_in_seconds": _signed_in}))


def _typed(name: str, rng: random.Random) -> str:
    """A search as typed: a prefix, a word or two, sometimes a typo."""
    words = re.findall(r"\w+", name.lower()) or ["the"]
    q = " ".join(words[: rng.randint(1, 2)])
    if rng.random() < 0.3 and len(q) > 5:
        i = rng.randrange(1, len(q) - 1)
        q = q[:i] + q[i + 1 :]
    if rng.random() < 0.3:
        q = q[: max(3, len(q) - 2)]
    return q


class Member(HttpUser):
    wait_time = between(1, 3)  # a person reading a page before the next click

    def on_start(self):
        self.rng = random.Random(next(_next))
        self.username = LOGINS[next(_next) % len(LOGINS)]
        self.client.get("/login/", name="sign-in form")
        token = self.client.cookies.get("csrftoken", "")
        resp = self.client.post(
            "/login/",
            {"username": self.username, "password": PASSWORD, "csrfmiddlewaretoken": token},
            headers={"Referer": self.host + "/login/"},
            name="sign in",
            allow_redirects=False,
        )
        if resp.status_code != 302:
            raise RuntimeError(f"sign-in for {self.username} answered {resp.status_code}")
        _signed_in.append(resp.elapsed.total_seconds())
        if len(_signed_in) == self.environment.parsed_options.num_users:
            _all_signed_in(self.environment)

    def _get(self, path: str, name: str):
        with self.client.get(path, name=name, catch_response=True, allow_redirects=False) as r:
            if r.status_code != 200:
                r.failure(f"{name} answered {r.status_code}")

    @task(2)
    def landing(self):
        self._get("/", "landing")

    @task(4)
    def catalog(self):
        self._get(f"/catalog/?page={self.rng.randint(1, 20)}", "catalog")

    @task(4)
    def search(self):
        q = _typed(self.rng.choice(TITLES)[1], self.rng)
        self._get(f"/catalog/?q={q}", "search")

    @task(4)
    def title(self):
        self._get(f"/catalog/{self.rng.choice(TITLES)[0]}/", "title")

    @task(4)
    def queue(self):
        self._get("/queue/", "queue")

    @task(2)
    def history(self):
        self._get("/history/", "history")

    @task(2)
    def account(self):
        self._get("/account/", "account")
