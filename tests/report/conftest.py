"""A synthetic results folder, written exactly in the format the run writes
(including the extra keys and columns fleetsim.run adds: per-action ``sent``,
``completed``, ``faults``, ``cpu_percent``, the loop-lag histogram).

``make_results(name, ...)`` writes ``<tmp>/<name>/`` with scenario.yaml,
summary.json, histograms.json (real HdrHistograms), timeseries.csv (a ramp, a
reconnect storm, per-action percentiles) and sessions.csv. Latencies are
lognormal around each action's median; summary percentiles are read back from
the very histograms written, so the two files agree.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import pytest
from hdrh.histogram import HdrHistogram

START = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class ActionSpec:
    """Calls of one action: how many, how many failed, median latency [ms]."""

    count: int
    errors: int = 0
    median_ms: float = 2.0
    sigma: float = 0.6


DEFAULT_ACTIONS: Mapping[str, ActionSpec] = {
    "2.0.1/TransactionEvent": ActionSpec(1500, 3, 4.0),
    "2.0.1/Heartbeat": ActionSpec(600, 0, 1.0),
    "2.0.1/BootNotification": ActionSpec(100, 0, 8.0),
    "1.6/StartTransaction": ActionSpec(400, 1, 3.0),
    "1.6/MeterValues": ActionSpec(2000, 0, 2.0),
    "2.1/StatusNotification": ActionSpec(300, 0, 1.5),
}

MakeResults = Callable[..., Path]


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def write_results(folder: Path, *, actions: Mapping[str, ActionSpec] = DEFAULT_ACTIONS,
                  seconds: int = 60, stations: int = 300, time_factor: float = 120,
                  seed: int = 7, valid: bool = True, sessions: int = 25) -> Path:
    """Write a complete results folder into ``folder`` (created) and return it."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    (folder / "scenario.yaml").write_text("name: synthetic\nseed: 42\nstations:\n  count: 300\n")
    samples = {k: rng.lognormal(np.log(s.median_ms), s.sigma, s.count) for k, s in actions.items()}
    at_s = {k: np.sort(rng.uniform(0, seconds, s.count)) for k, s in actions.items()}
    hists, summary_actions = {}, {}
    for key, spec in actions.items():
        h = HdrHistogram(1, 3_600_000_000, 3)
        for ms in samples[key]:
            h.record_value(max(1, round(ms * 1000)))
        hists[key] = h.encode().decode("ascii")
        summary_actions[key] = {
            "count": spec.count, "sent": spec.count, "errors": spec.errors,
            "errors_by_kind": {"timeout": spec.errors} if spec.errors else {},
            **{f"{m}_ms": h.get_value_at_percentile(p) / 1000 for m, p in
               (("p50", 50), ("p90", 90), ("p95", 95), ("p99", 99), ("p999", 99.9))},
            "max_ms": h.get_max_value() / 1000, "mean_ms": h.get_mean_value() / 1000,
        }
    errors = sum(s.errors for s in actions.values())
    summary = {
        "fleetsim_version": "0.1.0", "scenario": "synthetic", "scenario_file": "scenarios/synthetic.yaml",
        "seed": 42, "started_at": _iso(START), "duration_s": float(seconds), "time_factor": time_factor,
        "completed": True, "failure": None, "incoming_calls": {},
        "versions": {"1.6": 100, "2.0.1": 100, "2.1": 100},
        "stations": {"planned": stations, "connected_max": stations, "booted": stations, "failed": 0},
        "messages": {"sent": 12345, "received": 12340},
        "actions": summary_actions,
        "errors": {"total": errors + 1, "by_kind": {"timeout": errors, "connection_lost": 1,
                                                     "connect_failed": 0}},
        "generator": {"loop_lag_p99_ms": 2.1, "loop_lag_max_ms": 9.0, "late_sends": 0,
                      "cpu_percent": 40.0, "valid": valid,
                      "warnings": [] if valid else ["event-loop lag p99 120 ms > 50 ms"]},
        "sessions": {"planned": 40, "started": sessions, "completed": sessions - 2,
                     "energy_kwh": 123.4},
    }
    (folder / "summary.json").write_bytes(orjson.dumps(summary))
    (folder / "histograms.json").write_bytes(orjson.dumps({
        "format": "hdrhistogram-v2-base64", "unit": "us", "lowest_us": 1,
        "highest_us": 3_600_000_000, "significant_figures": 3, "actions": hists,
        "loop_lag": hists[next(iter(hists))] if hists else ""}))
    _timeseries(folder / "timeseries.csv", rng, samples, at_s, seconds, stations, time_factor)
    _sessions(folder / "sessions.csv", rng, sessions)
    return folder


def _timeseries(path: Path, rng: np.random.Generator, samples: Mapping[str, np.ndarray],
                at_s: Mapping[str, np.ndarray], seconds: int, stations: int,
                time_factor: float) -> None:
    t = np.arange(1, seconds + 1, dtype=float)
    connected = np.minimum(stations, t * stations / 10).round()
    storm = (t > seconds / 2) & (t <= seconds / 2 + 5)  # a reconnect storm mid-run
    connected[storm] = (connected[storm] * 0.2).round()
    booted = np.minimum(connected, np.maximum(0, (t - 1) * stations / 10)).round()
    hours = t * time_factor / 3600
    plugged = (40 * (0.5 + 0.5 * np.sin(hours))).round()
    charging = (plugged * 0.7).round()
    head = ["t_s", "sim_time", "connected", "booted", "sent", "received", "errors", "faults",
            "plugged", "charging", "power_kw", "cpu_percent"]  # as fleetsim.run writes it
    for key in samples:
        head += [f"{key}.count", f"{key}.p50_ms", f"{key}.p95_ms", f"{key}.p99_ms"]
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(head)
        for i, now in enumerate(t):
            sent = int(rng.poisson(200))
            row: list[object] = [
                f"{now:g}", _iso(START + timedelta(seconds=now * time_factor)),
                int(connected[i]), int(booted[i]), sent, sent - int(rng.integers(0, 3)),
                int(storm[i]) * int(rng.integers(1, 9)), 0, int(plugged[i]), int(charging[i]),
                f"{charging[i] * 11.0:.1f}", "12.5"]
            for key, values in samples.items():
                now_values = values[(at_s[key] >= now - 1) & (at_s[key] < now)]
                if len(now_values):
                    p50, p95, p99 = np.percentile(now_values, [50, 95, 99])
                    row += [len(now_values), f"{p50:.3f}", f"{p95:.3f}", f"{p99:.3f}"]
                else:
                    row += [0, "", "", ""]
            out.writerow(row)


def _sessions(path: Path, rng: np.random.Generator, n: int) -> None:
    head = ["station_id", "connector_id", "archetype", "id_tag", "transaction_id", "arrival",
            "departure", "started", "stopped", "energy_kwh", "wanted_kwh", "meter_start_wh",
            "meter_stop_wh", "stop_reason", "vehicle"]
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(head)
        for i in range(n):
            arrive = START + timedelta(minutes=float(rng.uniform(0, 120)))
            leave = arrive + timedelta(hours=float(rng.uniform(1, 8)))
            wanted = float(rng.uniform(5, 40))
            got = wanted * (1.0 if i % 3 else 0.6)
            out.writerow([f"FS{i:06d}", 1, ("residential_ac", "dc_fast")[i % 2], f"{i:08X}",
                          f"tx-{i}", _iso(arrive), _iso(leave), _iso(arrive), _iso(leave),
                          f"{got:.3f}", f"{wanted:.3f}", 1000 * i, 1000 * i + round(got * 1000),
                          ("EVDisconnected", "Local")[i % 3 == 0], "generic_60kwh"])


@pytest.fixture
def make_results(tmp_path: Path) -> MakeResults:
    """``make_results("name", **options)`` → a fresh synthetic results folder."""
    def make(name: str = "synthetic-20261121T120000Z", **options: object) -> Path:
        return write_results(tmp_path / name, **options)  # type: ignore[arg-type]
    return make


@dataclass(frozen=True)
class Rendered:
    """A synthetic folder after ``render()``, and what ``render()`` returned."""

    folder: Path
    written: list[Path]


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """One synthetic folder rendered once (plots and report.html) for read-only tests."""
    from fleetsim.report import render

    folder = write_results(tmp_path_factory.mktemp("rendered") / "synthetic-20261121T120000Z")
    return Rendered(folder, render(folder))
