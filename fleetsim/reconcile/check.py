"""Compare a run's station-side ledger (``sessions.csv``) with the CSMS's ledger.

Every transaction a station started must be in the CSMS ledger, stopped, with
meter start and stop equal to 1 Wh (and, for a 2.1 V2X session, the export
register at its first and last reading equal to the station's export start and stop); the CSMS must hold no transaction the stations
never made; OCPP 2.x transactions must have no seqNo gaps or duplicates. Each
difference is listed; an empty list means nothing was lost.

Messages, per station and action (``messages.csv`` against the CSMS's counts): every CALL a
station got an answer to (CALLRESULT or CALLERROR) was received by the CSMS, and the CSMS
received no more than the station sent, so ``answered + callerror <= CSMS <= sent``; the
range in between is CALLs in flight when a connection dropped. The per-action totals and
every station/action whose CSMS count is short (the CSMS answered CALLs its ledger does not
hold) are in ``reconcile.json`` → ``messages`` and ``messages_unrecorded``. They are reported,
not failed: a CSMS killed on purpose (the ``csms_restart`` fault) loses the counts it had
not flushed, which is its ledger's durability, not a lost transaction.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fleetsim.csms.metering import EXPORT_REGISTER
from fleetsim.exceptions import ResultsError

__all__ = ["Difference", "Reconciliation", "reconcile"]

TOLERANCE_WH = 1.0


@dataclass(frozen=True, slots=True)
class Difference:
    kind: str            # missing_in_csms, not_stopped, meter_start, meter_stop, export_start,
                         # export_stop, unknown_to_stations,
    station_id: str      # no_transaction_id, seq_no_gap, seq_no_duplicate
    transaction_id: str
    detail: str


@dataclass(frozen=True, slots=True)
class Reconciliation:
    transactions_stations: int
    transactions_csms: int
    differences: tuple[Difference, ...] = field(default_factory=tuple)
    # action → stations' sent / answered / callerror and the CSMS's received, over the fleet
    messages: dict[str, dict[str, int]] = field(default_factory=dict)
    messages_unrecorded: tuple[Difference, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.differences

    def to_json(self) -> dict[str, Any]:
        kinds: dict[str, int] = {}
        for d in self.differences:
            kinds[d.kind] = kinds.get(d.kind, 0) + 1
        return {"ok": self.ok, "transactions_stations": self.transactions_stations,
                "transactions_csms": self.transactions_csms, "differences_by_kind": kinds,
                "differences": [asdict(d) for d in self.differences],
                "messages": self.messages,
                "messages_unrecorded": [asdict(d) for d in self.messages_unrecorded]}

    def write(self, results_dir: Path) -> Path:
        path = Path(results_dir) / "reconcile.json"
        path.write_text(json.dumps(self.to_json(), indent=2), encoding="utf-8")
        return path


def reconcile(results_dir: str | Path, ledger_path: str | Path | None = None) -> Reconciliation:
    """Reconcile ``results_dir/sessions.csv`` with the CSMS ledger (default ``csms.sqlite``)."""
    from fleetsim.csms.ledger import Ledger

    results_dir = Path(results_dir)
    sessions_path = results_dir / "sessions.csv"
    ledger_file = Path(ledger_path) if ledger_path else results_dir / "csms.sqlite"
    if not sessions_path.exists():
        raise ResultsError(f"{sessions_path}: missing (the station-side ledger)")
    if not ledger_file.exists():
        raise ResultsError(f"{ledger_file}: missing (no embedded CSMS ledger; pass the ledger "
                           "path, or reconcile sessions.csv against your CSMS's database)")
    with open(sessions_path, newline="", encoding="utf-8") as f:
        sessions = list(csv.DictReader(f))
    ledger = Ledger.open_readonly(ledger_file)
    try:
        rows = {(t.station_id, t.transaction_id): t for t in ledger.transactions()}
        anomalies = ledger.seq_no_anomalies()
        csms_counts = {(m.station_id, m.action): m.count for m in ledger.message_counts()}
        exports: dict[tuple[str, str], list[float]] = {}
        for m in ledger.meter_values(measurand=EXPORT_REGISTER):
            if m.transaction_id is not None and m.phase is None:
                exports.setdefault((m.station_id, m.transaction_id), []).append(m.value)
    finally:
        ledger.close()
    diffs: list[Difference] = []
    seen: set[tuple[str, str]] = set()
    for s in sessions:
        sid, tid = s["station_id"], s["transaction_id"]
        if not tid:
            if s.get("refused"):  # refused before any transaction: nothing for the CSMS to hold
                continue
            diffs.append(Difference("no_transaction_id", sid, "",
                                    "the CSMS never answered StartTransaction"))
            continue
        seen.add((sid, tid))
        row = rows.get((sid, tid))
        if row is None:
            diffs.append(Difference("missing_in_csms", sid, tid, "the CSMS has no record of it"))
            continue
        if row.stopped_at is None:
            diffs.append(Difference("not_stopped", sid, tid, "the CSMS never saw it end"))
        for kind, mine, theirs in (("meter_start", s["meter_start_wh"], row.meter_start_wh),
                                   ("meter_stop", s["meter_stop_wh"], row.meter_stop_wh)):
            if theirs is None or abs(float(mine) - float(theirs)) > TOLERANCE_WH:
                diffs.append(Difference(kind, sid, tid, f"stations {mine} Wh, CSMS {theirs} Wh"))
        if s.get("export_stop_wh"):  # 2.1 V2X: the export register must agree as well
            diffs.extend(_export_differences(s, exports.get((sid, tid), ())))
        if row.missing_seq_nos:
            diffs.append(Difference("seq_no_gap", sid, tid,
                                    f"seqNo never received: {list(row.missing_seq_nos)}"))
    for a in anomalies:
        if a.kind == "duplicate":
            diffs.append(Difference("seq_no_duplicate", a.station_id, a.transaction_id,
                                    f"seqNo {a.seq_no} arrived twice"))
    for key, row in rows.items():
        if key not in seen:
            diffs.append(Difference("unknown_to_stations", key[0], key[1],
                                    f"the CSMS holds a transaction no station reported "
                                    f"(started {row.started_at})"))
    unrecorded: list[Difference] = []
    messages = _messages(results_dir / "messages.csv", csms_counts, unrecorded)
    # refused sessions never opened a transaction (sessions.csv → refused, no transaction_id)
    opened = sum(1 for s in sessions if s["transaction_id"] or not s.get("refused"))
    return Reconciliation(transactions_stations=opened, transactions_csms=len(rows),
                          differences=tuple(diffs), messages=messages,
                          messages_unrecorded=tuple(unrecorded))


def _messages(path: Path, csms: dict[tuple[str, str], int],
              short: list[Difference]) -> dict[str, dict[str, int]]:
    """Per-action totals of both sides; CALLs answered but not in the ledger go to ``short``."""
    if not path.exists():  # an older results folder: transactions only
        return {}
    totals: dict[str, dict[str, int]] = {}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            sid, action = row["station_id"], row["action"]
            sent, answered = int(row["sent"] or 0), int(row["answered"] or 0)
            errors = int(row["callerror"] or 0)
            got = csms.get((sid, action), 0)
            t = totals.setdefault(action, {"sent": 0, "answered": 0, "callerror": 0, "csms": 0})
            t["sent"] += sent
            t["answered"] += answered
            t["callerror"] += errors
            t["csms"] += got
            if got < answered + errors:
                short.append(Difference("message_unrecorded", sid, "",
                                        f"{action}: the CSMS answered {answered + errors} "
                                        f"and holds {got}"))
    return dict(sorted(totals.items()))


def _export_differences(s: dict[str, str], registers: Any) -> list[Difference]:
    """Export register differences of one V2X session (the CSMS's first and last reading)."""
    sid, tid = s["station_id"], s["transaction_id"]
    seen = list(registers)
    out = []
    for kind, mine, theirs in (("export_start", s["export_start_wh"], seen[0] if seen else None),
                               ("export_stop", s["export_stop_wh"], seen[-1] if seen else None)):
        if theirs is None or abs(float(mine) - float(theirs)) > TOLERANCE_WH:
            out.append(Difference(kind, sid, tid, f"stations {mine} Wh, CSMS {theirs} Wh"))
    return out
