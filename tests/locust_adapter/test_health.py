"""A worker silent on a saturated box is a generator-health fact, not a reason to re-dispatch.

Importing Locust monkey-patches the interpreter with gevent, so the check runs in a clean
interpreter of its own (:mod:`tests.locust_adapter.health_check`), never in the test process.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.locust_adapter.procs import ROOT


def test_a_silent_worker_is_recorded_and_kept(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "tests.locust_adapter.health_check", str(tmp_path)],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip() == "ok"
