"""Live fleet figures: one engine's cumulative snapshot, and the exact merge of many.

An engine (the in-process one of ``fleetsim run``, or the child behind each Locust
worker) builds a :func:`engine_snapshot` every second: a plain JSON-able dict with
the station states, sessions, fleet power, every action's *cumulative* counts and
HdrHistogram (encoded, exact), and the engine's health. Snapshots are cumulative,
so the latest one of each engine is all a master needs: :func:`merge` adds them —
counts add, histograms merge bucket for bucket — and the Fleet tab and the
Prometheus endpoint both read the one :class:`LiveFigures` it returns. At the end
of a run they therefore show what ``summary.json`` shows (the same recorder, the
same merge).

No station id ever leaves an engine here: states and actions are aggregated.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from fleetsim.live.dense import DenseHist
from fleetsim.metrics.recorder import Recorder
from fleetsim.run.results import LAG_P99_LIMIT_MS

__all__ = [
    "STATES",
    "Board",
    "EngineFeed",
    "EngineHealth",
    "LiveAction",
    "LiveFigures",
    "engine_snapshot",
    "merge",
]

# mutually exclusive station states, in the order the tab shows them
STATES = ("connecting", "booted", "charging", "offline", "failed")
FIGURES = ("service", "response", "queued")  # the recorder's three latency figures
LIVE_PERIOD_S = 2.0  # an engine's snapshot period (Locust's worker report: every 3 s)
STALE_AFTER_S = 10.0  # an engine whose last snapshot is older than this is marked stale


def engine_snapshot(gauges: dict[str, float], rec: Recorder, *, tag: str,
                    sessions_finished: int, final: bool = False) -> dict[str, Any]:
    """One engine's cumulative figures now, from its interval ``gauges``
    (:meth:`Engine.gauges`, which counts stations by state in the walk it makes anyway)
    and its recorder; call it on the engine's own loop."""
    snap = _snapshot_head(gauges, rec, tag=tag, sessions_finished=sessions_finished,
                          final=final)
    snap["actions"] = {k: _live_action(a) for k, a in rec.actions.items()}
    return snap


def _snapshot_head(gauges: dict[str, float], rec: Recorder, *, tag: str,
                   sessions_finished: int, final: bool) -> dict[str, Any]:
    """The snapshot but its actions' figures."""
    lag = DenseHist.from_sparse(DenseHist.sparse(rec.loop_lag))  # hdrh's percentile is slow
    return {
        "tag": tag, "t_unix": time.time(), "final": final,
        "stations": {s: int(gauges.get(f"stations_{s}", 0)) for s in STATES},
        "sessions": {"started": int(gauges.get("sessions_arrived", 0))
                     - rec.faults.get("session_balked", 0),
                     "finished": sessions_finished},
        "plugged": int(gauges.get("plugged", 0)), "power_kw": float(gauges.get("power_kw", 0)),
        "offline_queued": int(gauges.get("offline_queued", 0)),
        "actions": {},
        "faults": dict(rec.faults),
        "health": {"loop_lag_p99_ms": round(lag.percentile_ms(99), 3),
                   "loop_lag_max_ms": round(lag.max_ms(), 3),
                   "cpu_percent": round(float(gauges.get("cpu_percent", 0.0)), 1)},
    }


def _live_action(a: Any) -> dict[str, Any]:
    """One action's cumulative counts and histograms (sparse), for a snapshot."""
    return {"sent": a.sent, "first": a.first, "answered": a.answered,
            "errors": dict(a.errors), **{f: DenseHist.sparse(getattr(a, f)) for f in FIGURES}}


@dataclass(slots=True)
class LiveAction:
    """One action's merged counts and figures (``service`` is summary.json's headline)."""

    service: DenseHist
    response: DenseHist
    queued: DenseHist
    sent: int = 0
    first: int = 0
    answered: int = 0
    errors: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True, slots=True)
class EngineHealth:
    tag: str
    loop_lag_p99_ms: float
    loop_lag_max_ms: float
    cpu_percent: float
    age_s: float
    stale: bool
    valid: bool


@dataclass(slots=True)
class LiveFigures:
    """The merged figures of every engine reporting (what the tab and /metrics show)."""

    stations: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATES, 0))
    sessions: dict[str, int] = field(default_factory=lambda: {"started": 0, "finished": 0})
    plugged: int = 0
    power_kw: float = 0.0
    offline_queued: int = 0
    actions: dict[str, LiveAction] = field(default_factory=dict)
    faults: Counter[str] = field(default_factory=Counter)
    engines: list[EngineHealth] = field(default_factory=list)
    finished: int = 0  # engines whose final figures are in

    def errors_by_kind(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for a in self.actions.values():
            out.update(a.errors)
        return out

    def table(self) -> list[dict[str, Any]]:
        """Per action: counts and exact percentiles [ms] of the service figure (sent → answer:
        the CSMS's), with the response (due → answer) and station-queueing p99 beside them."""
        rows = []
        for key in sorted(self.actions):
            a = self.actions[key]
            p50, p90, p99, p999, top = a.service.percentiles_ms(50, 90, 99, 99.9, 100)
            rows.append({"name": key, "calls": a.first, "sent": a.sent, "answered": a.answered,
                         "errors": sum(a.errors.values()),
                         "p50": round(p50, 3), "p90": round(p90, 3), "p99": round(p99, 3),
                         "p999": round(p999, 3), "max": round(top, 3),
                         "responsep99": round(a.response.percentile_ms(99), 3),
                         "queuedp99": round(a.queued.percentile_ms(99), 3)})
        return rows

    def to_json(self) -> dict[str, Any]:
        return {"stations": self.stations, "sessions": self.sessions, "plugged": self.plugged,
                "power_kw": self.power_kw, "offline_queued": self.offline_queued,
                "actions": self.table(), "errors": dict(self.errors_by_kind()),
                "faults": dict(self.faults), "finished": self.finished,
                "engines": [{"tag": e.tag, "loop_lag_p99_ms": e.loop_lag_p99_ms,
                             "loop_lag_max_ms": e.loop_lag_max_ms, "cpu_percent": e.cpu_percent,
                             "age_s": e.age_s, "stale": e.stale, "valid": e.valid}
                            for e in self.engines]}


def merge(snapshots: list[dict[str, Any]], *, now: float | None = None) -> LiveFigures:
    """Add the engines' latest snapshots into one :class:`LiveFigures` (exact)."""
    now = time.time() if now is None else now
    out = LiveFigures()
    power = 0.0
    for snap in sorted(snapshots, key=lambda s: str(s.get("tag"))):
        for s, n in snap["stations"].items():
            out.stations[s] = out.stations.get(s, 0) + int(n)
        for s, n in snap["sessions"].items():
            out.sessions[s] = out.sessions.get(s, 0) + int(n)
        out.plugged += int(snap["plugged"])
        power += float(snap["power_kw"])
        out.offline_queued += int(snap["offline_queued"])
        for key, a in snap["actions"].items():
            hists = [DenseHist.from_sparse(a[f]) for f in FIGURES]
            mine = out.actions.get(key)
            if mine is None:
                mine = out.actions[key] = LiveAction(hists[0], hists[1], hists[2])
            else:
                for m, h in zip((mine.service, mine.response, mine.queued), hists, strict=True):
                    m.add(h)
            mine.sent += int(a["sent"])
            mine.first += int(a["first"])
            mine.answered += int(a["answered"])
            mine.errors.update(a["errors"])
        out.faults.update(snap["faults"])
        out.finished += 1 if snap.get("final") else 0
        h = snap["health"]
        age = max(0.0, now - float(snap["t_unix"]))
        stale = age > STALE_AFTER_S and not snap.get("final")
        out.engines.append(EngineHealth(
            tag=str(snap["tag"]), loop_lag_p99_ms=float(h["loop_lag_p99_ms"]),
            loop_lag_max_ms=float(h["loop_lag_max_ms"]), cpu_percent=float(h["cpu_percent"]),
            age_s=round(age, 1), stale=stale,
            valid=float(h["loop_lag_p99_ms"]) <= LAG_P99_LIMIT_MS and not stale))
    out.power_kw = round(power, 3)
    return out


class Board:
    """The latest snapshot of every engine seen, merged on demand (cached until one changes).

    Engines are never forgotten: a vanished engine's last figures stay in the sums (and it
    is shown stale), so the counters the endpoint exports never go backwards.
    """

    def __init__(self) -> None:
        self._snaps: dict[str, dict[str, Any]] = {}
        self._cached: LiveFigures | None = None
        self._cached_at = 0.0
        self.registry: Any = None  # fleetsim.live.prometheus.registry_for caches it here

    def update(self, snap: dict[str, Any]) -> None:
        self._snaps = {**self._snaps, str(snap["tag"]): snap}  # replaced whole: thread-safe reads
        self._cached = None

    @property
    def engines(self) -> int:
        return len(self._snaps)

    def figures(self) -> LiveFigures:
        now = time.time()
        cached = self._cached
        if cached is None or now - self._cached_at > 1.0:  # ages and staleness move on
            cached = self._cached = merge(list(self._snaps.values()), now=now)
            self._cached_at = now
        return cached


class EngineFeed:
    """Builds an engine's snapshot every :data:`LIVE_PERIOD_S` (and a final one) and hands
    it to ``publish``. The period bounds the cost: copying the histograms is most of it."""

    def __init__(self, tag: str, publish: Any) -> None:
        self.tag, self.publish = tag, publish
        self.sessions_finished = 0
        self._next = 0.0
        self._final = False
        self._task: asyncio.Task[None] | None = None

    def sessions(self, rows: list[Any]) -> None:
        self.sessions_finished += len(rows)

    def interval(self, gauges: dict[str, float], rec: Recorder, *, final: bool = False) -> None:
        """Publish a snapshot if one is due: the final one now; the others are built on
        the running loop one action per turn (all at once: 3-5 ms at 2,000 busy stations,
        with the interval's other work in the same turn: issue 18)."""
        now = time.monotonic()
        if now < self._next and not final:
            return
        self._next = now + LIVE_PERIOD_S
        try:
            loop = None if final else asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None:
            self._final = final
            self.publish(engine_snapshot(gauges, rec, tag=self.tag,
                                         sessions_finished=self.sessions_finished,
                                         final=final))
        elif self._task is None or self._task.done():
            self._task = loop.create_task(self._build(gauges, rec))

    async def _build(self, gauges: dict[str, float], rec: Recorder) -> None:
        snap = _snapshot_head(gauges, rec, tag=self.tag,
                              sessions_finished=self.sessions_finished, final=False)
        for k, a in list(rec.actions.items()):
            await asyncio.sleep(0)
            snap["actions"][k] = _live_action(a)
        if not self._final:  # one begun before the final snapshot is older than it
            self.publish(snap)
