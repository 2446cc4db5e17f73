"""Traffic that has no round trip: OCPP 2.1 SEND messages and CALLRESULTERRORs.

A SEND (MessageTypeId 6, OCPP 2.1 part 4 §4.2.5) is never answered, so it has no
latency: what a CSMS vendor needs is its rate and its byte volume. They are
counted here, apart from the request/response statistics, per key
(``2.1/NotifyPeriodicEventStream``), together with the CALLRESULTERRORs
(MessageTypeId 5) sent and received. Mergeable across engine processes.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

__all__ = ["WireCounts"]


class WireCounts:
    """SEND and CALLRESULTERROR frames, counted and sized [bytes]."""

    __slots__ = ("resulterrors_received", "resulterrors_sent", "send_bytes", "sends")

    def __init__(self) -> None:
        self.sends: Counter[str] = Counter()
        self.send_bytes: Counter[str] = Counter()
        self.resulterrors_sent: Counter[str] = Counter()       # key: version/errorCode
        self.resulterrors_received: Counter[str] = Counter()

    def send(self, key: str, nbytes: int) -> None:
        self.sends[key] += 1
        self.send_bytes[key] += nbytes

    def add(self, other: WireCounts) -> None:
        self.sends.update(other.sends)
        self.send_bytes.update(other.send_bytes)
        self.resulterrors_sent.update(other.resulterrors_sent)
        self.resulterrors_received.update(other.resulterrors_received)

    def to_wire(self) -> dict[str, Any]:
        return {"sends": dict(self.sends), "send_bytes": dict(self.send_bytes),
                "resulterrors_sent": dict(self.resulterrors_sent),
                "resulterrors_received": dict(self.resulterrors_received)}

    @classmethod
    def from_wire(cls, d: dict[str, Any] | None) -> WireCounts:
        w = cls()
        d = d or {}
        w.sends.update(d.get("sends", {}))
        w.send_bytes.update(d.get("send_bytes", {}))
        w.resulterrors_sent.update(d.get("resulterrors_sent", {}))
        w.resulterrors_received.update(d.get("resulterrors_received", {}))
        return w

    def summary(self, wall_s: float) -> dict[str, Any]:
        """summary.json ``unconfirmed``: per SEND key count, bytes and rate [1/s]."""
        return {"sends": {k: {"count": n, "bytes": self.send_bytes[k],
                              "per_s": round(n / wall_s, 3) if wall_s > 0 else 0.0}
                          for k, n in sorted(self.sends.items())},
                "callresulterror_sent": dict(self.resulterrors_sent),
                "callresulterror_received": dict(self.resulterrors_received)}
