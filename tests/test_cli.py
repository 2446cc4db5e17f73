"""The command line as a user runs it: one clear line on bad input, the right exit code."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def fleetsim(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fleetsim", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)


def test_validate_ok() -> None:
    r = fleetsim("validate", "scenarios/quickstart.yaml")
    assert r.returncode == 0 and "ok (300 stations" in r.stdout


def test_validate_malformed_is_one_line_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("stations:\n  count: 10\n  versions: {'1.7': 1}\n")
    r = fleetsim("validate", str(bad))
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "Traceback" not in r.stderr
    assert "bad.yaml: stations.versions.1.7: unknown OCPP version" in r.stderr


def test_run_and_capacity_with_a_bad_scenario_exit_2_before_any_load(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nstations: {count: -3}\n")
    for args in (("run", str(bad)), ("run", str(tmp_path / "missing.yaml")),
                 ("capacity", str(bad), "--slo", "*/*.p99 > 300ms")):
        r = fleetsim(*args, "--out", str(tmp_path / "out"))
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr.startswith("fleetsim: error: ") and "Traceback" not in r.stderr
    assert "stations.count: must be >= 1, got -3" in r.stderr
    assert not (tmp_path / "out").exists()  # nothing ran, no results folder


def test_run_against_unreachable_csms_exits_4_with_a_clear_message(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = fleetsim("run", "scenarios/quickstart.yaml", "--stations", "20", "--duration", "30s",
                 "--csms", f"ws://127.0.0.1:{port}", "--out", str(tmp_path / "run"), "--quiet")
    assert r.returncode == 4, r.stderr
    assert "cannot reach the CSMS" in r.stderr and "connection refused" in r.stderr
    assert "Traceback" not in r.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["completed"] is False  # partial results are still written


def test_run_with_impossible_and_lax_slo(tmp_path: Path) -> None:
    common = ("--stations", "30", "--duration", "6s", "--quiet")
    r = fleetsim("run", "scenarios/quickstart.yaml", *common, "--out", str(tmp_path / "a"),
                 "--fail-on", "*/BootNotification.p50 > 1us")  # no heartbeat is due in 6 s
    assert r.returncode == 3, r.stdout + r.stderr
    junit = (tmp_path / "a" / "junit.xml").read_text()
    assert "<failure" in junit and "BootNotification" in junit
    r = fleetsim("run", "scenarios/quickstart.yaml", *common, "--out", str(tmp_path / "b"),
                 "--fail-on", "error_rate > 50%")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "<failure" not in (tmp_path / "b" / "junit.xml").read_text()
    assert "reconcile: all" in r.stdout  # against the embedded CSMS, nothing was lost
    assert json.loads((tmp_path / "b" / "reconcile.json").read_text())["ok"] is True
    for png in ("latency", "latency_cdf", "throughput", "stations", "fleet_power"):
        assert (tmp_path / "b" / "plots" / f"{png}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_output_paths_are_one_line_exit_2(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """Every command's --out/--db: a missing folder, an unwritable place or a file where a
    folder belongs is one line and exit 2, never a traceback (and no load starts).
    In-process (one interpreter start, not ten); the first case as a user runs it."""
    from fleetsim.cli import main

    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    ran = tmp_path / "ran"  # a previous run's folder: its engines would merge into this one
    (ran / "workers" / "engine").mkdir(parents=True)
    nodir = str(tmp_path / "nodir" / "x.csv")
    r = fleetsim("plan", "scenarios/ci_smoke.yaml", "--days", "0.1", "--out", nodir)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip() == f"fleetsim: error: --out {nodir}: no such folder {Path(nodir).parent}"
    cases = [
        ("plan", "scenarios/ci_smoke.yaml", "--days", "0.1", "--out", str(tmp_path)),
        ("run", "scenarios/ci_smoke.yaml", "--out", "/proc/nope"),
        ("run", "scenarios/ci_smoke.yaml", "--workers", "0", "--out", "/proc/nope"),
        ("run", "scenarios/ci_smoke.yaml", "--out", str(a_file)),
        ("run", "scenarios/ci_smoke.yaml", "--out", str(a_file / "sub")),
        ("run", "scenarios/ci_smoke.yaml", "--out", str(ran)),
        ("run", "scenarios/ci_smoke.yaml", "--workers", "0", "--out", str(ran)),
        ("csms", "--port", "0", "--db", str(tmp_path / "nodir" / "ledger.sqlite")),
        ("certs", "--stations", "1", "--out", "/proc/nope"),
        ("capacity", "scenarios/ci_smoke.yaml", "--slo", "*/*.p99 > 300ms", "--out",
         str(a_file)),
        ("compare", str(tmp_path), str(tmp_path), "--out", str(a_file)),
    ]
    for args in cases:
        code = main([a if not a.startswith("scenarios/") else str(ROOT / a) for a in args])
        err = capsys.readouterr().err
        assert code == 2, (args, err[-2000:])
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("fleetsim: error: "), (args, err)
