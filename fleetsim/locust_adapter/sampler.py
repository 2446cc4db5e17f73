"""A Recorder that also batches samples for Locust's tables (engine child side).

It records exactly what :class:`Recorder` does — the exact, mergeable figures
that end up in the run folder — and additionally counts answered calls per
(key, service time in 0.1 ms) and failures per (key, kind, service time), which
:meth:`take` hands to the pipe every half second. Locust's tables show the *service*
figure (sent → answer: the CSMS's time, the run's headline); a CALLERROR carries its
real answer time, a timeout the time it was given up. One dict update per sample keeps the hot path
cheap; the worker expands the counts into Locust request events.
"""

from __future__ import annotations

from typing import Any

from fleetsim.metrics.recorder import Recorder

__all__ = ["SampleRecorder"]


class SampleRecorder(Recorder):
    """:class:`Recorder` plus per-(key, latency) and per-(key, kind) batch counters."""

    def __init__(self) -> None:
        super().__init__()
        self._ok: dict[tuple[str, int], int] = {}
        self._bytes_taken: dict[str, int] = {}  # each key's answer bytes already batched
        self._err: dict[tuple[str, str, int], int] = {}
        self._faults: dict[str, int] = {}

    def call_done(self, key: str, response_s: float, service_s: float, size: int = 0) -> None:
        super().call_done(key, response_s, service_s, size)
        k = (key, int(service_s * 10000.0 + 0.5))  # 0.1 ms: finer than Locust keeps
        ok = self._ok
        ok[k] = ok.get(k, 0) + 1

    def call_failed(self, key: str, kind: str, response_s: float | None = None,
                    service_s: float = 0.0, *, retried: bool = False) -> None:
        super().call_failed(key, kind, response_s, service_s, retried=retried)
        k = (key, kind, int(service_s * 10000.0 + 0.5))
        self._err[k] = self._err.get(k, 0) + 1

    def fault(self, kind: str, n: int = 1) -> None:
        super().fault(kind, n)
        self._faults[kind] = self._faults.get(kind, 0) + n

    def take(self) -> dict[str, Any] | None:
        """The batch since the last call as a ``samples`` message body (None if empty)."""
        if not (self._ok or self._err or self._faults):
            return None
        ok, err, faults = self._ok, self._err, self._faults
        self._ok, self._err, self._faults = {}, {}, {}
        # the answers' bytes since the last batch, from the totals the recorder keeps anyway
        size, taken = {}, self._bytes_taken
        for key in {key for key, _ in ok}:
            total = self.actions[key].answer_bytes
            size[key], taken[key] = total - taken.get(key, 0), total
        return {"t": "samples", "bytes": size,
                "ok": [[key, q / 10.0, n] for (key, q), n in ok.items()],
                "err": [[key, kind, q / 10.0, n] for (key, kind, q), n in err.items()],
                "faults": [[kind, n] for kind, n in faults.items()]}
