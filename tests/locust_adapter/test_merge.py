"""Merging engine folders: exact sums, per-worker generator health, missing figures."""

from __future__ import annotations

import json
from pathlib import Path

import orjson

from fleetsim.metrics.recorder import Recorder
from fleetsim.run.merge import IN_PROCESS_ROLE, merge_run
from fleetsim.run.overload import CPU_FILE
from fleetsim.scenario import parse_scenario

S = parse_scenario({"name": "m", "stations": {"count": 4}}, file="m.yaml")


def worker(run: Path, tag: str, *, latencies_s: list[float], cpu: float, lag_s: float,
           indices: list[int], final: bool = True, connected: int | None = None,
           **info: object) -> Recorder:
    d = run / "workers" / tag
    d.mkdir(parents=True)
    rec = Recorder()
    for x in latencies_s:
        rec.call_sent("1.6/Heartbeat", own_s=0.0, offline_s=0.0, engine_s=0.0)
        rec.call_done("1.6/Heartbeat", x, x)
    rec.call_sent("1.6/Heartbeat", own_s=0.0, offline_s=0.0, engine_s=0.0)
    rec.call_failed("1.6/Heartbeat", "CALLERROR:InternalError", 0.003, 0.003)
    for _ in range(100):
        rec.record_loop_lag(lag_s)
    st = rec.interval(1.0, {"connected": float(len(indices) if connected is None else connected),
                            "booted": float(len(indices))})
    (d / "intervals.jsonl").write_bytes(orjson.dumps(st.to_wire()) + b"\n")
    (d / "sessions.jsonl").write_bytes(b"")
    if final:
        (d / "recorder.json").write_bytes(orjson.dumps(rec.to_wire()))
        (d / "worker.json").write_bytes(orjson.dumps({
            "tag": tag, "pid": 1, "host": "h", "stations_started": len(indices),
            "started_indices": indices, "booted_indices": indices, "booted": len(indices),
            "wall_s": 3.0, "cpu_percent": cpu, "locust_cpu_percent": 2.0, "failure": None,
            **info}))
    return rec


def test_merge_adds_exactly_and_judges_each_worker(tmp_path: Path) -> None:
    a = worker(tmp_path, "w000-p1", latencies_s=[0.001, 0.002], cpu=40.0, lag_s=0.001,
               indices=[0, 2])
    b = worker(tmp_path, "w001-p2", latencies_s=[0.5], cpu=95.0, lag_s=0.001, indices=[1, 3])
    out = merge_run(tmp_path, S, started_at="2026-01-05T00:00:00.000Z")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert out.workers == 2 and summary["completed"] is True
    hb = summary["actions"]["1.6/Heartbeat"]
    assert (hb["count"], hb["sent"], hb["errors"]) == (5, 5, 2)  # CALLERRORs are samples
    merged = Recorder()
    merged.add(a)
    merged.add(b)
    assert hb["max_ms"] == merged.actions["1.6/Heartbeat"].service.summary()["max_ms"]
    assert summary["stations"] == {"planned": 4, "connected_max": 4, "booted": 4, "started": 4}
    assert summary["versions"] == {"1.6": 4}
    gen = summary["generator"]
    assert gen["valid"] is False and gen["workers"] == 2 and gen["cpu_percent"] == 95.0
    assert gen["warnings"] == ["worker w001-p2: generator CPU 95 % >= 90 %: add workers or "
                               "machines"]
    assert [w["valid"] for w in summary["generator_workers"]] == [True, False]


def test_a_worker_without_final_figures_makes_the_run_incomplete(tmp_path: Path) -> None:
    worker(tmp_path, "w000-p1", latencies_s=[0.001], cpu=10, lag_s=0.001, indices=[0])
    worker(tmp_path, "w001-p2", latencies_s=[0.001], cpu=10, lag_s=0.001, indices=[1],
           final=False)
    merge_run(tmp_path, S)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["completed"] is False
    assert "1 of 2 engines left no final figures (killed?): w001-p2;" in summary["failure"]
    assert summary["actions"]["1.6/Heartbeat"]["count"] == 2  # the answer and the CALLERROR


def test_one_in_process_engine_reads_as_it_always_did(tmp_path: Path) -> None:
    # fleetsim run --workers 0: one engine, no Locust worker, no master; the process that
    # sampled the box is the engine's own, so its CPU is counted once
    worker(tmp_path, "engine", latencies_s=[0.001], cpu=95.0, lag_s=0.001,
           indices=[0, 1, 2, 3], connected=3, connected_max=4, locust_cpu_percent=None)
    (tmp_path / CPU_FILE).write_bytes(orjson.dumps({
        "cores": 2, "process_cpu_percent": 97.0, "role": IN_PROCESS_ROLE,
        "box_cpu_percent": 50.0, "box_per_s": [40.0, 60.0]}))
    merge_run(tmp_path, S)
    summary = json.loads((tmp_path / "summary.json").read_text())
    # the engine's own maximum, though no second's sample saw all four connected
    assert summary["stations"]["connected_max"] == 4
    gen = summary["generator"]
    assert gen["workers"] == 1 and gen["valid"] is False
    assert gen["warnings"] == ["generator CPU 95 % >= 90 %: add workers or machines"]
    cpu = summary["cpu"]
    assert cpu["master_cpu_percent"] is None and cpu["master_role"] == IN_PROCESS_ROLE
    assert cpu["engines"] == {"engine": 95.0} and cpu["locust_workers"] == {}
    assert cpu["fleetsim_cpu_percent"] == 97.0 and cpu["fleetsim_share_of_box_percent"] == 48.5
