"""Overload, loud and exact: which engine, which resource, since when; every process's CPU.

The pure part (episodes from per-second gauges) on made-up seconds; then one real
run that saturates this 2-core box on purpose: 2,000 stations on two engines under
Locust against the ack server (which answers at once), ramping at 500/s, every station
sending Heartbeats back to back and a meter value every 2 simulated seconds at 60×. The
summary must name the saturation, count every engine, Locust worker and the master, and
still hold every station exactly once.

Against the embedded CSMS the CSMS was the bottleneck: its answers paced the closed
loops, the engines idled at 45 % of a core each, and only the collector's pauses (gone
since the engine collects its young generation seldom) had made their loops lag.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import orjson
import yaml

from fleetsim.run.overload import (
    SUSTAIN_S,
    EngineTrace,
    box_episodes,
    describe,
    engine_episodes,
    overload_section,
)
from tests.locust_adapter.procs import ROOT, alive, child_pids, wait_for


def _trace(cpu: list[float], lag: list[float], start: int = 10) -> EngineTrace:
    tr = EngineTrace("w001-p42")
    for k, (c, lg) in enumerate(zip(cpu, lag, strict=True)):
        tr.add(start + k, {"cpu_percent": c, "loop_lag_max_ms": lg})
    return tr


def test_a_sustained_saturation_is_an_episode_a_blip_is_not() -> None:
    eps = engine_episodes(_trace([20, 95, 20, 91, 99, 97, 100, 30], [1, 150, 1, 2, 3, 30, 40, 25]))
    assert [(e["resource"], e["since_s"], e["seconds"], e["peak"]) for e in eps] == [
        ("cpu", 13, 4, 100.0), ("loop_lag", 15, 3, 40.0)]
    assert describe(eps[0]) == "engine w001-p42: CPU 100 % >= 90 % from t=13 s for 4 s"
    assert describe(eps[1]) == ("engine w001-p42: event-loop lag 40 ms >= 20 ms from t=15 s "
                                "for 3 s")
    assert engine_episodes(_trace([95, 95, 20], [1, 1, 1])) == []  # < SUSTAIN_S seconds
    assert SUSTAIN_S == 3


def test_refused_stations_and_the_box_are_named_with_their_time() -> None:
    eps = engine_episodes(EngineTrace("w002-p9"),
                          {"fd_refused": 120, "fd_refused_since_s": 7.5, "fd_headroom": 900})
    box = box_episodes([50, 95, 96, 97, 98, 20], cores=2)
    section = overload_section(eps + box)
    assert section["saturated"] and section["episodes"] == eps
    assert describe(section["box_episodes"][0]) == ("the whole box: CPU 98 % >= 90 % from "
                                                    "t=1 s for 4 s")
    assert not overload_section(box)["saturated"]  # a busy box alone: named, not judged
    assert describe(eps[0]) == ("engine w002-p9: descriptors: 120 stations refused (one "
                                "process may hold 900 sockets) from t=8 s")
    assert overload_section([]) == {"saturated": False, "first": None, "sustain_s": 3,
                                    "episodes": [], "box_episodes": []}


STATIONS = 2000
SCENARIO = {
    "name": "overload", "seed": 5, "duration": "10s",
    "stations": {"count": STATIONS, "id_prefix": "OV", "connectors": 1,
                 "versions": {"1.6": 1, "2.0.1": 1}, "connect_rate": 500},
    "csms": {"connect_timeout": "30s"},
    "clock": {"time_factor": 60, "start": "2026-01-05T07:00:00Z", "intervals": "simulated"},
    # back-to-back Heartbeats (each sent as the last is answered): 2,000 closed loops keep
    # both engines busy whatever the box's speed, so the saturation does not depend on it
    "ocpp": {"meter_interval": "2s", "heartbeat_interval": "0s"},
}


def test_a_saturated_box_is_named_and_every_engine_counted(tmp_path: Path) -> None:
    scenario = tmp_path / "overload.yaml"
    scenario.write_text(yaml.safe_dump(SCENARIO))
    out = tmp_path / "run"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sink = subprocess.Popen([sys.executable, "-m", "fleetsim.bench.ack_server", "--port",
                             str(port), "--quiet"], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert sink.stdout is not None and sink.stdout.readline().startswith("ack server on")
        proc = subprocess.run([sys.executable, "-m", "fleetsim", "run", str(scenario),
                               "--workers", "2", "--out", str(out), "--csms",
                               f"ws://127.0.0.1:{port}"], capture_output=True, text=True,
                              timeout=75, cwd=ROOT, stdin=subprocess.DEVNULL, check=False)
    finally:
        sink.terminate()
        sink.wait(10)
        if sink.stdout is not None:
            sink.stdout.close()
    log = proc.stdout + proc.stderr
    try:
        assert proc.returncode in (0, 1), log[-3000:]  # 1: the invalid generator fails it
        summary = json.loads((out / "summary.json").read_text())
        over = summary["overload"]
        assert over["saturated"] and over["first"], over
        first = over["episodes"][0]
        assert first["resource"] in ("cpu", "loop_lag") and first["since_s"] >= 0
        assert f"overload: {over['first']}" in summary["generator"]["warnings"]
        assert not summary["generator"]["valid"]
        tags = sorted(d.name for d in (out / "workers").iterdir())
        assert len(tags) == 2
        assert {e["engine"] for e in over["episodes"]} <= set(tags)
        # every process counted: two engines, two Locust workers, the master, and the box
        cpu = summary["cpu"]
        assert sorted(cpu["engines"]) == sorted(cpu["locust_workers"]) == tags
        assert cpu["master_cpu_percent"] is not None and cpu["cores"] >= 1
        assert cpu["fleetsim_cpu_percent"] == round(
            sum(cpu["engines"].values()) + sum(cpu["locust_workers"].values())
            + cpu["master_cpu_percent"], 1)
        assert cpu["box_peak_percent"] >= 90
        assert cpu["box_cpu_percent"] * cpu["cores"] >= cpu["fleetsim_cpu_percent"] * 0.9
        # no station double-booked or refused, every engine's figures present
        started = [set(orjson.loads((out / "workers" / t / "worker.json").read_bytes())
                       ["started_indices"]) for t in tags]
        assert not started[0] & started[1] and started[0] | started[1] == set(range(STATIONS))
        # a starved box boots what it can in 10 s: each station once, none twice
        assert summary["stations"]["started"] == STATIONS
        assert 0 < summary["stations"]["booted"] <= STATIONS
        assert "too_many_open_files" not in summary["errors"]["by_kind"]
        assert len(summary["generator_workers"]) == 2
        # the live line counts against the whole fleet, every engine's last report in it
        assert f"/{STATIONS} connected" in log
        assert "overload:" in log  # loud on the terminal too
    finally:
        pids = child_pids(out)
        wait_for(lambda: not alive(pids), 15, "engine children to exit")
