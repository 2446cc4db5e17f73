"""Without ``--workers`` the run picks a layout that fits the descriptor limit and the cores;
it warns when the fleet needs more than half a source address's ephemeral ports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from fleetsim.run.layout import ephemeral_ports, pick_layout, ports_note


def test_small_fleet_gets_one_worker_per_core() -> None:
    lay = pick_layout(3000, headroom=19936, cores=2)
    assert lay.workers == 2
    assert "one per core" in lay.describe()


def test_big_fleet_gets_enough_processes_for_its_sockets() -> None:
    lay = pick_layout(100_000, headroom=19936, cores=2)
    assert lay.workers == 6  # 5 would be 20,000 each: over 90 % of the limit
    assert lay.stations / lay.workers <= 19936
    assert "descriptor limit" in lay.describe() and "6 engine workers" in lay.describe()


def test_ports_past_half_an_address_range_are_warned_of() -> None:
    assert ports_note(14_000, 1, ports=28_232) is None  # within the cheap half
    assert ports_note(100_000, 8, ports=28_232) is None  # 12,500 per address
    note = ports_note(100_000, 4, ports=28_232)
    assert note is not None and "25,000 stations per source address" in note
    assert "half" in note and "8 or more addresses" in note
    fail = ports_note(40_000, 0, ports=28_232)  # no sources: the one default address
    assert fail is not None and "connects will fail" in fail and "3 or more" in fail


def test_the_ephemeral_range_is_read_from_the_kernel(tmp_path: Path) -> None:
    f = tmp_path / "range"
    f.write_text("32768\t60999\n")
    assert ephemeral_ports(f) == 28_232
    assert ephemeral_ports(tmp_path / "missing") == 28_232  # Linux's default
    f.write_text("garbage")
    assert ephemeral_ports(f) == 28_232


def test_fleetsim_run_prints_the_warning(tmp_path: Path) -> None:
    """A user sees it on stderr, as one line, before any load (``fleetsim run`` with a
    CSMS that does not exist fails after the warning)."""
    s = tmp_path / "s.yaml"
    s.write_text("stations: {count: 30000}\nduration: 1s\ncsms: {target: ws://127.0.0.1:9}\n")
    proc = subprocess.run([sys.executable, "-m", "fleetsim", "run", str(s), "--workers", "1",
                           "--out", str(tmp_path / "out"), "--quiet"], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL, check=False)
    lines = [x for x in proc.stderr.splitlines() if "ephemeral" in x]
    assert len(lines) == 1 and lines[0].startswith("fleetsim: warning: 30,000 stations"), \
        proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
