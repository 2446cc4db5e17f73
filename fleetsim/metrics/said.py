"""What the CSMS said when it refused: CALLERROR code and description, refused idTags.

Kept apart from the latency figures (:class:`ActionStats` counts CALLERRORs by
code): here the *words* are kept, so a run against a CSMS answering
``"Invalid payload."`` or ``No handler for Heartbeat registered`` says so in
``summary.json`` and the report. Bounded: at most :data:`MAX_KEYS` distinct
entries per map (a CSMS echoing a unique id in every description cannot grow it
without bound); the rest are counted under ``…``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

__all__ = ["MAX_KEYS", "CsmsSaid"]

MAX_KEYS = 2000
_SEP = "\x1f"  # joins the parts of a key; never in an action, code or idTag
_OTHER = "…"
TOP = 10  # entries shown in summary.json and the report


class CsmsSaid:
    """CALLERROR descriptions per action and code; Authorize/Start refusals per idTag."""

    def __init__(self) -> None:
        self.callerrors: Counter[str] = Counter()  # key␟code␟description → count
        self.refusals: Counter[str] = Counter()    # key␟status␟idTag → count

    @staticmethod
    def _bump(c: Counter[str], key: str, n: int = 1) -> None:
        if key not in c and len(c) >= MAX_KEYS:
            key = _OTHER
        c[key] += n

    def callerror(self, key: str, code: str, description: str) -> None:
        """``key`` (``1.6/Heartbeat``) was answered CALLERROR ``code`` with ``description``."""
        self._bump(self.callerrors, _SEP.join((key, code, description[:200])))

    def refusal(self, key: str, status: str, id_tag: str) -> None:
        """``key`` (``2.0.1/Authorize``) for ``id_tag`` was answered with ``status``."""
        self._bump(self.refusals, _SEP.join((key, status, id_tag)))

    def add(self, other: CsmsSaid) -> None:
        for k, n in other.callerrors.items():
            self._bump(self.callerrors, k, n)
        for k, n in other.refusals.items():
            self._bump(self.refusals, k, n)

    def to_wire(self) -> dict[str, Any]:
        return {"callerrors": dict(self.callerrors), "refusals": dict(self.refusals)}

    @classmethod
    def from_wire(cls, d: dict[str, Any] | None) -> CsmsSaid:
        out = cls()
        if d:
            out.callerrors.update(d.get("callerrors", {}))
            out.refusals.update(d.get("refusals", {}))
        return out

    def summary(self) -> dict[str, Any]:
        """``summary.json`` → ``csms_said``: the top descriptions and refusals, counted."""
        def rows(c: Counter[str], names: tuple[str, str, str]) -> list[dict[str, Any]]:
            out = []
            for k, n in c.most_common(TOP):
                parts = k.split(_SEP) if k != _OTHER else [_OTHER, "", ""]
                out.append({**dict(zip(names, parts, strict=True)), "count": n})
            return out

        by_status: Counter[str] = Counter()
        for k, n in self.refusals.items():
            parts = k.split(_SEP)
            by_status[f"{parts[0]} {parts[1]}" if len(parts) == 3 else _OTHER] += n
        return {"callerrors": rows(self.callerrors, ("action", "code", "description")),
                "callerrors_total": sum(self.callerrors.values()),
                "refusals": dict(by_status.most_common()),
                "refused_id_tags": rows(self.refusals, ("action", "status", "id_tag"))}
