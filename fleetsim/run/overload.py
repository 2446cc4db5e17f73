"""Overload, loud and exact: which engine, which resource, since when — and the box's CPU.

A run-long average hides a saturation that began half-way. Every engine writes one
interval a second (index = whole seconds since the run's origin) whose gauges hold
its CPU over that second (``cpu_percent``, of one core) and its event loop's worst
lag (``loop_lag_max_ms``); a refused station (descriptor limit) is counted with the
time of the first refusal. An *episode* is :data:`SUSTAIN_S` or more consecutive
seconds over a limit; the summary lists every episode and names the first one, and
each engine episode makes the run's generator invalid (the box's own CPU episodes
are listed, not judged: another program may have used the cores).

The Locust master (or the one process of an in-process run) samples the whole box's
CPU each second and its own process; the summary's ``cpu`` section adds every
process fleetsim started — master, Locust workers, engines — so a saturated box can
never read as ``cpu_percent 5.2``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
import psutil

from fleetsim.metrics.histogram import LatencyHistogram, merge_all
from fleetsim.run.results import CPU_LIMIT_PERCENT, LAG_P99_LIMIT_MS

__all__ = ["CPU_FILE", "SETTLE_S", "SUSTAIN_S", "BoxCpu", "EngineTrace", "after_ramp", "describe",
           "overload_section"]

SUSTAIN_S = 3  # consecutive seconds over a limit: a saturation, not a blip
SETTLE_S = 5  # after the last boot, before the hold is judged: the boots' answers land
BOX_LIMIT_PERCENT = 90.0  # of all cores
CPU_FILE = "run_cpu.json"  # the master's figures: its own CPU and the box's, per second
_LIMITS = {"cpu": ("cpu_percent", CPU_LIMIT_PERCENT, "%"),
           "loop_lag": ("loop_lag_max_ms", LAG_P99_LIMIT_MS, "ms")}


class EngineTrace:
    """One engine's per-second gauges and loop-lag histograms (encoded), as the merge
    reads them."""

    def __init__(self, engine: str) -> None:
        self.engine = engine
        self.seconds: dict[int, Mapping[str, Any]] = {}
        self.lags: dict[int, str] = {}

    def add(self, index: int, gauges: Mapping[str, Any], lag: str | None = None) -> None:
        self.seconds[index] = gauges
        if lag is not None:
            self.lags[index] = lag


def _runs(over: Iterable[tuple[int, float]]) -> list[tuple[int, int, float]]:
    """(start, length, peak) of each run of consecutive seconds in ``over``."""
    out: list[tuple[int, int, float]] = []
    start = prev = None
    peak = 0.0
    for i, v in sorted(over):
        if prev is not None and i == prev + 1:
            peak = max(peak, v)
        else:
            if start is not None and prev is not None:
                out.append((start, prev - start + 1, peak))
            start, peak = i, v
        prev = i
    if start is not None and prev is not None:
        out.append((start, prev - start + 1, peak))
    return out


def engine_episodes(trace: EngineTrace, info: Mapping[str, Any] | None = None,
                    host: str | None = None) -> list[dict[str, Any]]:
    """Every sustained overload of one engine (CPU, loop lag) and its descriptor refusals."""
    eps = []
    for resource, (gauge, limit, unit) in _LIMITS.items():
        over = [(i, float(g[gauge])) for i, g in trace.seconds.items()
                if g.get(gauge) is not None and float(g[gauge]) >= limit]
        for start, length, peak in _runs(over):
            if length >= SUSTAIN_S:
                eps.append({"engine": trace.engine, "host": host, "resource": resource,
                            "since_s": start, "seconds": length, "peak": round(peak, 1),
                            "limit": limit, "unit": unit})
    refused = int((info or {}).get("fd_refused") or 0)
    if refused:
        eps.append({"engine": trace.engine, "host": host, "resource": "descriptors",
                    "since_s": (info or {}).get("fd_refused_since_s"), "seconds": None,
                    "peak": refused, "limit": (info or {}).get("fd_headroom"),
                    "unit": "stations refused"})
    return eps


def box_episodes(per_s: Iterable[float], cores: int) -> list[dict[str, Any]]:
    over = [(i, v) for i, v in enumerate(per_s) if v >= BOX_LIMIT_PERCENT]
    return [{"engine": None, "host": "box", "resource": "box_cpu", "since_s": start,
             "seconds": length, "peak": round(peak, 1), "limit": BOX_LIMIT_PERCENT,
             "unit": f"% of {cores} cores"}
            for start, length, peak in _runs(over) if length >= SUSTAIN_S]


def describe(ep: Mapping[str, Any]) -> str:
    """One line: ``engine w001-p12: cpu 100 % >= 90 % from t=12 s for 30 s``."""
    who = f"engine {ep['engine']}" if ep["engine"] else "the whole box"
    if ep["resource"] == "descriptors":
        since = ep.get("since_s")
        return (f"{who}: descriptors: {ep['peak']} stations refused (one process may hold "
                f"{ep['limit']} sockets)" + (f" from t={since:.0f} s" if since is not None
                                             else ""))
    name = {"cpu": "CPU", "loop_lag": "event-loop lag", "box_cpu": "CPU"}[ep["resource"]]
    unit = "ms" if ep["unit"] == "ms" else "%"
    return (f"{who}: {name} {ep['peak']:g} {unit} >= {ep['limit']:g} {unit} from "
            f"t={ep['since_s']} s for {ep['seconds']} s")


def overload_section(episodes: list[dict[str, Any]]) -> dict[str, Any]:
    """``summary["overload"]``: saturated?, the first engine episode in words, all of them.

    Only an engine's own episodes (CPU, loop lag, descriptors) make the generator
    saturated; the whole box's CPU is listed beside them (``box_episodes``), since other
    processes on the box may be the ones that used it."""
    ordered = sorted(episodes, key=lambda e: (e["since_s"] is None, e["since_s"] or 0,
                                              e["resource"], e["engine"] or ""))
    mine = [e for e in ordered if e["engine"] is not None]
    return {"saturated": bool(mine), "first": describe(mine[0]) if mine else None,
            "sustain_s": SUSTAIN_S, "episodes": mine,
            "box_episodes": [e for e in ordered if e["engine"] is None]}


def read_cpu_file(run: Path) -> dict[str, Any]:
    try:
        data = orjson.loads((run / CPU_FILE).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


class BoxCpu:
    """The box's CPU every second since the run's origin, and this process's own."""

    def __init__(self, origin_unix: float) -> None:
        self.origin_unix = origin_unix
        self.cores = psutil.cpu_count() or 1
        self._ps = psutil.Process()
        self._own0 = sum(self._ps.cpu_times()[:2])
        self._box0 = psutil.cpu_times()
        self._t0 = time.monotonic()
        self._prev = self._box0
        self.per_s: list[float] = []  # busy share of all cores, %, one per second

    def sample(self) -> None:
        """Call about once a second."""
        now = psutil.cpu_times()
        self.per_s.append(round(_busy_percent(self._prev, now), 1))
        self._prev = now

    def figures(self) -> dict[str, Any]:
        wall = max(time.monotonic() - self._t0, 1e-9)
        own = (sum(self._ps.cpu_times()[:2]) - self._own0) / wall * 100
        return {"wall_s": round(wall, 3), "cores": self.cores,
                "process_cpu_percent": round(own, 1),
                "box_cpu_percent": round(_busy_percent(self._box0, psutil.cpu_times()), 1),
                "box_per_s": self.per_s}

    def write(self, run: Path, **extra: Any) -> None:
        tmp = run / f".{CPU_FILE}.tmp"
        tmp.write_bytes(orjson.dumps({**self.figures(), **extra}))
        tmp.replace(run / CPU_FILE)


def _busy_percent(a: Any, b: Any) -> float:
    """Busy share of all cores between two ``psutil.cpu_times()`` (guest time counts once)."""
    total = sum(b) - sum(a) - (getattr(b, "guest", 0) - getattr(a, "guest", 0)) - (
        getattr(b, "guest_nice", 0) - getattr(a, "guest_nice", 0))
    idle = (b.idle - a.idle) + (getattr(b, "iowait", 0) - getattr(a, "iowait", 0))
    return max(0.0, min(100.0, (total - idle) / total * 100)) if total > 0 else 0.0


def after_ramp(traces: Sequence[EngineTrace], duration_s: float,
               episodes: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``summary["generator"]["after_ramp"]``: the generator's health while the fleet was
    held, from :data:`SETTLE_S` after the second the fleet's boot count reached its
    maximum to the second before the run's duration was up (the stop is a burst of its
    own). Valid when no engine was overloaded then (an engine episode overlapping the
    window; a descriptor refusal always counts). The ramp and the stop stay in the
    whole-run verdict beside it: a capacity test ramps on a full box and then holds.
    """
    booted: dict[int, float] = {}
    end = max((max(tr.seconds) for tr in traces if tr.seconds), default=-1)
    for tr in traces:  # an engine's last report carried forward, as the live line does
        last = 0.0
        for i in range(min(tr.seconds, default=0), end + 1):
            g = tr.seconds.get(i)
            if g is not None:
                last = float(g.get("booted", 0.0))
            booted[i] = booted.get(i, 0.0) + last
    top = max(booted.values(), default=0.0)
    out: dict[str, Any] = {"held": False, "valid": None, "why": None, "booted": round(top),
                           "from_s": None, "to_s": None, "loop_lag_p99_ms": None,
                           "loop_lag_max_ms": None, "loop_lag_second_max_p50_ms": None,
                           "loop_lag_second_max_p99_ms": None, "overload": []}
    if top <= 0:
        return {**out, "why": "no station booted"}
    lo = min(i for i, n in booted.items() if n >= top) + SETTLE_S
    hi = math.ceil(duration_s) - 1
    if hi - lo + 1 < SUSTAIN_S:
        return {**out, "why": f"the fleet was held for less than {SUSTAIN_S} s after its ramp"}
    lags = sorted(float(g["loop_lag_max_ms"]) for tr in traces for i, g in tr.seconds.items()
                  if lo <= i <= hi and g.get("loop_lag_max_ms") is not None)
    during = [describe(e) for e in episodes if e.get("engine") is not None and (
        e.get("seconds") is None or (e["since_s"] <= hi and e["since_s"] + e["seconds"] > lo))]
    samples = merge_all(LatencyHistogram.decode(text) for tr in traces
                        for i, text in tr.lags.items() if lo <= i <= hi)
    return {**out, "held": True, "valid": not during, "from_s": lo, "to_s": hi,
            # every lag sample of the window (None from engines that sent none)
            "loop_lag_p99_ms": round(samples.percentile_ms(99), 3) if samples.count else None,
            # each engine's worst lag per second, over the window's engine-seconds
            "loop_lag_max_ms": lags[-1] if lags else 0.0,
            "loop_lag_second_max_p50_ms": lags[len(lags) // 2] if lags else 0.0,
            "loop_lag_second_max_p99_ms": lags[min(len(lags) - 1, int(len(lags) * 0.99))]
            if lags else 0.0,
            "overload": during}
