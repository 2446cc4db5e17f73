"""``python -m fleetsim.bench.mix``: what a realistic message mix costs, full stack vs bare.

The heartbeat benchmark (``python -m fleetsim.bench``) measures back-to-back Heartbeats.
Real fleets send boots, status changes, authorisations, transactions and MeterValues
driven by session timers. This benchmark drives OCPP 1.6 stations with two connectors
through such sessions at a fixed, unsaturated offered load (issue #17):

- ``realistic``: heartbeat and meter values every 60 s, sessions of 60-120 s with
  15-30 s gaps (10,000 stations by default);
- ``busy``: heartbeat and meter values every 1 s, sessions of 5-10 s with 1-2 s gaps
  (2,000 stations by default; the profile of issue #18).

The ack server runs in its own process and captures every frame the full stack sends,
with its arrival time. A bare websockets+orjson client then opens the same connections
and replays exactly those frames (pre-built bytes, same stations, same times, one CALL
in flight per connection), so the two CPU figures compare like with like. It prints CPU
µs per message for both, their ratio, the messages per action, and with ``--profile``
the full stack's hottest functions (cProfile, sorted by own time).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import multiprocessing as mp
import random
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import orjson
import psutil

from fleetsim.drivers.session import Session, Vehicle
from fleetsim.drivers.window import SessionFeed

_CAR = Vehicle(name="bench_bev", battery_kwh=1000, ac_phases=3, ac_max_a=16)

__all__ = ["PROFILES", "BenchFeed", "Profile", "main"]


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    stations: int
    interval_s: float          # heartbeat and MeterValueSampleInterval
    dwell_s: tuple[float, float]
    gap_s: tuple[float, float]


PROFILES = {
    "realistic": Profile("realistic", 10_000, 60.0, (60.0, 120.0), (15.0, 30.0)),
    "busy": Profile("busy", 2_000, 1.0, (5.0, 10.0), (1.0, 2.0)),
}


class BenchFeed(SessionFeed):
    """Station ``index``'s sessions (two connectors) in arrival order: gap, stay, gap…,
    drawn one session ahead per connector, as a run's window planner hands them out.

    A run never holds its sessions as objects (``drivers/window.py``: columns, two
    windows at most), so neither does the bench: an up-front tuple of the whole
    horizon cost ~2.5 KiB a station that no run pays. Each session's draws are seeded
    by (station, connector, session number), so the plan is the same on every run.
    The first arrival falls anywhere in one cycle, so the fleet is not phase-locked and
    a short window sees starts, readings and stops in their steady-state mix."""

    __slots__ = ("_ahead", "_n", "_p")

    def __init__(self, p: Profile, index: int) -> None:
        super().__init__(None, 0, index)
        self._p = p
        self.planned_until_s = math.inf
        self._n = [0, 0]  # sessions drawn per connector
        self._ahead = [self._draw(c, 0, -1.0) for c in (1, 2)]

    def _draw(self, connector: int, k: int, after_s: float) -> Session:
        p = self._p
        rng = random.Random((self.station_index * 4 + connector) * 1_000_003 + k)
        t = (rng.uniform(0.0, p.gap_s[1] + p.dwell_s[1]) if after_s < 0
             else after_s + rng.uniform(*p.gap_s))
        return Session(station_index=self.station_index, connector_id=connector,
                       arrival_s=t, departure_s=t + rng.uniform(*p.dwell_s),
                       energy_kwh=500.0, id_tag=f"{self.station_index:08X}", vehicle=_CAR,
                       soc_start=0.1)

    def next(self) -> Session | None:
        a = self._ahead
        i = 0 if a[0].arrival_s <= a[1].arrival_s else 1
        s = a[i]
        self._n[i] += 1
        a[i] = self._draw(i + 1, self._n[i], s.departure_s)
        return s

    def peek_vehicle(self) -> Vehicle | None:
        return _CAR

    def skip_before(self, t_s: float) -> None:
        while min(s.arrival_s for s in self._ahead) < t_s:
            self.next()


# ---------------------------------------------------------------- the capturing ack server
def _server(port_q: Any, cmd_q: Any, out_q: Any) -> None:
    import uvloop
    from websockets.asyncio.server import ServerConnection, serve
    from websockets.exceptions import ConnectionClosed
    from websockets.typing import Subprotocol

    from fleetsim.bench.ack_server import canned_result

    frames: list[tuple[float, str, str]] = []
    capturing = False

    async def handle(ws: ServerConnection) -> None:
        sub = ws.subprotocol or "ocpp1.6"
        path = ws.request.path if ws.request is not None else "/"
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                text = raw if isinstance(raw, str) else raw.decode()
                if capturing:
                    frames.append((time.time(), path, text))
                m = orjson.loads(text)
                if m[0] == 2:
                    body = orjson.dumps([3, m[1], canned_result(sub, m[2])])
                    await ws.send(body.decode())

    async def run() -> None:
        nonlocal capturing, frames
        subs = [Subprotocol(s) for s in ("ocpp1.6", "ocpp2.0.1", "ocpp2.1")]
        async with serve(handle, "127.0.0.1", 0, subprotocols=subs, ping_interval=None,
                         compression=None, max_queue=None) as server:
            port_q.put(server.sockets[0].getsockname()[1])
            loop = asyncio.get_running_loop()
            while True:
                cmd = await loop.run_in_executor(None, cmd_q.get)
                if cmd == "start":
                    frames, capturing = [], True
                elif cmd == "take":
                    capturing = False
                    out_q.put(frames)
                    frames = []
                else:
                    return

    uvloop.run(run())


def _cpu() -> float:
    t = psutil.Process().cpu_times()
    return float(t.user + t.system)


# ---------------------------------------------------------------- full stack
async def _full(url: str, p: Profile, n: int, seconds: float, profile: bool,
                warmup_s: float) -> dict[str, Any]:
    from fleetsim.drivers.session import Evse, StationPlan
    from fleetsim.metrics.recorder import Recorder
    from fleetsim.scenario.fleet import StationSpec
    from fleetsim.scenario.model import OcppVersion
    from fleetsim.station import STATION_CLASSES, Clock, StationConfig
    from fleetsim.transport import Engine, EngineOptions

    rec = Recorder()
    clock = Clock.start(epoch=None, factor=1.0, wall_timestamps=True,
                        monotonic=time.monotonic(), unix=time.time())
    cfg = StationConfig(heartbeat_interval_s=p.interval_s, meter_interval_s=p.interval_s)
    horizon = seconds + 600
    stations = []
    for i in range(n):
        spec = StationSpec(index=i, station_id=f"M{i:06d}", version=OcppVersion.V16,
                           connectors=2, archetype="bench", seed=0)
        plan = StationPlan(station_index=i, archetype="bench", evse=Evse(11000),
                           sessions=(), feed=BenchFeed(p, i))
        stations.append(STATION_CLASSES[spec.version](spec, plan, clock=clock, recorder=rec,
                                                      config=cfg))
    engine = Engine(stations, [f"{url}/M{i:06d}" for i in range(n)], recorder=rec,
                    options=EngineOptions(connect_rate_per_s=2000, stop_grace_s=1.0))
    task = asyncio.get_running_loop().create_task(engine.run(horizon))
    t0 = time.monotonic()
    while sum(st.booted for st in stations) < n and time.monotonic() - t0 < 300:
        await asyncio.sleep(0.05)
    boot_s = time.monotonic() - t0
    await asyncio.sleep(warmup_s)  # past the boot burst, into the steady mix
    prof = None
    if profile:
        import cProfile

        prof = cProfile.Profile()
    sent0 = sum(a.sent for a in rec.actions.values())
    per0 = {k: a.sent for k, a in rec.actions.items()}
    w0, cpu0 = time.time(), _cpu()
    if prof is not None:
        prof.enable()
    await asyncio.sleep(seconds)
    if prof is not None:
        prof.disable()
    cpu1, w1 = _cpu(), time.time()
    sent1 = sum(a.sent for a in rec.actions.values())
    per = {k.partition("/")[2]: a.sent - per0.get(k, 0) for k, a in rec.actions.items()}
    engine.stopping = True
    task.cancel()
    for r in engine.runners:
        if r.conn is not None:
            r.conn.abort("bench over")
    out: dict[str, Any] = {"window": (w0, w1), "messages": sent1 - sent0, "boot_s": boot_s,
                           "cpu_s": cpu1 - cpu0, "per_action": per,
                           "rss_kib_per_station": psutil.Process().memory_info().rss / 1024 / n}
    if prof is not None:
        import io
        import pstats

        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(25)
        out["profile"] = buf.getvalue()
    return out


# ---------------------------------------------------------------- bare replay
async def _bare(url: str, frames: list[tuple[float, str, str]], w0: float) -> dict[str, Any]:
    from websockets.asyncio.client import connect
    from websockets.typing import Subprotocol

    by_path: dict[str, list[tuple[float, bytes]]] = {}
    for t, path, text in frames:  # pre-built: the bytes the full stack sent
        by_path.setdefault(path, []).append((t - w0, text.encode()))
    conns = {}
    for path in by_path:
        conns[path] = await connect(f"{url}{path}", subprotocols=[Subprotocol("ocpp1.6")],
                                    compression=None, ping_interval=None, max_queue=None)
    loop = asyncio.get_running_loop()
    sent = 0

    async def replay(path: str, items: list[tuple[float, bytes]]) -> None:
        nonlocal sent
        ws = conns[path]
        for offset, data in items:
            wait = start + offset - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            await ws.send(data, text=True)
            await ws.recv()  # one CALL in flight, as the stations do
            sent += 1

    start = loop.time() + 0.5
    cpu0 = _cpu()
    await asyncio.gather(*(replay(p_, it) for p_, it in by_path.items()))
    cpu1 = _cpu()
    for ws in conns.values():
        await ws.close()
    return {"messages": sent, "cpu_s": cpu1 - cpu0, "frames": [t for _, _, t in frames]}


def _child(q: Any, kind: str, args: tuple[Any, ...]) -> None:
    import uvloop

    q.put(uvloop.run(_full(*args) if kind == "full" else _bare(*args)))


def _in_child(kind: str, *args: Any) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    proc = ctx.Process(target=_child, args=(q, kind, args))
    proc.start()
    try:
        return q.get(timeout=900)  # type: ignore[no-any-return]
    finally:
        proc.join(30)
        if proc.is_alive():
            proc.kill()


def measure(p: Profile, stations: int, seconds: float, *, profile: bool = False,
            warmup_s: float | None = None) -> dict[str, Any]:
    """One full-stack run and one bare replay of its frames; both CPU figures."""
    ctx = mp.get_context("spawn")
    port_q, cmd_q, out_q = ctx.Queue(), ctx.Queue(), ctx.Queue()
    server = ctx.Process(target=_server, args=(port_q, cmd_q, out_q), daemon=True)
    server.start()
    try:
        url = f"ws://127.0.0.1:{port_q.get(timeout=60)}"
        cmd_q.put("start")
        warm = p.dwell_s[1] + p.gap_s[1] if warmup_s is None else warmup_s  # one cycle
        full = _in_child("full", url, p, stations, seconds, profile, warm)
        cmd_q.put("take")
        captured = out_q.get(timeout=300)
        w0, w1 = full["window"]
        window = [f for f in captured if w0 <= f[0] < w1 and orjson.loads(f[2])[0] == 2]
        bare = _in_child("bare", url, window, w0)
        cmd_q.put("quit")
    finally:
        server.join(5)
        if server.is_alive():
            server.kill()
    return {"full": full, "bare": bare, "captured": len(window),
            "captured_per_action": dict(Counter(orjson.loads(f[2])[2] for f in window))}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m fleetsim.bench.mix", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile-name", choices=sorted(PROFILES), default="realistic")
    ap.add_argument("--stations", type=int, help="default: the profile's")
    ap.add_argument("--seconds", type=float, default=60.0, help="measured window")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--warmup", type=float, help="seconds after boot before the window "
                    "(default: one session cycle, so the mix is steady)")
    ap.add_argument("--profile", action="store_true", help="cProfile the full stack's window")
    a = ap.parse_args(argv)
    p = PROFILES[a.profile_name]
    n = a.stations or p.stations
    rows = []
    for i in range(a.runs):
        print(f"run {i + 1}/{a.runs}: {n} stations, profile {p.name} …", flush=True)
        rows.append(measure(p, n, a.seconds, profile=a.profile and i == 0, warmup_s=a.warmup))

    def us(r: dict[str, Any]) -> float:
        return float(r["cpu_s"]) / max(1, int(r["messages"])) * 1e6

    f_us = statistics.median(us(r["full"]) for r in rows)
    b_us = statistics.median(us(r["bare"]) for r in rows)
    print(f"\nfleetsim realistic-mix bench — profile {p.name}, {n} OCPP 1.6 stations x 2 "
          f"connectors, {a.seconds:g} s windows, medians of {a.runs} runs, "
          f"{psutil.cpu_count()} cores")
    print(f"{'figure':60} {'value':>10}")
    last = rows[-1]
    for name, value in [
        ("messages in the window (full stack)", f"{last['full']['messages']:,}"),
        ("messages replayed by the bare client", f"{last['bare']['messages']:,}"),
        ("full stack CPU µs per message", f"{f_us:.1f}"),
        ("bare websockets+orjson CPU µs per message (same frames)", f"{b_us:.1f}"),
        ("ratio full / bare (budget <= 2)", f"{f_us / b_us:.2f}"),
        ("full stack messages per CPU-second", f"{1e6 / f_us:,.0f}"),
        ("time to boot the fleet [s]", f"{last['full']['boot_s']:.1f}"),
        ("engine RSS per station [KiB] (sessions running)",
         f"{statistics.median(r['full']['rss_kib_per_station'] for r in rows):.1f}"),
    ]:
        print(f"{name:60} {value:>10}")
    print("messages per action (full stack): " + ", ".join(
        f"{k} {v}" for k, v in sorted(last["full"]["per_action"].items(), key=lambda kv: -kv[1])))
    if "profile" in rows[0]["full"]:
        print("\nwhere the full stack's time goes (cProfile, own time):")
        print(rows[0]["full"]["profile"])


if __name__ == "__main__":
    main()
