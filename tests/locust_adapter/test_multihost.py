"""Master, two workers and the CSMS on four hosts: network namespaces on one bridge.

Each worker host covers the master's results folder with an empty tmpfs of its
own, so it cannot see or write the master's disk — as on another machine. Its
engine's final histograms, sessions and station ledger must reach the master
over Locust's own messages; the master's folder must be complete, and the merged
results must agree with the CSMS's ledger and with a single-host run of the same
scenario and seed (same stations, same versions, same session plan, counts that
add up). Every process and namespace is gone afterwards, whatever happened.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from fleetsim.csms.ledger import Ledger
from fleetsim.csms.process import EmbeddedCsms
from fleetsim.locust_adapter.child import station_plans
from fleetsim.scenario import load_scenario, station_spec
from tests.locust_adapter.netns import Hosts, netns_unavailable
from tests.locust_adapter.procs import LOCUSTFILE, ROOT, alive, child_pids, locust, wait_for

STATIONS = 240
RUN_S = 10
SCENARIO = {
    "name": "multihost", "seed": 23, "duration": f"{RUN_S}s",
    "stations": {"count": STATIONS, "id_prefix": "MH", "connectors": 2,
                 "versions": {"1.6": 1, "2.0.1": 1, "2.1": 1}, "connect_rate": 240},
    "csms": {"target": "embedded", "heartbeat_interval": "900s", "connect_timeout": "30s"},
    "clock": {"time_factor": 600, "start": "2026-01-05T07:00:00Z", "intervals": "simulated"},
    "ocpp": {"meter_interval": "300s"},
    "drivers": {"model": "uniform",
                "overrides": {"uniform": {"sessions_per_day": 24, "dwell_h": [0.2, 0.6]}}},
}
FILES = ("intervals.jsonl", "sessions.jsonl", "messages.jsonl", "recorder.json", "worker.json")

_NO_NETNS = netns_unavailable()
pytestmark = pytest.mark.skipif(_NO_NETNS is not None,
                                reason=f"no network namespaces here: {_NO_NETNS}")


def _locust_base(*args: str) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--loglevel", "INFO", *args]


def _wait_ready(path: Path, proc: subprocess.Popen[bytes], log: Path) -> dict[str, Any]:
    wait_for(lambda: path.exists() or proc.poll() is not None, 30, "the CSMS host to listen")
    assert path.exists(), log.read_text(errors="replace")[-2000:]
    ready: dict[str, Any] = json.loads(path.read_text())
    return ready


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("multihost")
    scenario = tmp / "multihost.yaml"
    scenario.write_text(yaml.safe_dump(SCENARIO))
    s = load_scenario(scenario)
    plans = station_plans(s, range(STATIONS), horizon_s=RUN_S * 600 + 3600)
    tokens = sorted({x.id_tag for p in plans for x in p.sessions})
    (tmp / "tokens.txt").write_text("\n".join(tokens) + "\n")
    master_dir = tmp / "master"  # the master's disk: hidden from the worker hosts
    master_dir.mkdir()
    private = tmp / "w2-private"  # worker 2's own folder, on its tmpfs
    private.mkdir()
    ns_out, local_out = master_dir / "run", tmp / "local" / "run"
    started = time.monotonic()
    with Hosts(["master", "w1", "w2", "csms"]) as hosts:
        a = hosts.addr
        csms_log = tmp / "csms.log"
        csms = hosts.popen("csms", [sys.executable, "-m", "fleetsim", "csms", "--host", a["csms"],
                                    "--port", "9000", "--db", str(tmp / "csms.sqlite"),
                                    "--tokens", str(tmp / "tokens.txt"), "--token-prefix", "",
                                    "--heartbeat-interval", "900",
                                    "--ready-file", str(tmp / "csms.ready")],
                           log=csms_log, cwd=ROOT)
        ready = _wait_ready(tmp / "csms.ready", csms, csms_log)
        master = hosts.popen("master", _locust_base(
            "--master", "--master-bind-host", a["master"], "--master-bind-port", "5557",
            "--expect-workers", "2", "--expect-workers-max-wait", "40", "--headless",
            "--only-summary", "--users", str(STATIONS), "--spawn-rate", "240",
            "--run-time", f"{RUN_S}s", "--fleetsim-scenario", str(scenario),
            "--fleetsim-csms", ready["url"], "--fleetsim-out", str(ns_out),
            "--csv", str(master_dir / "locust")), log=tmp / "master.log", cwd=ROOT)
        worker = ["--worker", "--master-host", a["master"], "--master-port", "5557"]
        hosts.popen("w1", _locust_base(*worker), log=tmp / "w1.log", hide=[master_dir],
                    cwd=ROOT)
        hosts.popen("w2", _locust_base(*worker, "--fleetsim-worker-dir", str(private)),
                    log=tmp / "w2.log", hide=[master_dir, private], cwd=ROOT)
        # the same scenario and seed on one host, meanwhile: loopback, two worker processes
        with EmbeddedCsms(db=tmp / "local.sqlite", heartbeat_interval_s=900, tokens=tokens,
                          token_prefix=None) as local_csms:
            local_cmd = locust("--users", str(STATIONS), "--spawn-rate", "240", "--run-time",
                               f"{RUN_S}s", "--fleetsim-scenario", str(scenario),
                               "--fleetsim-csms", local_csms.url, "--fleetsim-out",
                               str(local_out), processes=2)
            with open(tmp / "local.log", "wb") as f:
                local = subprocess.Popen(local_cmd, stdout=f, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=ROOT,
                                         start_new_session=True)
            try:
                local.wait(timeout=55)
                master.wait(timeout=max(5.0, 55 - (time.monotonic() - started)))
            finally:
                if local.poll() is None:
                    local.kill()
                    local.wait()
        worker_pids = child_pids(local_out)
        codes = {"master": master.returncode, "local": local.returncode}
        wait_for(lambda: not ({p for p in hosts.pids() if p != csms.pid}), 25,
                 "the worker hosts' processes to exit")
    assert not hosts.pids()
    wait_for(lambda: not alive(worker_pids), 10, "the local run's engine children to exit")
    logs = {n: (tmp / f"{n}.log").read_text(errors="replace")
            for n in ("master", "w1", "w2", "local", "csms")}
    assert codes == {"master": 0, "local": 0}, {k: v[-3000:] for k, v in logs.items()}
    return {"ns": ns_out, "local": local_out, "tmp": tmp, "scenario": s, "logs": logs,
            "private": private,
            "wall_s": time.monotonic() - started}


def _ledger(path: Path) -> dict[str, Any]:
    ledger = Ledger.open_readonly(path)
    try:
        return {"boots": ledger.boot_counts(),
                "versions": {r.station_id: r.ocpp_version for r in ledger.stations()},
                "actions": ledger.action_totals(),
                "messages": Counter({(m.station_id, m.action): m.count
                                     for m in ledger.message_counts()}),
                "transactions": {(t.station_id, t.transaction_id)
                                 for t in ledger.transactions()}}
    finally:
        ledger.close()


def _workers(out: Path) -> list[dict[str, Any]]:
    rows = []
    for d in sorted((out / "workers").iterdir()):
        info = orjson.loads((d / "worker.json").read_bytes())
        info["recorder"] = orjson.loads((d / "recorder.json").read_bytes())
        info["dir"] = d
        rows.append(info)
    return rows


def test_worker_folders_reach_the_master_over_locust(runs: dict[str, Any]) -> None:
    workers = _workers(runs["ns"])
    assert len(workers) == 2
    for w in workers:
        for name in FILES:
            assert (w["dir"] / name).is_file(), (w["dir"], name)
        assert not list(w["dir"].glob(".*.part"))
    # the workers could not reach the master's disk: their folders came as messages
    for name in ("w1", "w2"):
        assert "final folder" in runs["logs"][name] and "reached the master" in runs["logs"][name]
    assert not any(runs["private"].iterdir())  # worker 2's folder lived on its own tmpfs
    started = [set(w["started_indices"]) for w in workers]
    assert not started[0] & started[1]
    assert started[0] | started[1] == set(range(STATIONS))
    assert all(len(x) > STATIONS // 4 for x in started)  # both hosts carried load


def test_merged_results_agree_with_the_csms_ledger(runs: dict[str, Any]) -> None:
    out = runs["ns"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["completed"], summary["failure"]
    s = runs["scenario"]
    ids = [station_spec(s, i).station_id for i in range(STATIONS)]
    assert summary["stations"]["booted"] == summary["stations"]["connected_max"] == STATIONS
    ledger = _ledger(runs["tmp"] / "csms.sqlite")
    assert ledger["boots"] == dict.fromkeys(ids, 1)
    sent: Counter[str] = Counter()
    for w in _workers(out):
        for key, a in w["recorder"]["actions"].items():
            sent[key] += a["sent"]
    assert {k: a["sent"] for k, a in summary["actions"].items()} == dict(sent)
    by_action: Counter[str] = Counter()
    for key, n in sent.items():
        by_action[key.split("/", 1)[1]] += n
    assert ledger["actions"] == dict(by_action)
    per_station: Counter[tuple[str, str]] = Counter()
    with open(out / "messages.csv", newline="") as f:
        for m in csv.DictReader(f):
            per_station[m["station_id"], m["action"]] += int(m["sent"])
    assert per_station == ledger["messages"]  # the workers' station ledgers, merged
    # every transaction the CSMS holds is a session row, every acknowledged row is held
    with open(out / "sessions.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    held = ledger["transactions"]
    assert len(held) > 20
    # a 1.6 StartTransaction the CSMS stored but whose answer the run's stop cut off is a
    # started row with no transactionId: the station never learned the id. Each held
    # transaction without its row needs one such row at its station.
    ids = {(r["station_id"], r["transaction_id"]) for r in rows}
    unanswered = Counter(r["station_id"] for r in rows
                         if r["started"] and not r["transaction_id"])
    missing = Counter(station for station, tx in held - ids)
    assert missing <= unanswered, (missing, unanswered)
    assert sum(missing.values()) <= 5  # a stop's in-flight starts, not lost rows
    assert {(r["station_id"], r["transaction_id"]) for r in rows
            if r["csms_acknowledged"] == "true"} <= held


def _sessions(out: Path) -> list[tuple[str, int, str, str]]:
    with open(out / "sessions.csv", newline="") as f:
        return [(r["station_id"], int(r["connector_id"]), r["id_tag"], r["arrival"])
                for r in csv.DictReader(f)]


def test_multihost_equals_a_single_host_run(runs: dict[str, Any]) -> None:
    from datetime import datetime

    from fleetsim.station.clock import iso_ms

    s = runs["scenario"]
    ns, local = (json.loads((runs[k] / "summary.json").read_text()) for k in ("ns", "local"))
    assert ns["stations"] == local["stations"]
    assert ns["versions"] == local["versions"]
    assert ns["seed"] == local["seed"] == 23
    ledgers = [_ledger(runs["tmp"] / "csms.sqlite"), _ledger(runs["tmp"] / "local.sqlite")]
    assert ledgers[0]["versions"] == ledgers[1]["versions"]
    assert ledgers[0]["boots"] == ledgers[1]["boots"]
    # one session plan: every session either run executed is its station's planned one
    epoch = (s.clock.start or datetime.fromisoformat("2026-01-05T00:00:00+00:00")).timestamp()
    planned = {(station_spec(s, p.station_index).station_id, x.connector_id, x.id_tag,
                iso_ms(epoch + x.arrival_s))
               for p in station_plans(s, range(STATIONS), horizon_s=RUN_S * 600 + 3600)
               for x in p.sessions}
    for out in (runs["ns"], runs["local"]):
        rows = _sessions(out)
        assert len(rows) > 20 and set(rows) <= planned
    # counts that add up, in both: every call sent has its fate
    for summary in (ns, local):
        gen = summary["generator"]
        assert gen["workers"] == 2
        assert gen["calls_sent"] == (gen["calls_answered"] + gen["calls_callerror"]
                                     + gen["calls_timed_out"] + gen["calls_interrupted"])
        assert summary["errors"]["total"] == 0, summary["errors"]
    assert runs["wall_s"] < 60
