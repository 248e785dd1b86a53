"""Crash trials: a real business in its own database (a SQLite file, or a PostgreSQL database
when the suite runs on PostgreSQL), commands run as an operator runs them (the `redenvelope`
console script in a subprocess), and a real `kill -9` at a random moment.

`Business` builds one business once (migrate, demo data) and hands out copies of it, each with
its own data folder (media, the payment provider's books) and database."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent / "redenvelope"
TRIALS = int(os.environ.get("KILL_TRIALS", "5"))


def _pg_url() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else None


def _pg_admin(sql: str) -> None:
    import psycopg

    url = _pg_url()
    base = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql)


class Copy:
    """One trial's business: a data folder and a database."""

    def __init__(self, folder: Path, database_url: str | None, pg_name: str | None):
        self.folder = folder
        self.database_url = database_url
        self.pg_name = pg_name

    @property
    def env(self) -> dict:
        env = {**os.environ, "REDENVELOPE_DATA_DIR": str(self.folder), "PYTHONHASHSEED": "0"}
        env.pop("PAYMENT_PROVIDER_STORE", None)
        env.pop("PAYMENT_PROVIDER_FAULTS", None)
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        else:
            env.pop("DATABASE_URL", None)
        return env

    def _env(self, faults: str) -> dict:
        env = self.env
        if faults:
            env["PAYMENT_PROVIDER_FAULTS"] = faults
        return env

    def run(self, *args: str, faults: str = "", check: bool = True, timeout: int = 300):
        done = subprocess.run(
            [str(BIN), *args],
            env=self._env(faults),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"{args} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done

    def _start(self, args, faults: str) -> subprocess.Popen:
        """The command in its own process group (so a kill takes its forked workers too)."""
        return subprocess.Popen(
            [str(BIN), *args],
            env=self._env(faults),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    def _wal(self) -> tuple:
        wal = self.folder / "redenvelope.sqlite3-wal"
        return (wal.stat().st_size, wal.stat().st_mtime_ns) if wal.exists() else (0, 0)

    def writing(self, baseline=None) -> bool:
        """Whether a transaction of the command has written to the database yet (PostgreSQL: a
        backend of this database holds a transaction id; SQLite: its write-ahead log moved)."""
        if self.pg_name:
            import psycopg

            with psycopg.connect(self.database_url, autocommit=True) as conn:
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                    "AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()",
                    [self.pg_name],
                ).fetchone()
            return bool(row[0])
        return self._wal() != baseline

    def timed(self, *args: str, faults: str = "") -> tuple[float, float]:
        """Run the command to its end: (seconds to its first database write, seconds in all)."""
        baseline = self._wal()
        t0 = time.perf_counter()
        proc = self._start(args, faults)
        first = None
        while proc.poll() is None:
            if first is None and self.writing(baseline):
                first = time.perf_counter() - t0
            time.sleep(0.005)
        whole = time.perf_counter() - t0
        if proc.returncode != 0:
            raise AssertionError(f"{args} exited {proc.returncode}: {proc.stderr.read()}")
        return (first if first is not None else whole), whole

    def kill_during(self, *args: str, after_s: float, faults: str = "") -> int | None:
        """Start the command and kill -9 it `after_s` seconds in; its exit status if it ended
        first, else None."""
        proc = self._start(args, faults)
        try:
            return proc.wait(timeout=after_s)
        except subprocess.TimeoutExpired:
            # The whole process group: its forked document workers die with it, as in a crash.
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return None

    def probe(self, code: str) -> dict:
        """Run `code` (defining `result`) in a Django process on this copy; its JSON."""
        script = (
            "import django, json\n"
            "django.setup()\n" + code + "\nprint('RESULT' + json.dumps(result, default=str))\n"
        )
        env = {**self.env, "DJANGO_SETTINGS_MODULE": "redenvelope.settings"}
        done = subprocess.run(
            [sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise AssertionError(done.stderr)
        line = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT")][-1]
        return json.loads(line[len("RESULT") :])

    def drop(self) -> None:
        if self.pg_name:
            _pg_admin(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')
        shutil.rmtree(self.folder, ignore_errors=True)


class Business:
    """A demo business built once; `copy()` gives a fresh trial of it."""

    def __init__(self, root: Path, *, members: int, seed: int, today: str):
        self.root = root
        tag = uuid.uuid4().hex[:8]
        self.pg_template = f"trial_tpl_{tag}" if _pg_url() else None
        url = None
        if self.pg_template:
            _pg_admin(f'CREATE DATABASE "{self.pg_template}"')
            url = _pg_url().rsplit("/", 1)[0] + "/" + self.pg_template
        self.template = Copy(root / "template", url, self.pg_template)
        self.template.folder.mkdir(parents=True)
        self.template.run("migrate")
        self.template.run(
            "demo-data", "--members", str(members), "--seed", str(seed), "--today", today
        )
        self.n = 0

    def copy(self) -> Copy:
        self.n += 1
        folder = self.root / f"trial-{self.n}"
        shutil.copytree(self.template.folder, folder)
        if self.pg_template:
            name = f"{self.pg_template}_{self.n}"
            _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.pg_template}"')
            url = _pg_url().rsplit("/", 1)[0] + "/" + name
            return Copy(folder, url, name)
        return Copy(folder, None, None)

    def drop(self) -> None:
        if self.pg_template:
            _pg_admin(f'DROP DATABASE IF EXISTS "{self.pg_template}" WITH (FORCE)')
        shutil.rmtree(self.root, ignore_errors=True)


def business(tmp_path_factory, name: str, **kw):
    if not BIN.exists():
        pytest.skip("the redenvelope console script is not installed")
    b = Business(tmp_path_factory.mktemp(name), **kw)
    return b
