"""``python -m fleetsim.bench.scale``: hold a fleet of real size on this box (issue 13).

Runs ``fleetsim run`` exactly as a user would (the layout it picks, under Locust) with
``--stations`` stations (default 100,000) of all three OCPP versions at time factor 1:
heartbeats every 300 s (the sink's BootNotification interval), meter values every
60 s, sessions from the residential/workplace/public archetypes. The target is the
multi-process ack server (``python -m fleetsim.bench.ack_server --processes N``), and
stations spread over loopback source addresses, 12,000 per address: under half of the
28,232 ephemeral ports one address has toward one port (see :func:`fleetsim.run.layout.
ports_note`). ``--idle``: the same fleet with no sessions
(connected, booted, heartbeating), the fleet of the memory budget.

It samples every process ``fleetsim run`` started (master, workers, engines; the sink
is not counted) and prints:

- stations held: the most connections the sink held at once, and the stations the run
  says booted;
- the ramp rate: stations per second from the first connection to 99.9 % held, the CPU
  of fleetsim (by role), the sink and the whole box during it, and the connect +
  handshake latency the run measured;
- memory at steady state: RSS of every fleetsim process together (KiB per station,
  everything included) and PSS (shared pages counted once), by process role;
- CPU per 1,000 stations at steady state (% of one core), and the whole box's CPU;
- whether the generator was valid, and why not.

A benchmark command, not a CI test: it takes ``stations / connect_rate + hold`` seconds
plus set-up, and figures depend on the box.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import yaml

__all__ = ["main", "scenario"]

PORTS_PER_SOURCE = 12_000  # under half the ephemeral range: past it connect() costs 100x
MIX = {"residential_ac": 0.5, "workplace_ac": 0.3, "public_ac": 0.2}


def scenario(stations: int, *, connect_rate: int, hold_s: float, seed: int,
             idle: bool = False) -> dict[str, Any]:
    """The scenario the bench runs: real per-station rates, all three versions; ``idle``:
    no car ever plugs in (the memory budget's fleet: connected, booted, heartbeating)."""
    sources = [f"127.0.0.{2 + i}" for i in range(math.ceil(stations / PORTS_PER_SOURCE))]
    duration = math.ceil(stations / connect_rate + hold_s)
    return {
        "name": f"scale_{stations}", "seed": seed, "duration": f"{duration}s",
        "stations": {"count": stations, "id_prefix": "SC", "connectors": 2,
                     "versions": {"1.6": 1, "2.0.1": 1, "2.1": 1},
                     "connect_rate": connect_rate, "source_addresses": sources},
        "clock": {"time_factor": 1},
        "ocpp": {"meter_interval": "60s"},
        "drivers": ({"model": "uniform", "overrides": {"uniform": {"sessions_per_day": 1e-6}}}
                    if idle else {"mix": MIX}),
        "expect_errors": ["all"],  # the figures are the point, not a pass/fail verdict
    }


@dataclass
class Sample:
    t: float
    held: int
    rss: dict[str, int] = field(default_factory=dict)   # role → bytes
    pss: dict[str, int] = field(default_factory=dict)
    cpu_s: float = 0.0          # every fleetsim process, user + system, cumulative
    sink_cpu_s: float = 0.0     # the ack server's processes, likewise
    cpu_by_role: dict[str, float] = field(default_factory=dict)  # role → cumulative CPU s
    box_busy_s: float = 0.0     # the whole box, all cores


def _role(p: psutil.Process, root: int) -> str:
    """``fleetsim run``, the Locust master, a Locust worker (forked from the master, the
    same command line) or an engine (``fleetsim.locust_adapter.child``)."""
    if p.pid == root:
        return "fleetsim run"
    try:
        cmd = " ".join(p.cmdline())
        parent = p.ppid()
    except psutil.Error:
        return "gone"
    if "locust_adapter.child" in cmd:
        return "engine"
    if "locust" in cmd:
        return "locust master" if parent == root else "locust worker"
    return "other"


class Sampler:
    """Every process of the run's tree, every ``period`` s: RSS/PSS by role, CPU."""

    def __init__(self, root: psutil.Process, sink: SinkWatch, period: float = 2.0) -> None:
        self.root, self.sink, self.period = root, sink, period
        self.samples: list[Sample] = []
        self.stop = threading.Event()
        self._dead_cpu: dict[int, float] = {}
        self._role_of: dict[int, str] = {}
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _sink_cpu(self) -> float:
        try:
            sink = psutil.Process(self.sink.proc.pid)
            total = 0.0
            for p in [sink, *sink.children(recursive=True)]:
                with p.oneshot():
                    t = p.cpu_times()
                total += t.user + t.system
            return total
        except psutil.Error:
            return 0.0

    def _run(self) -> None:
        n = 0
        while not self.stop.wait(self.period):
            try:
                procs = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                return
            s = Sample(time.monotonic(), self.sink.held)
            full = n % 5 == 0  # PSS reads smaps: every 10 s is enough
            n += 1
            for p in procs:
                try:
                    role = _role(p, self.root.pid)
                    if role == "gone":  # exited between the listing and the read
                        continue
                    with p.oneshot():
                        t = p.cpu_times()
                        self._dead_cpu[p.pid] = t.user + t.system
                        self._role_of[p.pid] = role
                        mem = p.memory_full_info() if full else p.memory_info()
                except psutil.Error:
                    continue
                s.rss[role] = s.rss.get(role, 0) + mem.rss
                if full:
                    s.pss[role] = s.pss.get(role, 0) + getattr(mem, "pss", mem.rss)
            s.cpu_s = sum(self._dead_cpu.values())  # exited processes keep their last figure
            for pid, cpu in self._dead_cpu.items():
                r = self._role_of[pid]
                s.cpu_by_role[r] = s.cpu_by_role.get(r, 0.0) + cpu
            s.sink_cpu_s = self._sink_cpu()
            ct = psutil.cpu_times()
            s.box_busy_s = ct.user + ct.system + ct.nice + getattr(ct, "softirq", 0.0) + \
                getattr(ct, "irq", 0.0)
            self.samples.append(s)


class SinkWatch:
    """The ack server's per-second ``held N peak M`` lines."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc, self.held, self.peak = proc, 0, 0
        self.first_t: float | None = None
        self.full_t: float | None = None
        self.target = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            parts = line.split()
            if len(parts) == 4 and parts[0] == "held":
                self.held, self.peak = int(parts[1]), int(parts[3])
                now = time.monotonic()
                if self.held and self.first_t is None:
                    self.first_t = now
                if self.full_t is None and self.target and self.held >= 0.999 * self.target:
                    self.full_t = now


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _stop(proc: subprocess.Popen[Any], grace_s: float) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def run_once(a: argparse.Namespace, out: Path) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    scen = scenario(a.stations, connect_rate=a.connect_rate, hold_s=a.hold, seed=a.seed,
                    idle=a.idle)
    path = out / "scenario.yaml"
    path.write_text(yaml.safe_dump(scen, sort_keys=False))
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    sink_procs = a.sink_processes or math.ceil(a.stations / (0.8 * hard)) + 1
    port = _free_port()
    sink = subprocess.Popen(
        [sys.executable, "-m", "fleetsim.bench.ack_server", "--port", str(port),
         "--processes", str(sink_procs), "--heartbeat-interval", "300"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    watch = SinkWatch(sink)
    watch.target = a.stations
    try:
        assert sink.stdout is not None
        first = sink.stdout.readline()
        if not first.startswith("ack server on"):
            raise SystemExit(f"bench.scale: the ack server did not start: {first.strip()}")
        watch.thread.start()
        cmd = [shutil.which("fleetsim") or "fleetsim", "run", str(path), "--csms",
               f"ws://127.0.0.1:{port}", "--out", str(out / "run"), "--quiet"]
        if a.workers is not None:
            cmd += ["--workers", str(a.workers)]
        t0 = time.monotonic()
        with (out / "fleetsim.log").open("w") as log:
            run = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)  # our SIGINT handling stops it
            sampler = Sampler(psutil.Process(run.pid), watch)
            sampler.thread.start()
            limit = a.stations / a.connect_rate + a.hold + 600
            last = 0.0
            try:
                while run.poll() is None and time.monotonic() - t0 < limit:
                    time.sleep(1.0)
                    if time.monotonic() - last >= 30:
                        last = time.monotonic()
                        s = sampler.samples[-1] if sampler.samples else None
                        rss = sum(s.rss.values()) / 2**30 if s else 0.0
                        print(f"  {time.monotonic() - t0:5.0f} s: sink holds {watch.held:,} "
                              f"(peak {watch.peak:,}), fleetsim RSS {rss:.2f} GiB", flush=True)
            except KeyboardInterrupt:
                print("bench.scale: interrupted; stopping the run (figures so far follow)",
                      flush=True)
                a.interrupted = True
            finally:
                _stop(run, 120)
                sampler.stop.set()
                sampler.thread.join(10)
        code = run.returncode
    finally:
        _stop(sink, 15)
    (out / "samples.json").write_text(json.dumps(
        [{"t": round(x.t, 2), "held": x.held, "rss": x.rss, "pss": x.pss, "cpu_s": x.cpu_s,
          "box_busy_s": x.box_busy_s, "sink_cpu_s": x.sink_cpu_s, "cpu_by_role": x.cpu_by_role}
         for x in sampler.samples]))  # every sample, to re-read
    return _figures(a, out, watch, sampler.samples, code)


def _figures(a: argparse.Namespace, out: Path, watch: SinkWatch, samples: list[Sample],
             code: int | None) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    found = sorted((out / "run").glob("**/summary.json"))
    if found:
        summary = json.loads(found[0].read_text())
    gen = summary.get("generator", {})
    ramp_s = (watch.full_t - watch.first_t) if watch.full_t and watch.first_t else None
    # steady state: 10 s after 99.9 % were held, while they still were (the fleet held;
    # not the stop); a ramp that never got there: the samples holding the most
    # (only samples with every role of the run alive: not its stop, when workers have quit)
    # ("other": a short-lived helper process; a process that exited mid-read is skipped)
    roles = set().union(*(s.rss for s in samples)) - {"other", "gone"} if samples else set()
    whole = [s for s in samples if roles <= set(s.rss)] or samples
    top = max((s.held for s in whole), default=0)
    floor = 0.999 * a.stations if watch.full_t else 0.98 * top
    t_lo = (watch.full_t or 0.0) + 10
    # ...and before the run's duration is up: its stop allocates (Locust's workers grew
    # by ~35 MiB each stopping 16,700 users) while the sink still holds every connection
    t_hi = (samples[0].t if samples else 0.0) + math.ceil(a.stations / a.connect_rate + a.hold)
    steady = [s for s in whole if t_lo <= s.t <= t_hi and s.held >= floor] or \
        [s for s in whole if s.held >= 0.98 * top]
    with_pss = [s for s in whole if s.pss]
    full = [s for s in steady if s.pss] or \
        [max(with_pss, key=lambda s: (s.held, sum(s.rss.values())))] if with_pss else steady
    mem = max(full, key=lambda s: sum(s.rss.values())) if full else Sample(0, 0)
    span = steady[-1].t - steady[0].t if len(steady) > 1 else 0.0
    cpu_pct = (steady[-1].cpu_s - steady[0].cpu_s) / span * 100 if span else float("nan")
    box_pct = ((steady[-1].box_busy_s - steady[0].box_busy_s) / span * 100
               if span else float("nan"))
    held = max((s.held for s in steady), default=0)
    # the ramp: who took the box's CPU (a sink on the same cores takes its share)
    ramp = [s for s in whole if (watch.first_t or math.inf) <= s.t <= (watch.full_t or t_hi)]
    rspan = ramp[-1].t - ramp[0].t if len(ramp) > 1 else 0.0

    def pct(xs: list[Sample], key: str, sp: float) -> float:
        return (getattr(xs[-1], key) - getattr(xs[0], key)) / sp * 100 if sp else float("nan")

    ramp_roles = ({r: (ramp[-1].cpu_by_role.get(r, 0.0) - ramp[0].cpu_by_role.get(r, 0.0))
                   / rspan * 100 for r in ramp[-1].cpu_by_role} if rspan else {})
    conn = [v for v in (summary.get("connect") or {}).values() if isinstance(v, dict)]
    return {
        "connect_p50_ms": max((v.get("p50_ms", 0.0) for v in conn), default=float("nan")),
        "connect_p99_ms": max((v.get("p99_ms", 0.0) for v in conn), default=float("nan")),
        "ramp_roles": ramp_roles,
        "ramp_cpu_pct": pct(ramp, "cpu_s", rspan), "ramp_sink_pct": pct(ramp, "sink_cpu_s", rspan),
        "ramp_box_pct": pct(ramp, "box_busy_s", rspan),
        "sink_cpu_pct": pct(steady, "sink_cpu_s", span),
        "exit_code": code, "peak_held": watch.peak, "held_steady": held,
        "booted": summary.get("stations", {}).get("booted") if summary else None,
        "ramp_s": ramp_s, "ramp_rate": a.stations / ramp_s if ramp_s else None,
        "rss": mem.rss, "pss": mem.pss, "cpu_pct": cpu_pct, "box_pct": box_pct,
        "steady_s": span, "valid": gen.get("valid"), "reasons": gen.get("warnings") or [],
        "workers": gen.get("workers"), "after_ramp": gen.get("after_ramp") or {},
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m fleetsim.bench.scale", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stations", type=int, default=100_000)
    ap.add_argument("--connect-rate", type=int, default=300, help="connects per second")
    ap.add_argument("--hold", type=float, default=180.0,
                    help="seconds the full fleet is held after the ramp")
    ap.add_argument("--workers", type=int, help="default: the layout fleetsim picks")
    ap.add_argument("--sink-processes", type=int, help="default: enough for the descriptors")
    ap.add_argument("--idle", action="store_true",
                    help="no sessions: connected, booted, heartbeating stations only")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--out", type=Path, default=Path("results/bench-scale"))
    a = ap.parse_args(argv)
    a.interrupted = False
    if a.stations < 1 or a.connect_rate < 1 or a.hold < 10:
        ap.error("--stations and --connect-rate must be positive, --hold at least 10 s")
    out = a.out / time.strftime("%Y%m%dT%H%M%S")
    rows = []
    for i in range(a.runs):
        print(f"run {i + 1}/{a.runs}: {a.stations:,} stations at {a.connect_rate}/s, "
              f"hold {a.hold:g} s …", flush=True)
        rows.append(run_once(a, out / f"run{i + 1}"))
        if a.interrupted:
            break
    _print(a, rows, out)


def _print(a: argparse.Namespace, rows: list[dict[str, Any]], out: Path) -> None:
    def med(key: str) -> float:
        vals = [r[key] for r in rows if isinstance(r.get(key), (int, float))]
        return statistics.median(vals) if vals else float("nan")

    last = rows[-1]
    n = a.stations
    rss, pss = last["rss"], last["pss"]
    rss_tot = med_total(rows, "rss")
    pss_tot = med_total(rows, "pss")
    what = "idle (no sessions)" if a.idle else "sessions from the archetypes, meter 60 s"
    print(f"\nfleetsim scale bench — {n:,} stations (1.6/2.0.1/2.1), time factor 1, {what}, "
          f"heartbeat 300 s, medians of {len(rows)} runs, {psutil.cpu_count()} cores, "
          f"{psutil.virtual_memory().total / 2**30:.0f} GiB")
    print(f"{'figure':58} {'value':>14}")
    for name, value in [
        ("stations held (sink peak)", f"{med('peak_held'):,.0f}"),
        ("stations booted (summary)", f"{med('booted'):,.0f}"),
        ("engine workers (layout picked)", f"{last['workers']}"),
        ("ramp rate [stations/s]", f"{med('ramp_rate'):,.0f}"),
        ("  in the ramp: fleetsim / sink / box CPU [% of a core]",
         f"{med('ramp_cpu_pct'):.0f} / {med('ramp_sink_pct'):.0f} / {med('ramp_box_pct'):.0f}"),
        ("  connect + handshake p50 / p99 [ms] (worst version)",
         f"{med('connect_p50_ms'):.1f} / {med('connect_p99_ms'):.1f}"),
        ("RSS, every fleetsim process [GiB]", f"{rss_tot / 2**30:.2f}"),
        ("RSS per station, all included [KiB]", f"{rss_tot / 1024 / n:.1f}"),
        ("PSS, every fleetsim process [GiB]", f"{pss_tot / 2**30:.2f}"),
        ("PSS per station, all included [KiB]", f"{pss_tot / 1024 / n:.1f}"),
        ("CPU per 1,000 stations, steady [% of a core]", f"{med('cpu_pct') / n * 1000:.2f}"),
        ("fleetsim CPU, steady [% of a core]", f"{med('cpu_pct'):.0f}"),
        ("sink CPU, steady [% of a core]", f"{med('sink_cpu_pct'):.0f}"),
        ("whole box CPU, steady [% of a core]", f"{med('box_pct'):.0f}"),
        ("generator valid, whole run (last run)", f"{last['valid']}"),
        ("generator valid after the ramp (last run)",
         f"{last['after_ramp'].get('valid')}"),
    ]:
        print(f"{name:58} {value:>14}")
    print("CPU by role in the ramp (last run, % of a core): " + ", ".join(
        f"{k} {v:.0f}" for k, v in sorted(last["ramp_roles"].items())))
    print("RSS by role (last run, MiB): " + ", ".join(
        f"{k} {v / 2**20:,.0f}" for k, v in sorted(rss.items())))
    print("PSS by role (last run, MiB): " + ", ".join(
        f"{k} {v / 2**20:,.0f}" for k, v in sorted(pss.items())))
    if last["reasons"]:
        print("why invalid: " + "; ".join(map(str, last["reasons"])))
    print(f"exit codes: {[r['exit_code'] for r in rows]}; results under {out}")


def med_total(rows: list[dict[str, Any]], key: str) -> float:
    return statistics.median(sum(r[key].values()) for r in rows) if rows else 0.0


if __name__ == "__main__":
    main()
