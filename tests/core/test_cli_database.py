"""Commands run against a database that was never migrated say so, and which one it is."""

import os
import subprocess
import sys
from pathlib import Path


def test_unmigrated_database_gets_a_clear_message(tmp_path):
    script = Path(sys.executable).parent / "redenvelope"
    env = {**os.environ, "REDENVELOPE_DATA_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    r = subprocess.run([str(script), "check"], env=env, capture_output=True, text=True, timeout=120)
    out = " ".join((r.stdout + r.stderr).split())
    assert r.returncode == 2
    assert "no Red Envelope tables yet" in out and str(tmp_path) in out
    assert "redenvelope migrate" in out and "Traceback" not in out
