"""``python -m fleetsim.bench``: what the full station stack costs, against a bare client.

Runs against the minimal ack server in its own process (so only the client's CPU is
counted) on 127.0.0.1, three times each, and prints medians:

- round trips per CPU-second of the full stack (station core + engine + metrics),
  and of a bare websockets+orjson client doing the same Heartbeat calls;
- KiB of RSS per connected idle station (the station objects and the connection), and
  stations connected per second;
- the same busy stations through Locust (``locust -f fleetsim/locustfile.py
  --processes 1``: master, one worker, its engine child): round trips per
  CPU-second of all three processes, and the ratio to the engine alone.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import psutil

__all__ = ["main"]


def _server(port_q: Any) -> None:
    import uvloop

    from fleetsim.bench.ack_server import hold_heap, serve_ack

    async def run() -> None:
        server = await serve_ack()
        port_q.put(server.sockets[0].getsockname()[1])
        heap = asyncio.get_running_loop().create_task(hold_heap(server))
        await server.serve_forever()
        heap.cancel()

    uvloop.run(run())


def start_ack_server(ctx: Any) -> tuple[Any, str]:
    """The ack server in its own (daemon) process from ``ctx``, and its ws:// URL."""
    port_q = ctx.Queue()
    server = ctx.Process(target=_server, args=(port_q,), daemon=True)
    server.start()
    return server, f"ws://127.0.0.1:{port_q.get(timeout=30)}"


def _cpu() -> float:
    t = psutil.Process().cpu_times()
    return float(t.user + t.system)


async def _full_stack(url: str, n: int, seconds: float, *, busy: bool) -> dict[str, float]:
    from fleetsim.drivers.session import Evse, StationPlan
    from fleetsim.metrics.recorder import Recorder
    from fleetsim.scenario.fleet import StationSpec
    from fleetsim.scenario.model import OcppVersion
    from fleetsim.station import STATION_CLASSES, Clock, StationConfig
    from fleetsim.transport import Engine, EngineOptions

    rec = Recorder()
    clock = Clock.start(epoch=None, factor=1.0, wall_timestamps=False,
                        monotonic=time.monotonic(), unix=time.time())
    # busy: back-to-back Heartbeats (throughput); idle: one every hour (memory)
    cfg = StationConfig(heartbeat_interval_s=3600.0, closed_loop_heartbeat=busy)
    versions = list(OcppVersion)
    rss0 = psutil.Process().memory_info().rss  # the stations themselves count too
    stations = []
    for i in range(n):
        spec = StationSpec(index=i, station_id=f"B{i:06d}", version=versions[i % 3],
                           connectors=1, archetype="bench", seed=0)
        plan = StationPlan(station_index=i, archetype="bench", evse=Evse(11000), sessions=())
        stations.append(STATION_CLASSES[spec.version](spec, plan, clock=clock, recorder=rec,
                                                      config=cfg))
    engine = Engine(stations, [f"{url}/B{i:06d}" for i in range(n)], recorder=rec,
                    options=EngineOptions(connect_rate_per_s=1e9, stop_grace_s=1.0))
    out: dict[str, float] = {}
    task = asyncio.get_running_loop().create_task(engine.run(seconds + 3600))
    t0 = time.monotonic()
    while engine.connected < n and time.monotonic() - t0 < 120:
        await asyncio.sleep(0.01)
    out["connect_per_s"] = engine.connected / (time.monotonic() - t0)
    while sum(st.booted for st in stations) < n and time.monotonic() - t0 < 120:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.5)
    out["kib_per_station"] = (psutil.Process().memory_info().rss - rss0) / 1024 / n
    hb = [rec.actions[f"{v.value}/Heartbeat"] for v in versions if f"{v.value}/Heartbeat"
          in rec.actions]
    done0, cpu0, w0 = sum(a.answered for a in hb), _cpu(), time.monotonic()
    await asyncio.sleep(seconds)
    hb = [rec.actions[k] for k in rec.actions if k.endswith("/Heartbeat")]
    done1, cpu1, w1 = sum(a.answered for a in hb), _cpu(), time.monotonic()
    out["rt_per_cpu_s"] = (done1 - done0) / max(1e-9, cpu1 - cpu0)
    out["rt_per_s"] = (done1 - done0) / (w1 - w0)
    out["cpu_share"] = (cpu1 - cpu0) / (w1 - w0)
    engine.stopping = True
    task.cancel()
    for r in engine.runners:
        if r.conn is not None:
            r.conn.abort("bench over")
    return out


async def _bare(url: str, n: int, seconds: float) -> dict[str, float]:
    from websockets.asyncio.client import connect
    from websockets.typing import Subprotocol

    count = 0
    stop = False

    async def one(i: int) -> None:
        nonlocal count
        async with connect(f"{url}/R{i:06d}", subprotocols=[Subprotocol("ocpp1.6")],
                           compression=None, ping_interval=None) as ws:
            k = 0
            while not stop:
                k += 1
                await ws.send(orjson.dumps([2, str(k), "Heartbeat", {}]).decode())
                reply = orjson.loads(await ws.recv())
                if reply[1] == str(k):
                    count += 1

    tasks = [asyncio.create_task(one(i)) for i in range(n)]
    await asyncio.sleep(1.0)
    c0, cpu0, w0 = count, _cpu(), time.monotonic()
    await asyncio.sleep(seconds)
    c1, cpu1, w1 = count, _cpu(), time.monotonic()
    stop = True
    await asyncio.gather(*tasks, return_exceptions=True)
    return {"rt_per_cpu_s": (c1 - c0) / max(1e-9, cpu1 - cpu0), "rt_per_s": (c1 - c0) / (w1 - w0)}


def _tree_cpu(root: psutil.Process) -> float:
    total = 0.0
    for p in [root, *root.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def _through_locust(url: str, n: int, seconds: float) -> dict[str, float]:
    """The busy fleet as Locust users: CPU of master + worker + engine child per round trip."""
    import yaml

    from fleetsim.run.distributed import LOCUSTFILE, _free_port

    with tempfile.TemporaryDirectory(prefix="fleetsim-bench-") as tmp:
        scenario = Path(tmp) / "bench.yaml"
        scenario.write_text(yaml.safe_dump({
            "name": "bench", "duration": f"{seconds + 60:g}s",
            "stations": {"count": n, "id_prefix": "L", "versions": {"1.6": 1, "2.0.1": 1,
                                                                      "2.1": 1}},
            "csms": {"target": url}, "clock": {"time_factor": 1},
            # back-to-back Heartbeats, as the engine-alone figure; sessions out of the way
            "ocpp": {"heartbeat_interval": "0s"},
            "drivers": {"model": "uniform", "overrides": {"uniform": {
                "sessions_per_day": 0.001}}}}))
        out = Path(tmp) / "run"
        port = str(_free_port())
        cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
               "--processes", "1", "--master-bind-host", "127.0.0.1", "--master-bind-port",
               port, "--master-port", port, "--users", str(n), "--spawn-rate", str(n),
               "--run-time", f"{seconds + 60:g}s", "--only-summary", "--loglevel", "ERROR",
               "--fleetsim-scenario", str(scenario), "--fleetsim-out", str(out),
               "--fleetsim-no-merge"]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        root = psutil.Process(proc.pid)
        try:
            return _measure_locust(root, out, n, seconds)
        finally:
            # Ctrl-C to Locust's whole group (master and worker); the engine child stops
            # on the worker's quit (its busy queue drains within the 10 s stop grace)
            tree = root.children(recursive=True)
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            _, left = psutil.wait_procs(tree, timeout=30)
            for p in left:
                p.kill()


def _measure_locust(root: psutil.Process, out: Path, n: int, seconds: float) -> dict[str, float]:
    offsets: dict[Path, int] = {}
    intervals: list[dict[str, Any]] = []

    def poll() -> None:
        for f in out.glob("workers/*/intervals.jsonl"):
            with open(f, "rb") as fh:
                fh.seek(offsets.get(f, 0))
                chunk = fh.read()
            end = chunk.rfind(b"\n") + 1
            offsets[f] = offsets.get(f, 0) + end
            intervals.extend(orjson.loads(x) for x in chunk[:end].splitlines() if x.strip())

    deadline = time.monotonic() + 120
    while not any(x["gauges"].get("booted", 0) >= n for x in intervals):
        if time.monotonic() > deadline:
            raise RuntimeError("the Locust fleet never booted (see the bench scenario)")
        time.sleep(0.05)
        poll()
    time.sleep(1.0)  # warm-up
    poll()
    # the window runs from one interval's arrival to a later one's: messages counted in
    # exactly the intervals in between, CPU sampled at the two arrivals
    first = len(intervals)
    while len(intervals) == first:
        time.sleep(0.01)
        poll()
    cpu0, w0, i0 = _tree_cpu(root), time.monotonic(), intervals[-1]["index"]
    while intervals[-1]["index"] < i0 + seconds:
        time.sleep(0.01)
        poll()
    cpu1, w1, i1 = _tree_cpu(root), time.monotonic(), intervals[-1]["index"]
    done = sum(x["counts"].get("received", 0) for x in intervals if i0 < x["index"] <= i1)
    return {"rt_per_cpu_s": done / max(1e-9, cpu1 - cpu0), "rt_per_s": done / (w1 - w0),
            "cpu_share": (cpu1 - cpu0) / (w1 - w0)}


def _in_child(fn_name: str, *args: Any) -> dict[str, float]:
    """Each measurement in a fresh process: RSS and CPU figures are not polluted."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(q, fn_name, args))
    p.start()
    res = q.get(timeout=600)
    p.join(30)
    return res  # type: ignore[no-any-return]


def _child(q: Any, fn_name: str, args: tuple[Any, ...]) -> None:
    import uvloop

    if fn_name == "full":
        q.put(uvloop.run(_full_stack(args[0], args[1], args[2], busy=args[3])))
    else:
        q.put(uvloop.run(_bare(args[0], args[1], args[2])))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m fleetsim.bench", description=__doc__)
    ap.add_argument("--stations", type=int, default=100, help="busy stations for throughput")
    ap.add_argument("--idle", type=int, default=10_000, help="idle stations for memory")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-locust", action="store_true", help="skip the through-Locust figures")
    a = ap.parse_args(argv)
    ctx = mp.get_context("spawn")
    server, url = start_ack_server(ctx)
    try:
        full, bare, idle, through = [], [], [], []
        for i in range(a.runs):
            print(f"run {i + 1}/{a.runs} …", flush=True)
            full.append(_in_child("full", url, a.stations, a.seconds, True))
            bare.append(_in_child("bare", url, a.stations, a.seconds))
            idle.append(_in_child("full", url, a.idle, 1.0, False))
            if not a.no_locust:
                through.append(_through_locust(url, a.stations, a.seconds))
    finally:
        server.kill()

    def med(rows: list[dict[str, float]], k: str) -> float:
        return statistics.median(r[k] for r in rows)

    f_rt, b_rt = med(full, "rt_per_cpu_s"), med(bare, "rt_per_cpu_s")
    print(f"\nfleetsim bench — medians of {a.runs} runs, ack server in its own process, "
          f"{psutil.cpu_count()} cores")
    print(f"{'figure':64} {'value':>10}")
    rows = [
        (f"full stack round trips / CPU-second ({a.stations} busy stations)", f"{f_rt:,.0f}"),
        (f"bare websockets+orjson round trips / CPU-second ({a.stations} conns)", f"{b_rt:,.0f}"),
        ("ratio full stack / bare client (budget >= 0.5)", f"{f_rt / b_rt:.2f}"),
        ("full stack round trips / s (wall)", f"{med(full, 'rt_per_s'):,.0f}"),
        (f"RSS per connected idle station, {a.idle} stations [KiB] (budget <= 25)",
         f"{med(idle, 'kib_per_station'):.1f}"),
        ("stations connected per second", f"{med(idle, 'connect_per_s'):,.0f}"),
    ]
    if through:
        l_rt = med(through, "rt_per_cpu_s")
        ratios = [t["rt_per_cpu_s"] / f["rt_per_cpu_s"] for t, f in zip(through, full,
                                                                          strict=True)]
        rows += [
            ("through Locust round trips / CPU-second (master+worker+engine)", f"{l_rt:,.0f}"),
            ("ratio through Locust / engine alone (budget >= 0.7)",
             f"{statistics.median(ratios):.2f}"),
            ("through Locust round trips / s (wall)", f"{med(through, 'rt_per_s'):,.0f}"),
        ]
    for name, value in rows:
        print(f"{name:64} {value:>10}")


if __name__ == "__main__":
    main()
