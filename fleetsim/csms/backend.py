"""What the CSMS decides and remembers, independent of OCPP framing.

Handlers turn payloads into calls on :class:`Backend`; the backend applies
the boot and authorization policy, issues 1.6 transaction ids, follows
transactions and 2.x seqNos, and hands rows to the :class:`Ledger` buffer.
It never reads the wall clock (``clock`` is injected) and touches the
database on the message path only to reload a transaction no longer in
memory and to reserve 1.6 transaction ids, one committed block of 1000 at a
time: ids are unique and increasing across the server and across restarts,
even after a crash (they then jump to the next block).

Only open transactions stay in memory; an ended one is dropped once handed to
the ledger and reloaded from it if a late message refers to it.

Stations deliver transaction messages at least once: a message whose answer was
lost (connection dropped, CSMS restarted) comes again after the reconnect. The
backend applies it once: a 1.6 StartTransaction identical to an open transaction's
(connector, idTag, meterStart, timestamp) on a new connection gets that transaction's
id again (not across a CSMS restart: 1.6 gives no way to tell it from a new one), and a
2.x TransactionEvent repeating the latest seqNo with the same eventType and
timestamp on a new connection is a redelivery, not a duplicate. (A frame repeated
with the same message id on one connection is answered from the session's cache:
:mod:`fleetsim.csms.session`.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from fleetsim.csms.config import CsmsConfig
from fleetsim.csms.ledger import Ledger
from fleetsim.csms.records import MeterSample, SeqNoAnomaly
from fleetsim.csms.transactions import TransactionEventData, TransactionState
from fleetsim.csms.versions import OcppVersion

__all__ = ["Backend", "BootDecision", "utc_now"]

ACCEPTED = "Accepted"
INVALID = "Invalid"
_TX_ID_BLOCK = 1000


def utc_now() -> datetime:
    """The default clock: timezone-aware UTC now."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class BootDecision:
    """The answer to a BootNotification: status and interval [s]."""

    status: str
    interval_s: int


class Backend:
    """Policy and bookkeeping shared by all connections of one CSMS process."""

    def __init__(
        self, *, config: CsmsConfig, ledger: Ledger, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self.config = config
        self.ledger = ledger
        self._clock = clock
        self._boots = ledger.boot_counts()
        self._open: dict[tuple[str, str], TransactionState] = {}
        # 2.1 dynamic profiles: (station, profile id) → the limit [W] this CSMS set last
        self.dynamic_limits: dict[tuple[str, int], float] = {}
        self._next_tx_id = 0
        self._tx_id_limit = -1
        # open 1.6 transactions by what their StartTransaction said, to recognise it again
        self._starts: dict[tuple[str, int | None, str | None, str | None, float | None],
                           tuple[str, int | None]] = {}
        self._connections = 0
        self.issued_tokens: set[str] = set()
        """Tokens this CSMS handed out itself (remote starts): it accepts them."""

    def _issue_transaction_id(self) -> int:
        # Ids come from blocks reserved (and committed) in the ledger, so a CSMS
        # restarted after a crash never reissues an id a station may still hold.
        # Process i of N issues only ids congruent to i+1 modulo N.
        stride, offset = self.config.transaction_id_stride, self.config.transaction_id_offset
        if self._next_tx_id > self._tx_id_limit:
            span = _TX_ID_BLOCK * stride
            key = f"v16_transaction_id/{offset}/{stride}"
            base = self.ledger.reserve(key, span, floor=self.ledger.max_v16_transaction_id())
            self._next_tx_id = base + 1 + (offset - base) % stride
            self._tx_id_limit = base + span
        transaction_id = self._next_tx_id
        self._next_tx_id += stride
        return transaction_id

    def new_connection(self) -> int:
        """A number for a new station connection (redeliveries come on a new one)."""
        self._connections += 1
        return self._connections

    def now_iso(self) -> str:
        """The current time as OCPP wants it: UTC, millisecond precision, ``Z``."""
        return self._clock().astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"

    def count_message(self, station_id: str, action: str, *, error: bool) -> None:
        """Count one CALL (or SEND) from a station."""
        self.ledger.count_message(station_id, action, error=error)

    def boot(
        self, station_id: str, version: OcppVersion, *, vendor: str | None, model: str | None
    ) -> BootDecision:
        """Apply the boot policy to a BootNotification and record it."""
        config = self.config
        boots = self._boots[station_id] = self._boots.get(station_id, 0) + 1
        if station_id in config.reject_ids:
            decision = BootDecision("Rejected", config.pending_interval_s)
        elif boots <= config.pending_first:
            decision = BootDecision("Pending", config.pending_interval_s)
        else:
            decision = BootDecision(ACCEPTED, config.heartbeat_interval_s)
        self.ledger.record_boot(
            station_id,
            ocpp_version=version.label,
            at=self.now_iso(),
            status=decision.status,
            vendor=vendor,
            model=model,
        )
        return decision

    def authorize(self, token: str, token_type: str | None = None) -> str:
        """Accepted or Invalid for an idTag (1.6) or idToken (2.x; ``token_type`` its type)."""
        # 2.1 DirectPayment: paid at the station's terminal or on the web (ad hoc)
        if (token_type in ("NoAuthorization", "DirectPayment") or self.config.accepts_token(token)
                or token in self.issued_tokens):
            return ACCEPTED
        return INVALID

    # -- OCPP 1.6 ----------------------------------------------------------------

    def start_transaction(
        self,
        station_id: str,
        *,
        connector_id: int,
        id_tag: str,
        meter_start_wh: float,
        timestamp: str,
        connection: int | None = None,
    ) -> tuple[int, str]:
        """Open a 1.6 transaction: returns (new transactionId, idTag status).

        The id is issued whatever the idTag status, as 1.6 §6.46 requires. The same
        StartTransaction again on a new ``connection`` (its answer was lost in the
        reconnect) gets the same id.
        """
        status = self.authorize(id_tag)
        key = _start_key(station_id, connector_id, id_tag, timestamp, meter_start_wh)
        known = self._starts.get(key)
        if known is not None and connection is not None and known[1] != connection:
            return int(known[0]), status
        transaction_id = self._issue_transaction_id()
        self._starts[key] = (str(transaction_id), connection)
        tx = TransactionState(
            ocpp_version=OcppVersion.V16.label,
            station_id=station_id,
            transaction_id=str(transaction_id),
            connector_id=connector_id,
            id_tag=id_tag,
            id_tag_status=status,
            meter_start_wh=meter_start_wh,
            started_at=timestamp,
            events=1,
        )
        self._open[(station_id, tx.transaction_id)] = tx
        self.ledger.put_transaction(tx.row())
        return transaction_id, status

    def stop_transaction(
        self,
        station_id: str,
        *,
        transaction_id: int,
        id_tag: str | None,
        meter_stop_wh: float,
        timestamp: str,
        reason: str | None,
        samples: Sequence[MeterSample] = (),
    ) -> str | None:
        """Close a 1.6 transaction (an unknown one gets a row of its own).

        Returns the idTag status if an idTag was given, else None.
        """
        tx = self._transaction(station_id, str(transaction_id), OcppVersion.V16)
        self._starts.pop(_start_key(station_id, tx.connector_id, tx.id_tag, tx.started_at,
                                    tx.meter_start_wh), None)
        tx.meter_stop_wh = meter_stop_wh
        tx.stopped_at = timestamp
        tx.stop_reason = reason or "Local"  # 1.6 §7.41: absent reason means Local
        tx.events += 1
        if samples:
            self.ledger.add_samples(station_id, tx.transaction_id, samples)
        self._store(tx)
        return None if id_tag is None else self.authorize(id_tag)

    # -- both --------------------------------------------------------------------

    def meter_values(
        self,
        station_id: str,
        version: OcppVersion,
        *,
        transaction_id: str | None,
        samples: Sequence[MeterSample],
    ) -> None:
        """Store a MeterValues message's samples (1.6 may name a transaction)."""
        if samples:
            self.ledger.add_samples(station_id, transaction_id, samples)
        if transaction_id is None:
            return
        tx = self._open.get((station_id, transaction_id))
        if tx is None:
            row = self.ledger.transaction(station_id, transaction_id)
            if row is None:
                return  # no such transaction: keep the samples, invent no row
            tx = TransactionState.from_row(row)
        tx.events += 1
        self._store(tx)

    # -- OCPP 2.0.1 / 2.1 ----------------------------------------------------------

    def transaction_event(
        self, station_id: str, version: OcppVersion, event: TransactionEventData,
        new_on_connection: bool = False,
    ) -> str | None:
        """Apply a TransactionEvent; returns the idToken status if one was given."""
        tx = self._transaction(station_id, event.transaction_id, version)
        status = None
        if event.id_token is not None:
            status = self.authorize(event.id_token, event.id_token_type)
        anomaly = tx.apply_event(event, id_token_status=status,
                                 new_on_connection=new_on_connection)
        if anomaly is not None and anomaly[0] == "redelivered":
            self._store(tx)  # applied once already (at-least-once delivery): nothing new
            return status
        if anomaly is not None:
            kind, expected = anomaly
            self.ledger.add_seq_no_anomaly(
                SeqNoAnomaly(
                    station_id, event.transaction_id, kind, event.seq_no, expected, self.now_iso()
                )
            )
        if event.samples:
            self.ledger.add_samples(station_id, event.transaction_id, event.samples)
        self._store(tx)
        return status

    # -- state -----------------------------------------------------------------------

    def _transaction(
        self, station_id: str, transaction_id: str, version: OcppVersion
    ) -> TransactionState:
        key = (station_id, transaction_id)
        tx = self._open.get(key)
        if tx is None:
            row = self.ledger.transaction(station_id, transaction_id)
            tx = (
                TransactionState.from_row(row)
                if row is not None
                else TransactionState(
                    ocpp_version=version.label,
                    station_id=station_id,
                    transaction_id=transaction_id,
                )
            )
            self._open[key] = tx
        return tx

    def _store(self, tx: TransactionState) -> None:
        self.ledger.put_transaction(tx.row())
        if tx.stopped_at is not None:
            self._open.pop((tx.station_id, tx.transaction_id), None)

    def open_transaction_ids(self, station_id: str) -> list[str]:
        """Ids of the station's transactions not yet stopped (for RemoteStop commands)."""
        return [tx for (sid, tx) in self._open if sid == station_id]

    def unpaid_evses(self, station_id: str) -> list[int]:
        """EVSEs of the station whose open transaction has no idToken yet (2.1: a driver
        who may pay on the web, C24)."""
        return sorted({tx.evse_id for (sid, _), tx in self._open.items()
                       if sid == station_id and tx.id_tag is None and tx.evse_id is not None})

    def busy_stations(self) -> set[str]:
        """Stations with at least one open transaction."""
        return {sid for sid, _ in self._open}

    @property
    def open_transactions(self) -> int:
        """Transactions started and not yet ended (held in memory)."""
        return len(self._open)


def _start_key(station_id: str, connector_id: int | None, id_tag: str | None,
               timestamp: str | None, meter_start_wh: float | None
               ) -> tuple[str, int | None, str | None, str | None, float | None]:
    return (station_id, connector_id, id_tag, timestamp,
            None if meter_start_wh is None else float(meter_start_wh))
