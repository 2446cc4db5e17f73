"""The ``csms_restart`` fault: kill the embedded CSMS mid-run, start it again on its port.

Whoever owns the embedded CSMS runs this — ``fleetsim run --workers 0`` (this
process), ``fleetsim run`` through Locust (the parent process), or a plain
``locust -f`` master — in one thread (a greenlet under gevent). Times count from
the run's origin as Unix time (the master's test start in the Locust path, read
from ``<run>/origin.json``), so they match the engines' interval clock. Each
restart is recorded as an event (``kind: csms_restart``, ``at_s``, ``down_for_s``)
for ``faults_injected`` and the storm figures.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from fleetsim.csms.process import EmbeddedCsms
from fleetsim.exceptions import FleetsimError
from fleetsim.scenario.faults import CsmsRestart, When, occurrences

__all__ = ["ORIGIN_FILE", "CsmsRestarts", "csms_restarts", "read_origin", "write_origin"]

log = logging.getLogger(__name__)
ORIGIN_FILE = "origin.json"
_MAX_RESTARTS = 10_000  # every: 1s over a long run stays bounded


def write_origin(run_dir: Path, origin_unix: float) -> None:
    """The Locust master tells the owner of the CSMS when the run's clock started."""
    tmp = run_dir / f".{ORIGIN_FILE}.tmp"
    tmp.write_text(json.dumps({"origin_unix": origin_unix}), encoding="utf-8")
    tmp.replace(run_dir / ORIGIN_FILE)


def read_origin(run_dir: Path) -> float | None:
    try:
        return float(json.loads((run_dir / ORIGIN_FILE).read_text(encoding="utf-8"))["origin_unix"])
    except (OSError, ValueError, KeyError):
        return None


def _times(when: When, day_s_at_origin: float, factor: float) -> list[float]:
    out: list[float] = []
    for t in occurrences(when, day_s_at_origin=day_s_at_origin, factor=factor):
        out.append(t)
        if len(out) >= _MAX_RESTARTS:
            break
    return out


class CsmsRestarts:
    """Runs the plan's restarts against ``csms`` until :meth:`stop`.

    ``origin`` returns the run's origin as Unix time, or None while unknown (it is
    polled). ``day_s_at_origin`` and ``factor`` place simulated times of day.
    """

    def __init__(self, csms: EmbeddedCsms, restarts: tuple[CsmsRestart, ...], *,
                 origin: Callable[[], float | None], horizon_s: float,
                 day_s_at_origin: float = 0.0, factor: float = 1.0) -> None:
        self.csms, self.origin = csms, origin
        plan = [(t, r) for r in restarts
                for t in _times(r.when, day_s_at_origin, factor) if t < horizon_s]
        self.plan = sorted(plan, key=lambda x: x[0])
        self.events: list[dict[str, Any]] = []
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> CsmsRestarts:
        if self.plan:
            self._thread = threading.Thread(target=self._run, name="csms-restarts", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop scheduling; wait for a restart in progress (the CSMS is up again after)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        origin = self.origin()
        while origin is None:
            if self._stop.wait(0.1):
                return
            origin = self.origin()
        for at_s, r in self.plan:
            if self._stop.wait(max(0.0, origin + at_s - time.time())):
                return
            t_kill = time.time()
            try:
                if r.mode == "kill":
                    self.csms.kill()
                else:
                    self.csms.stop()
                self.events.append({"kind": "csms_restart", "at_s": round(t_kill - origin, 3),
                                    "stations": 0, "down_for_s": r.down_for_s})
                log.warning("fleetsim: csms_restart: the embedded CSMS is down (%s) for %g s",
                            r.mode, r.down_for_s)
                # down for down_for_s even if asked to stop: a run ending now still
                # gets its CSMS back for the graceful stop
                time.sleep(max(0.0, t_kill + r.down_for_s - time.time()))
                self.csms.start()
            except FleetsimError as exc:  # it would not come back: the run sees it as down
                self.error = str(exc)
                log.error("fleetsim: csms_restart: %s", exc)
                return
        # stay until stopped: on Linux the CSMS this thread started dies with the thread
        self._stop.wait()


@contextlib.contextmanager
def csms_restarts(csms: EmbeddedCsms | None, restarts: tuple[CsmsRestart, ...], *,
                  origin: Callable[[], float | None], horizon_s: float,
                  day_s_at_origin: float = 0.0, factor: float = 1.0,
                  ) -> Iterator[CsmsRestarts | None]:
    """Run restarts for the duration of a ``with`` block (a no-op without any)."""
    if csms is None or not restarts:
        yield None
        return
    r = CsmsRestarts(csms, restarts, origin=origin, horizon_s=horizon_s,
                     day_s_at_origin=day_s_at_origin, factor=factor).start()
    try:
        yield r
    finally:
        r.stop()
