"""OCPP 1.6J station behaviour on top of :class:`StationCore`.

Session flow per connector (OCPP 1.6 §4, §5): plug-in → StatusNotification
Preparing → Authorize → StartTransaction (the CSMS assigns transactionId) →
Charging, MeterValues every MeterValueSampleInterval → SuspendedEV when the car
is full → StopTransaction at departure → Finishing → Available.
"""

from __future__ import annotations

from fleetsim.station.connector import Connector, Transaction
from fleetsim.station.core import Payload, StationCore
from fleetsim.station.dispatch import Handler
from fleetsim.station.localauth import cache_answer, local_decision
from fleetsim.station.measure import sampled_values

__all__ = ["Station16"]


class Station16(StationCore):
    __slots__ = ()
    version_prefix = "1.6/"
    formation_violation = "FormationViolation"  # 1.6 spells it so (OCPP-J 1.6 §4.2.3)

    def boot_payload(self) -> Payload:
        firmware = self.cfg.firmware if self.extra is None else self.extra.get(
            "firmware", self.cfg.firmware)
        return {"chargePointVendor": self.cfg.vendor[:20], "chargePointModel": self.cfg.model[:20],
                "chargePointSerialNumber": self.station_id[:25],
                "firmwareVersion": firmware[:50]}

    def handlers(self) -> dict[str, Handler]:
        from fleetsim.station.handlers16 import HANDLERS

        return HANDLERS

    def show_status(self, c: Connector, status: str, t: float) -> None:
        self.status(c.connector_id, status, t)

    def after_boot(self, now: float) -> None:
        self.status(0, "Available", now)
        for c in self.connectors:
            self.status(c.connector_id, c.status, now)
        if self.cfg.security_events_per_day:
            from fleetsim.station.incidents import arm

            arm(self, now)

    def report_status(self, c: Connector, t: float) -> None:
        self.status(c.connector_id, c.status, t)

    def status(self, connector_id: int, status: str, t: float) -> None:
        if connector_id:
            self.connectors[connector_id - 1].status = status
        if not self.connected:
            return  # not a transaction message: dropped while offline (1.6 §4.9)
        stamp = self.clock.iso(t)
        self.call("StatusNotification", lambda: {
            "connectorId": connector_id, "errorCode": "NoError", "status": status,
            "timestamp": stamp}, t)

    # ---------------------------------------------------------------- sessions
    def begin_session(self, c: Connector, t: float, *, authorize: bool | None = None) -> None:
        self.status(c.connector_id, "Preparing", t)
        if authorize is None:
            authorize = self.cfg.authorize
        local = local_decision(self, c.id_tag) if authorize else True
        if local is None:
            tag = c.id_tag
            self.call("Authorize", lambda: {"idTag": tag}, t,
                      on_result=lambda p, now: self._authorized(c, p, now, tag),
                      on_error=lambda code, now: self._authorize_error(c, code, now))
        elif local:
            self._start(c, t)  # free vend, local list/cache, or offline: authorised locally
        else:
            self.rec.fault("session_not_authorized")  # the local list/cache says no
            self.status(c.connector_id, "Finishing", t)

    def _authorized(self, c: Connector, p: Payload, now: float, tag: str = "") -> None:
        cache_answer(self, tag, p.get("idTagInfo"))
        if c.session is None:
            return
        if _accepted(p):
            self._start(c, now)
        else:
            self.rec.fault("session_not_authorized")
            self.refused(c, "Authorize", _status(p), now)
            self.status(c.connector_id, "Finishing", now)

    def _authorize_error(self, c: Connector, code: str, now: float) -> None:
        if c.session is None:
            return
        if self.authorize_failed(c, code, now):
            self._start(c, now)
        else:
            self.status(c.connector_id, "Finishing", now)

    def _start(self, c: Connector, t: float) -> None:
        if c.session is None or self.stopping:
            return
        tx = c.open_transaction(self.clock.sim_s(t), None)
        self.tx_count += 1
        payload: Payload = {"connectorId": c.connector_id, "idTag": c.id_tag,
                            "meterStart": tx.meter_start_wh, "timestamp": self.clock.iso(t)}
        if c.reservation_used is not None:
            payload["reservationId"], c.reservation_used = c.reservation_used, None
        self.call("StartTransaction", lambda: payload, t,
                  on_result=lambda p, now: self._started(c, tx, p, now), transactional=True)
        self.status(c.connector_id, "Charging", t)
        if self.limits is not None:
            from fleetsim.station.limits import apply_limits

            apply_limits(self, t)
        self.advance(c, t)
        self.arm_meter(c, t)

    def _started(self, c: Connector, tx: Transaction, p: Payload, now: float) -> None:
        tx_id = p.get("transactionId")
        if not isinstance(tx_id, int):
            self.rec.fault("bad_transaction_id")
            return
        tx.id = tx_id
        tx.acknowledged = True
        if c.flow_t0:  # RemoteStartTransaction received → StartTransaction answered
            self.rec.flow("1.6/RemoteStartTransaction→StartTransaction", now - c.flow_t0)
            c.flow_t0 = 0.0
        if not _accepted(p) and c.tx is tx:
            self.refused(c, "StartTransaction", _status(p), now)
            self.end_session(c, now, reason="DeAuthorized")
        elif self.limits is not None and c.tx is tx:
            from fleetsim.station.limits import apply_limits

            apply_limits(self, now)  # a TxProfile naming this transactionId may now apply

    def send_meter(self, c: Connector, t: float, context: str = "Sample.Periodic") -> None:
        tx = c.tx
        if tx is None:
            return
        values = sampled_values(c, self.measurands, context, as_text=True)
        stamp = self.clock.iso(t)
        cid = c.connector_id

        def build() -> Payload | None:
            # queued behind its StartTransaction, whose answer brings the transactionId
            # (1.6 §4.7: meter values of a transaction are transaction-related messages)
            if tx.id is None:
                return None
            return {"connectorId": cid, "transactionId": tx.id,
                    "meterValue": [{"timestamp": stamp, "sampledValue": values}]}

        self.call("MeterValues", build, t, transactional=True, meter=True)

    def send_aligned(self, c: Connector, t: float) -> None:
        self.send_meter(c, t, "Sample.Clock")

    def vehicle_full(self, c: Connector, t: float) -> None:
        self.status(c.connector_id, "SuspendedEV", t)

    def end_session(self, c: Connector, t: float, *, reason: str) -> None:
        tx = c.tx
        if tx is not None:
            self.advance(c, t)
            self.record_session(c, t, reason)
            stop = {"meterStop": int(c.register_wh), "timestamp": self.clock.iso(t),
                    "reason": reason, "idTag": c.id_tag}

            def build() -> Payload | None:
                # the transactionId is known only once StartTransaction was answered
                return None if tx.id is None else {**stop, "transactionId": tx.id}

            self.call("StopTransaction", build, t, transactional=True)
            self._cancel(f"meter{c.connector_id}")
            c.close_transaction()
            self.status(c.connector_id, "Finishing", t)
            self.session_ended(c, t)
        if reason not in ("DeAuthorized", "Remote"):  # those cars stay plugged until they leave
            c.unplug()
            self.status(c.connector_id, self.idle_status(c), t)


def _accepted(p: Payload) -> bool:
    info = p.get("idTagInfo")
    return isinstance(info, dict) and info.get("status") == "Accepted"


def _status(p: Payload) -> str:
    info = p.get("idTagInfo")
    return str(info.get("status")) if isinstance(info, dict) else "no idTagInfo"
