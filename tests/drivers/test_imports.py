"""fleetsim.drivers is pure numpy: importing and planning loads no scipy, no I/O layers."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("scipy", "websockets", "uvloop", "locust", "gevent", "matplotlib")


def test_drivers_load_only_numpy_and_yaml() -> None:
    code = ("import sys, fleetsim.drivers as d; "
            "d.plan_archetype('public_ac', stations=2, days=1); "
            f"print([m for m in {FORBIDDEN!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
