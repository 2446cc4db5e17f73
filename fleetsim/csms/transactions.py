"""One transaction as the CSMS follows it, and the 2.x event that moves it.

OCPP 2.0.1/2.1 number the TransactionEvents of a transaction with seqNo
(E01-E07: "helps with determining if all messages of a transaction have been
received"). The first event seen sets the baseline; a repeated seqNo is a
``duplicate``, a jump a ``gap`` whose skipped numbers are remembered in
``missing_seq_nos``, and a skipped number arriving after all is ``late``. The
latest event once more on a *new connection* — same seqNo, eventType and timestamp
(or after a CSMS restart, when only its seqNo is known) — is ``redelivered``: a
station resending after a reconnect what it never saw answered (at-least-once
delivery), applied only once. On the same connection it stays a ``duplicate``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from fleetsim.csms.metering import energy_register_wh
from fleetsim.csms.records import MeterSample, TransactionRow

__all__ = ["TransactionEventData", "TransactionState"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionEventData:
    """The parts of a 2.x TransactionEventRequest the CSMS keeps."""

    event_type: str
    """Started, Updated or Ended."""
    timestamp: str
    seq_no: int
    transaction_id: str
    offline: bool = False
    stopped_reason: str | None = None
    id_token: str | None = None
    id_token_type: str | None = None
    evse_id: int | None = None
    connector_id: int | None = None
    samples: Sequence[MeterSample] = ()


@dataclass(slots=True, kw_only=True)
class TransactionState:
    """Mutable state of one transaction; :meth:`row` snapshots it for the ledger."""

    ocpp_version: str
    station_id: str
    transaction_id: str
    evse_id: int | None = None
    connector_id: int | None = None
    id_tag: str | None = None
    id_tag_status: str | None = None
    meter_start_wh: float | None = None
    meter_stop_wh: float | None = None
    started_at: str | None = None
    stopped_at: str | None = None
    stop_reason: str | None = None
    events: int = 0
    last_seq_no: int | None = None
    missing_seq_nos: set[int] = field(default_factory=set)
    offline_events: int = 0
    # (eventType, timestamp) of last_seq_no: in memory only, not part of the row
    last_event: tuple[str, str] | None = field(default=None, compare=False)

    @classmethod
    def from_row(cls, row: TransactionRow) -> TransactionState:
        fields = {name: getattr(row, name) for name in cls.__dataclass_fields__
                  if hasattr(row, name)}
        fields["missing_seq_nos"] = set(row.missing_seq_nos)
        return cls(**fields)

    def row(self) -> TransactionRow:
        return TransactionRow(
            ocpp_version=self.ocpp_version,
            station_id=self.station_id,
            transaction_id=self.transaction_id,
            evse_id=self.evse_id,
            connector_id=self.connector_id,
            id_tag=self.id_tag,
            id_tag_status=self.id_tag_status,
            meter_start_wh=self.meter_start_wh,
            meter_stop_wh=self.meter_stop_wh,
            started_at=self.started_at,
            stopped_at=self.stopped_at,
            stop_reason=self.stop_reason,
            events=self.events,
            last_seq_no=self.last_seq_no,
            missing_seq_nos=tuple(sorted(self.missing_seq_nos)),
            offline_events=self.offline_events,
        )

    def apply_event(
        self, event: TransactionEventData, *, id_token_status: str | None,
        new_on_connection: bool = False,
    ) -> tuple[str, int] | None:
        """Apply a 2.x TransactionEvent; return (anomaly kind, expected seqNo) if any.

        meter_start_wh is the register in the Started event, else the first
        seen; meter_stop_wh the register in the Ended event, else the last seen.
        A redelivery changes nothing. ``new_on_connection``: the connection it came on
        has not carried this seqNo (or a later one) of this transaction before.
        """
        stamp = (event.event_type, event.timestamp)
        if (event.seq_no == self.last_seq_no and new_on_connection
                and self.last_event in (None, stamp)):
            return ("redelivered", event.seq_no)
        if self.last_seq_no is None or event.seq_no >= self.last_seq_no:
            self.last_event = stamp
        self.events += 1
        self.offline_events += event.offline
        anomaly = self._follow_seq_no(event.seq_no)
        if event.evse_id is not None:
            self.evse_id = event.evse_id
        if event.connector_id is not None:
            self.connector_id = event.connector_id
        if event.id_token is not None and self.id_tag is None:
            self.id_tag, self.id_tag_status = event.id_token, id_token_status
        first = energy_register_wh(event.samples)
        last = energy_register_wh(event.samples, last=True)
        if event.event_type == "Started":
            self.started_at = event.timestamp
            if first is not None:
                self.meter_start_wh = first
        elif first is not None and self.meter_start_wh is None:
            self.meter_start_wh = first
        if event.event_type == "Ended":
            self.stopped_at = event.timestamp
            self.stop_reason = event.stopped_reason or "Local"  # 2.0.1: omitted means Local
            if last is not None:
                self.meter_stop_wh = last
        elif last is not None and self.stopped_at is None:
            self.meter_stop_wh = last
        return anomaly

    def _follow_seq_no(self, seq_no: int) -> tuple[str, int] | None:
        last = self.last_seq_no
        if last is None or seq_no == last + 1:  # the first event seen sets the baseline
            self.last_seq_no = seq_no
            return None
        if seq_no > last + 1:
            self.missing_seq_nos.update(range(last + 1, seq_no))
            self.last_seq_no = seq_no
            return ("gap", last + 1)
        if seq_no in self.missing_seq_nos:
            self.missing_seq_nos.discard(seq_no)
            return ("late", last + 1)
        return ("duplicate", last + 1)
