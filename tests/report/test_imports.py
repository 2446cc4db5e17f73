"""Importing fleetsim.report stays light: matplotlib loads only when a plot is drawn."""

from __future__ import annotations

import subprocess
import sys


def test_import_does_not_load_matplotlib() -> None:
    code = ("import sys, fleetsim.report, fleetsim.report.command, fleetsim.report.compare_command;"
            "heavy = [m for m in ('matplotlib', 'pandas', 'websockets', 'uvloop', 'locust', 'gevent')"
            " if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
