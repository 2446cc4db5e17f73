"""The master's view of its workers' liveness: a generator-health fact, not a dispatch trigger.

Locust's master marks a worker *missing* after ``HEARTBEAT_LIVENESS`` (3) missed
1 s heartbeats and, when rebalancing or after ``HEARTBEAT_DEAD_INTERNAL``, hands
its users to the other workers. On a saturated box a CPU-starved worker misses
heartbeats while its engine keeps every station connected, so re-dispatch
double-books stations — at 100k on 6 workers past the 20,000-descriptor limit.
fleetsim's workers die with their master and their engines with their worker
(:mod:`fleetsim.lifeline`), and a worker that stops says so (``client_stopped``);
so the master waits :data:`WORKER_LIVENESS_S` before believing a silent worker
dead, and records every silence in ``<run>/locust_workers.json``, which the merge
turns into generator warnings (which worker, since when, for how long).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import gevent
import locust.runners
import orjson

from fleetsim.locust_adapter.wire import LIVENESS_FILE

__all__ = ["WORKER_LIVENESS_S", "WorkerLiveness"]

WORKER_LIVENESS_S = 60  # missed heartbeats (≈ seconds) before a worker counts as missing


class WorkerLiveness:
    """Watches ``runner.clients`` once a second; raises Locust's liveness for this master."""

    def __init__(self, runner: Any) -> None:
        # Locust reads the module global each time it resets a worker's count
        locust.runners.HEARTBEAT_LIVENESS = max(locust.runners.HEARTBEAT_LIVENESS,
                                                WORKER_LIVENESS_S)
        self.runner = runner
        self.episodes: list[dict[str, Any]] = []
        self._open: dict[str, dict[str, Any]] = {}
        self._greenlet = gevent.spawn(self._watch)

    def _watch(self) -> None:
        while True:
            gevent.sleep(1.0)
            self.poll(time.time())

    def poll(self, now_unix: float) -> None:
        clients = getattr(self.runner, "clients", None)
        if clients is None:
            return
        for client in list(clients.values()):
            late = max(0, locust.runners.HEARTBEAT_LIVENESS - int(client.heartbeat))
            ep = self._open.get(client.id)
            if late >= 3 and ep is None:  # Locust's own 3 s: where it used to give up
                ep = self._open[client.id] = {"worker": client.id, "since_unix": now_unix - late,
                                              "silent_s": late, "missing": False}
                self.episodes.append(ep)
            elif ep is not None:
                ep["silent_s"] = max(ep["silent_s"], late)
                ep["missing"] = ep["missing"] or client.state == locust.runners.STATE_MISSING
                if late < 3:
                    del self._open[client.id]

    def write(self, out: Path, *, origin_unix: float) -> None:
        rows = [{**e, "since_s": round(e["since_unix"] - origin_unix, 1)} for e in self.episodes]
        (out / LIVENESS_FILE).write_bytes(orjson.dumps(rows))

