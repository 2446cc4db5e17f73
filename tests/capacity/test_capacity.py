"""Capacity search: the pure step logic, and one real search against the embedded CSMS."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from fleetsim.capacity import Level, search

ROOT = Path(__file__).resolve().parents[2]


def level(n: int, ok: bool) -> Level:
    return Level(stations=n, passed=ok, reasons=() if ok else ("p99 too high",),
                 messages_per_s=n * 10.0, worst_p99_ms=1.0, generator_valid=True,
                 results_dir="")


def test_search_stops_at_the_first_failing_level_and_reports_the_knee() -> None:
    ran: list[int] = []

    def run_level(n: int) -> Level:
        ran.append(n)
        return level(n, n < 300)

    result = search(range(100, 1001, 100), run_level)
    assert ran == [100, 200, 300]
    assert result.knee == 200
    assert "300 stations: p99 too high" in result.stopped_by


def test_no_knee_when_the_first_level_fails_and_all_pass_says_raise_max() -> None:
    assert search([10, 20], lambda n: level(n, False)).knee is None
    r = search([10, 20], lambda n: level(n, True))
    assert r.knee == 20 and "raise --max" in r.stopped_by


def test_capacity_command_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "cap"
    r = subprocess.run(
        [sys.executable, "-m", "fleetsim", "capacity", "scenarios/ci_smoke.yaml",
         "--slo", "stations.booted > 25", "--start", "10", "--step", "10", "--max", "40",
         "--hold", "3s", "--out", str(out)],
        capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "knee: 20 stations" in r.stdout
    data = json.loads((out / "capacity.json").read_text())
    assert [lv["stations"] for lv in data["levels"]] == [10, 20, 30]
    assert [lv["passed"] for lv in data["levels"]] == [True, True, False]
    assert (out / "plots" / "capacity.png").read_bytes()[:4] == b"\x89PNG"
