"""Bytes and frames that latency figures do not show: the wire, and OCPP 2.1 SENDs.

A SEND (MessageTypeId 6, OCPP 2.1 part 4 §4.2.5) is never answered, so it has no
latency: what a CSMS vendor needs is its rate and its byte volume. They are
counted here, apart from the request/response statistics, per key
(``2.1/NotifyPeriodicEventStream``), together with the CALLRESULTERRORs
(MessageTypeId 5) sent and received. The transport adds the bytes on the wire
(WebSocket frames, after permessage-deflate when negotiated) and the OCPP-J
payload bytes they carried, per direction; with ``csms.compression`` set also
per sent action. Mergeable across engine processes.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

__all__ = ["WireCounts", "action_of"]


class WireCounts:
    """SEND and CALLRESULTERROR frames, counted and sized [bytes]."""

    __slots__ = ("by_action", "resulterrors_received", "resulterrors_sent", "rx_payload",
                 "rx_wire", "send_bytes", "sends", "tx_payload", "tx_wire")

    def __init__(self) -> None:
        self.sends: Counter[str] = Counter()
        self.send_bytes: Counter[str] = Counter()
        self.resulterrors_sent: Counter[str] = Counter()       # key: version/errorCode
        self.resulterrors_received: Counter[str] = Counter()
        self.tx_wire = self.rx_wire = 0         # bytes on the socket (TLS excluded)
        self.tx_payload = self.rx_payload = 0   # OCPP-J text carried [bytes]
        self.by_action: Counter[str] = Counter()  # "<action>|payload" / "<action>|wire" [bytes]

    def sent_frame(self, frame: bytes, wire_bytes: int) -> None:
        """One outgoing frame and the bytes it took on the wire (per-action accounting)."""
        key = action_of(frame)
        self.by_action[key + "|payload"] += len(frame)
        self.by_action[key + "|wire"] += wire_bytes
        self.by_action[key + "|frames"] += 1

    def send(self, key: str, nbytes: int) -> None:
        self.sends[key] += 1
        self.send_bytes[key] += nbytes

    def add(self, other: WireCounts) -> None:
        self.tx_wire += other.tx_wire
        self.rx_wire += other.rx_wire
        self.tx_payload += other.tx_payload
        self.rx_payload += other.rx_payload
        self.by_action.update(other.by_action)
        self.sends.update(other.sends)
        self.send_bytes.update(other.send_bytes)
        self.resulterrors_sent.update(other.resulterrors_sent)
        self.resulterrors_received.update(other.resulterrors_received)

    def to_wire(self) -> dict[str, Any]:
        return {"sends": dict(self.sends), "send_bytes": dict(self.send_bytes),
                "resulterrors_sent": dict(self.resulterrors_sent),
                "resulterrors_received": dict(self.resulterrors_received),
                "bytes": [self.tx_wire, self.rx_wire, self.tx_payload, self.rx_payload],
                "by_action": dict(self.by_action)}

    @classmethod
    def from_wire(cls, d: dict[str, Any] | None) -> WireCounts:
        w = cls()
        d = d or {}
        w.sends.update(d.get("sends", {}))
        w.send_bytes.update(d.get("send_bytes", {}))
        w.resulterrors_sent.update(d.get("resulterrors_sent", {}))
        w.resulterrors_received.update(d.get("resulterrors_received", {}))
        w.tx_wire, w.rx_wire, w.tx_payload, w.rx_payload = d.get("bytes", (0, 0, 0, 0))
        w.by_action.update(d.get("by_action", {}))
        return w

    def summary(self, wall_s: float) -> dict[str, Any]:
        """summary.json ``unconfirmed``: per SEND key count, bytes and rate [1/s]."""
        return {"sends": {k: {"count": n, "bytes": self.send_bytes[k],
                              "per_s": round(n / wall_s, 3) if wall_s > 0 else 0.0}
                          for k, n in sorted(self.sends.items())},
                "callresulterror_sent": dict(self.resulterrors_sent),
                "callresulterror_received": dict(self.resulterrors_received)}

    def bytes_summary(self) -> dict[str, Any]:
        """summary.json ``wire``: bytes per direction (wire and OCPP-J payload), and per
        sent action when counted; ``saved`` is 1 − wire/payload (negative: framing costs)."""
        def saved(wire: int, payload: int) -> float:
            return round(1.0 - wire / payload, 4) if payload else 0.0

        actions: dict[str, dict[str, Any]] = {}
        for k, n in self.by_action.items():
            action, what = k.rsplit("|", 1)
            actions.setdefault(action, {})[what] = n
        for a in actions.values():
            a["saved"] = saved(a.get("wire", 0), a.get("payload", 0))
        return {"sent": {"wire": self.tx_wire, "payload": self.tx_payload,
                         "saved": saved(self.tx_wire, self.tx_payload)},
                "received": {"wire": self.rx_wire, "payload": self.rx_payload,
                             "saved": saved(self.rx_wire, self.rx_payload)},
                "sent_by_action": dict(sorted(actions.items()))}


def action_of(frame: bytes) -> str:
    """The action of an OCPP-J frame as sent (CALL/SEND: its action; else its kind)."""
    kind = frame[1:2]
    if kind == b"2" or kind == b"6":
        parts = frame.split(b'"', 5)
        if len(parts) > 4:
            return parts[3].decode(errors="replace")
    return {b"3": "CALLRESULT", b"4": "CALLERROR", b"5": "CALLRESULTERROR"}.get(kind, "?")
