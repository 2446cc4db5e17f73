"""OCPP 2.0.1 and 2.1 station behaviour on top of :class:`StationCore`.

Each connector is its own EVSE (evseId = n, connectorId = 1). Transactions are
station-generated (2.0.1 part 2 E01–E07): plug-in → StatusNotification Occupied
and TransactionEvent Started (CablePluggedIn) → Authorize → Updated (Authorized,
Charging) → Updated every TxUpdatedInterval (MeterValuePeriodic) → Updated
(ChargingStateChanged, SuspendedEV) when full → Ended (EVDeparted) → Available.
seqNo starts at 0 and increases by one per TransactionEvent of a transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from fleetsim.station.connector import Connector, Transaction
from fleetsim.station.core import Payload, StationCore
from fleetsim.station.measure import sampled_values

__all__ = ["Station2", "Station21", "Station201"]

_END_TRIGGER = {"EVDisconnected": "EVDeparted", "Local": "StopAuthorized",
                "DeAuthorized": "Deauthorized"}


class Station2(StationCore):
    """Shared 2.0.1/2.1 behaviour; subclasses only name their version."""

    tx_ids: Callable[[], str] = staticmethod(lambda: str(uuid.uuid4()))

    def boot_payload(self) -> Payload:
        return {"reason": "PowerUp" if self.boots == 0 else "Unknown",
                "chargingStation": {"model": self.cfg.model[:20],
                                    "vendorName": self.cfg.vendor[:50],
                                    "serialNumber": self.station_id[:25],
                                    "firmwareVersion": self.cfg.firmware[:50]}}

    def after_boot(self, now: float) -> None:
        for c in self.connectors:
            self.status(c, now)

    def status(self, c: Connector, t: float) -> None:
        if not self.connected:
            return  # not a transaction message: dropped while offline
        stamp, status = self.clock.iso(t), c.status
        self.call("StatusNotification", lambda: {
            "timestamp": stamp, "connectorStatus": status, "evseId": c.connector_id,
            "connectorId": 1}, t)

    def set_status(self, c: Connector, status: str, t: float) -> None:
        if c.status != status:
            c.status = status
            self.status(c, t)

    # ---------------------------------------------------------------- transaction events
    def tx_event(self, c: Connector, tx: Transaction, t: float, event: str, trigger: str, *,
                 charging_state: str | None = None, context: str | None = None,
                 stopped_reason: str | None = None, id_token: bool = False) -> None:
        p: dict[str, Any] = {
            "eventType": event, "timestamp": self.clock.iso(t), "triggerReason": trigger,
            "seqNo": tx.next_seq(),
            "transactionInfo": {"transactionId": tx.id},
        }
        if charging_state:
            p["transactionInfo"]["chargingState"] = charging_state
        if stopped_reason:
            p["transactionInfo"]["stoppedReason"] = stopped_reason
        if event == "Started":
            p["evse"] = {"id": c.connector_id, "connectorId": 1}
        if id_token:
            p["idToken"] = {"idToken": c.id_tag, "type": "ISO14443"}
        if context:
            power = c.power_w
            p["meterValue"] = [{"timestamp": p["timestamp"], "sampledValue": sampled_values(
                c, self.cfg.measurands, context, power, as_text=False)}]
        if not self.connected:
            p["offline"] = True
        self.call("TransactionEvent", lambda: p, t, transactional=True,
                  on_result=lambda r, now: self._tx_answer(c, tx, r, now))

    def _tx_answer(self, c: Connector, tx: Transaction, r: Payload, now: float) -> None:
        info = r.get("idTokenInfo")
        if (isinstance(info, dict) and info.get("status") not in (None, "Accepted")
                and c.tx is tx):
            self.end_session(c, now, reason="DeAuthorized")

    # ---------------------------------------------------------------- sessions
    def begin_session(self, c: Connector, t: float) -> None:
        self.set_status(c, "Occupied", t)
        tx = c.open_transaction(self.clock.sim_s(t), self.tx_ids())
        c.charging = False  # connected, not yet authorised
        self.tx_count += 1
        self.tx_event(c, tx, t, "Started", "CablePluggedIn", charging_state="EVConnected",
                      context="Transaction.Begin")
        if self.cfg.authorize and self.connected:
            self.call("Authorize", lambda: {"idToken": {"idToken": c.id_tag, "type": "ISO14443"}},
                      t, on_result=lambda p, now: self._authorized(c, tx, p, now),
                      on_error=lambda code, now: self._charge(c, tx, now))
        else:
            self._charge(c, tx, t)

    def _authorized(self, c: Connector, tx: Transaction, p: Payload, now: float) -> None:
        if c.tx is not tx:
            return
        info = p.get("idTokenInfo")
        if isinstance(info, dict) and info.get("status") == "Accepted":
            self._charge(c, tx, now)
        else:
            self.rec.fault("session_not_authorized")
            self.end_session(c, now, reason="DeAuthorized")

    def _charge(self, c: Connector, tx: Transaction, t: float) -> None:
        if c.tx is not tx or self.stopping:
            return
        c.charging = True
        c.last_sim = self.clock.sim_s(t)
        self.advance(c, t)
        self.tx_event(c, tx, t, "Updated", "Authorized", charging_state="Charging",
                      id_token=True)
        self.at(t + self.clock.interval_wall(self.cfg.meter_interval_s), self.meter_loop, c,
                name=f"meter{c.connector_id}")

    def send_meter(self, c: Connector, t: float) -> None:
        if c.tx is not None:
            self.tx_event(c, c.tx, t, "Updated", "MeterValuePeriodic", context="Sample.Periodic")

    def vehicle_full(self, c: Connector, t: float) -> None:
        if c.tx is not None:
            self.tx_event(c, c.tx, t, "Updated", "ChargingStateChanged",
                          charging_state="SuspendedEV")

    def end_session(self, c: Connector, t: float, *, reason: str) -> None:
        tx = c.tx
        if tx is not None:
            self.advance(c, t)
            self.record_session(c, t, reason)
            self.tx_event(c, tx, t, "Ended", _END_TRIGGER.get(reason, "AbnormalCondition"),
                          charging_state="EVConnected" if reason == "DeAuthorized" else "Idle",
                          stopped_reason=reason, context="Transaction.End")
            self._cancel(f"meter{c.connector_id}")
            c.close_transaction()
        if reason != "DeAuthorized":  # a deauthorised car stays plugged until it departs
            c.unplug()
            self.set_status(c, "Available", t)


class Station201(Station2):
    version_prefix = "2.0.1/"


class Station21(Station2):
    version_prefix = "2.1/"
