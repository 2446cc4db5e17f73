"""The pipe between a Locust worker and its engine child: one orjson object per line.

Plain Python (no locust, no gevent): both ends import it.

Worker → child (the child's stdin)::

    {"op": "init", "ctx": RunContext}          first line, exactly once
    {"op": "start", "stations": [i, ...]}      station indices to add and connect
    {"op": "stop", "stations": [i, ...]}       stop gracefully, close, forget
    {"op": "quit", "locust_cpu_percent": x, "by_unix": t, "wait_s": w}
                                               stop all, write final files, exit; the
                                               worker kills the child at ``by_unix``
                                               (``wait_s`` after it wrote this), so the
                                               child cuts its graceful waits to fit
    EOF                                        the worker is gone: same as quit

Child → worker (the child's stdout)::

    {"t": "ready", "pid": n, "fd_headroom": n}
    {"t": "samples", "ok": [[key, ms, n], ...], "err": [[key, kind, ms, n], ...],
     "bytes": {key: answer bytes},
     "faults": [[kind, n], ...], "gauges": {...}}            about every 0.5 s
    {"t": "warning", "message": "..."}                      a limit was hit
    {"t": "fatal", "message": "..."}                        the engine gave up
    {"t": "bye"}                                            final files written

``ok`` samples are pre-aggregated per (key, service time rounded to 0.1 ms), ``err``
per (key, kind, service time: a CALLERROR's answer time, a timeout's give-up time, 0 for
an interrupted call): the
worker fires one Locust request event per sample, but the pipe carries one
triple per distinct latency. Exact figures never travel this way: they are in
the run folder (``workers/<tag>/``) and merged from there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from fleetsim.scenario.model import StationsConfig

__all__ = ["CHILD_STOP_WAIT_S", "LIVENESS_FILE", "SAMPLE_PERIOD_S", "RunContext", "child_stop_wait_s", "decode",
           "encode", "worker_tag"]

SAMPLE_PERIOD_S = 0.5
LIVENESS_FILE = "locust_workers.json"  # the Locust master's record of silent workers


def encode(msg: Mapping[str, Any]) -> bytes:
    """One line: orjson bytes plus newline."""
    return orjson.dumps(msg) + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    msg = orjson.loads(line)
    if not isinstance(msg, dict):
        raise ValueError(f"expected an object, got {type(msg).__name__}")
    return msg


def worker_tag(worker_index: int, pid: int) -> str:
    """Name of a worker's folder under ``<run>/workers/``: unique across hosts and restarts."""
    return f"w{worker_index:03d}-p{pid}"


@dataclass(frozen=True, slots=True)
class RunContext:
    """What every engine child of one run shares; decided once by the master.

    ``origin_unix`` is the test start: every child's simulated clock and interval
    index count from it, so workers on several hosts agree on time (NTP assumed).
    ``horizon_s`` (simulated) is the run's length: no station plugs a car in later, so
    the run uses exactly the sessions and idTags ``fleetsim plan`` lists for it.
    """

    scenario: Mapping[str, Any]  # the scenario mapping as run (overrides applied)
    scenario_file: str
    urls: Mapping[str, str]  # OCPP version → CSMS base URL
    origin_unix: float
    horizon_s: float
    out_dir: str | None = None  # run folder; each child writes workers/<tag>/ inside
    generation: int = 0  # bumps on every new test: stale index releases are ignored
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        return {"scenario": dict(self.scenario), "scenario_file": self.scenario_file,
                "urls": dict(self.urls), "origin_unix": self.origin_unix,
                "horizon_s": self.horizon_s, "out_dir": self.out_dir,
                "generation": self.generation, "extra": dict(self.extra)}

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> RunContext:
        return cls(scenario=dict(d["scenario"]), scenario_file=str(d["scenario_file"]),
                   urls={str(k): str(v) for k, v in d["urls"].items()},
                   origin_unix=float(d["origin_unix"]), horizon_s=float(d["horizon_s"]),
                   out_dir=None if d.get("out_dir") is None else str(d["out_dir"]),
                   generation=int(d.get("generation", 0)), extra=dict(d.get("extra") or {}))


# an engine child's stop, from its worker's quit to its exit: its stop spread (2 s, or its
# stations at its share of the connect rate), the answers' grace (10 s) and closes
# (3 s) fit with the final files' reserve (5 s); a child that reads the quit late cuts
# those waits to fit (child.FILES_RESERVE_S), then is killed
CHILD_STOP_WAIT_S = 18.0  # without the spread


def child_stop_wait_s(stations: StationsConfig | None, held: int, engines: int = 1) -> float:
    """How long a worker waits for its engine child's graceful stop: the stop spread of
    the ``held`` stations it ran at most, one of ``engines``
    (``StationsConfig.end_spread_s``), then the rest."""
    if stations is None:  # no station started here: the default spread
        return CHILD_STOP_WAIT_S + StationsConfig(count=1).stop_spread_s
    return CHILD_STOP_WAIT_S + stations.end_spread_s(held, engines)
