"""Which station a Locust user is: one global index, handed out by the master.

Locust has no global user number, and its dispatcher decides how many users
each worker runs (and which it stops). So the master — or the single process
of a local run — keeps one :class:`IndexPool`: a user claims the lowest free
index when it starts and releases it when it stops. Ramping up from zero to N
users therefore runs exactly stations 0 … N-1, whatever the number of workers
or hosts; after a ramp down, the lowest freed indices are reused first.

Worker ↔ master custom messages (Locust's ZeroMQ channel)::

    fleetsim_claim    worker → master  {"req": n, "tag": str, "ctx": bool}
    fleetsim_grant    master → worker  {"req": n, "index": i, "gen": g, "ctx": {...}?}
    fleetsim_release  worker → master  {"gen": g, "indices": [...]}
    fleetsim_fatal    worker → master  {"message": str}

``gen`` is the test generation: a release from a test that has ended is ignored.
"""

from __future__ import annotations

import heapq
import itertools
from typing import Any

import gevent.event

__all__ = ["CLAIM", "FATAL", "GRANT", "RELEASE", "IndexClaims", "IndexPool"]

CLAIM, GRANT, RELEASE, FATAL = ("fleetsim_claim", "fleetsim_grant", "fleetsim_release",
                                "fleetsim_fatal")


class IndexPool:
    """Lowest-free allocation of station indices (pure; lives on the master)."""

    def __init__(self) -> None:
        self._free: list[int] = []
        self._next = 0
        self._used: set[int] = set()

    def claim(self) -> int:
        i = heapq.heappop(self._free) if self._free else self._next
        if i == self._next:
            self._next += 1
        self._used.add(i)
        return i

    def release(self, i: int) -> None:
        if i in self._used:
            self._used.remove(i)
            heapq.heappush(self._free, i)

    @property
    def in_use(self) -> int:
        return len(self._used)

    @property
    def high_water(self) -> int:
        """One more than the highest index ever handed out."""
        return self._next


class IndexClaims:
    """A worker's outstanding claims: each user greenlet waits for its grant.

    ``send(msg_type, data)`` sends to the master. A user stopped while waiting
    abandons its claim; the index granted later goes straight back.
    """

    def __init__(self, send: Any, tag: str) -> None:
        self._send, self.tag = send, tag
        self._ids = itertools.count()
        self._waiting: dict[int, gevent.event.AsyncResult] = {}
        self.ctx: dict[str, Any] | None = None
        self.generation = 0

    def claim(self, timeout_s: float = 60.0) -> int:
        """Block this greenlet until the master grants an index."""
        req = next(self._ids)
        result = gevent.event.AsyncResult()
        self._waiting[req] = result
        try:
            self._send(CLAIM, {"req": req, "tag": self.tag, "ctx": self.ctx is None})
            return int(result.get(timeout=timeout_s))
        finally:
            self._waiting.pop(req, None)

    def granted(self, data: dict[str, Any]) -> None:
        if data.get("ctx") is not None:
            self.ctx = data["ctx"]
        self.generation = int(data.get("gen", self.generation))
        waiter = self._waiting.pop(int(data["req"]), None)
        if waiter is None:  # the user stopped before its grant arrived
            self.release([int(data["index"])])
        else:
            waiter.set(int(data["index"]))

    def release(self, indices: list[int]) -> None:
        self._send(RELEASE, {"gen": self.generation, "indices": indices})
