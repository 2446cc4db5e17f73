"""The rows of the CSMS ledger, as frozen dataclasses (one per table).

Units are in the names: ``*_wh`` is watt-hours. Times are ISO 8601 strings:
as reported by the station for transaction and meter fields, the CSMS's own
UTC clock for ``*_boot_at`` and ``received_at``. Transaction ids are strings
in every version (1.6 issues integers; they are stored as their decimal text).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "MessageCount",
    "MeterSample",
    "MeterValueRow",
    "SeqNoAnomaly",
    "StationRow",
    "TransactionRow",
]


@dataclass(frozen=True, slots=True)
class StationRow:
    """A station that sent at least one BootNotification."""

    station_id: str
    ocpp_version: str
    """``1.6``, ``2.0.1`` or ``2.1`` — of the latest boot."""
    boots: int
    """BootNotifications received, whatever they were answered."""
    first_boot_at: str
    last_boot_at: str
    last_boot_status: str
    """Accepted, Pending or Rejected."""
    vendor: str | None
    model: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class TransactionRow:
    """One charging transaction as the CSMS saw it.

    1.6: opened by StartTransaction (CSMS-issued id), closed by StopTransaction;
    ``events`` counts StartTransaction, StopTransaction and MeterValues carrying
    its transactionId, and the seqNo fields stay empty. 2.x: the station's
    transactionId; ``events`` counts TransactionEvents, ``last_seq_no`` is the
    highest seqNo seen and ``missing_seq_nos`` those skipped and not (yet) seen.
    """

    ocpp_version: str
    station_id: str
    transaction_id: str
    evse_id: int | None = None
    connector_id: int | None = None
    id_tag: str | None = None
    id_tag_status: str | None = None
    """What the CSMS answered for ``id_tag``: Accepted or Invalid."""
    meter_start_wh: float | None = None
    meter_stop_wh: float | None = None
    started_at: str | None = None
    stopped_at: str | None = None
    stop_reason: str | None = None
    events: int = 0
    last_seq_no: int | None = None
    missing_seq_nos: tuple[int, ...] = ()
    offline_events: int = 0

    @property
    def ended(self) -> bool:
        """Whether the stop (1.6) or Ended event (2.x) has been received."""
        return self.stopped_at is not None

    @property
    def energy_wh(self) -> float | None:
        """Energy delivered [Wh]: meter stop minus meter start, if both are known."""
        if self.meter_start_wh is None or self.meter_stop_wh is None:
            return None
        return self.meter_stop_wh - self.meter_start_wh


@dataclass(frozen=True, slots=True)
class MeterSample:
    """One sampled value, normalised: energy in Wh, power in W (kWh/kW scaled)."""

    timestamp: str
    measurand: str
    phase: str | None
    value: float
    unit: str


@dataclass(frozen=True, slots=True)
class MeterValueRow:
    """A stored sample; ``transaction_id`` is None outside transactions."""

    station_id: str
    transaction_id: str | None
    timestamp: str
    measurand: str
    phase: str | None
    value: float
    unit: str


@dataclass(frozen=True, slots=True)
class SeqNoAnomaly:
    """A 2.x TransactionEvent whose seqNo was not the next one expected.

    ``kind``: ``duplicate`` (seqNo already seen), ``gap`` (seqNo jumped past
    ``expected_seq_no``) or ``late`` (a skipped seqNo arrived after all).
    """

    station_id: str
    transaction_id: str
    kind: str
    seq_no: int
    expected_seq_no: int
    received_at: str


@dataclass(frozen=True, slots=True)
class MessageCount:
    """CALLs received from one station for one action, and how many got a CALLERROR."""

    station_id: str
    action: str
    count: int
    errors: int
