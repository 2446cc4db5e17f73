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
from fleetsim.station.dispatch import Handler
from fleetsim.station.frames import CallResultError, Send, encode_result_error
from fleetsim.station.iso15118 import authorize_payload
from fleetsim.station.localauth import cache_answer, is_master_pass, local_decision
from fleetsim.station.measure import sampled_values

__all__ = ["Station2", "Station21", "Station201"]

_END_TRIGGER = {"EVDisconnected": "EVDeparted", "Local": "StopAuthorized",
                "DeAuthorized": "Deauthorized", "Remote": "RemoteStop",
                "ImmediateReset": "ResetCommand", "MasterPass": "StopAuthorized"}
_STAY_PLUGGED = ("DeAuthorized", "Remote", "MasterPass")  # the car is still there


class Station2(StationCore):
    """Shared 2.0.1/2.1 behaviour; subclasses only name their version."""

    __slots__ = ()

    tx_ids: Callable[[], str] = staticmethod(lambda: str(uuid.uuid4()))

    def boot_payload(self) -> Payload:
        firmware = self.cfg.firmware if self.extra is None else self.extra.get(
            "firmware", self.cfg.firmware)
        reason = self.next_boot_reason or ("PowerUp" if self.boots == 0 else "Unknown")
        return {"reason": reason,
                "chargingStation": {"model": self.cfg.model[:20],
                                    "vendorName": self.cfg.vendor[:50],
                                    "serialNumber": self.station_id[:25],
                                    "firmwareVersion": firmware[:50]}}

    def handlers(self) -> dict[str, Handler]:
        from fleetsim.station.handlers2 import HANDLERS

        return HANDLERS

    def show_status(self, c: Connector, status: str, t: float) -> None:
        self.set_status(c, status, t)

    def after_boot(self, now: float) -> None:
        for c in self.connectors:
            self.status(c, now)
        if (self.cfg.security_events_per_day or self.cfg.notify_events_per_day
                or self.cfg.ems_limits_per_day or self.cfg.master_pass_per_day):
            from fleetsim.station.incidents import arm

            arm(self, now)

    def report_status(self, c: Connector, t: float) -> None:
        self.status(c, t)

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
                 stopped_reason: str | None = None, id_token: bool = False,
                 meter: bool = False) -> None:
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
            if c.remote_start_id is not None:
                p["transactionInfo"]["remoteStartId"], c.remote_start_id = c.remote_start_id, None
            if c.reservation_used is not None:
                p["reservationId"], c.reservation_used = c.reservation_used, None
        if id_token:
            p["idToken"] = self.tx_id_token(c)
        if context:
            p["meterValue"] = [{"timestamp": p["timestamp"], "sampledValue": sampled_values(
                c, self.measurands, context, as_text=False)}]
        if not self.connected:
            p["offline"] = True
        self.tx_extras(c, tx, p, t)
        started = event == "Started"
        self.call("TransactionEvent", lambda: p, t, transactional=True, meter=meter,
                  on_result=lambda r, now: self._tx_answer(c, tx, r, now, started))

    def tx_extras(self, c: Connector, tx: Transaction, p: dict[str, Any], t: float) -> None:
        """A version's additions to a TransactionEvent about to be sent (2.1: cost)."""

    def hold_for_payment(self, c: Connector, t: float) -> bool:
        """True: the transaction waits for a payment instead of an authorisation (2.1)."""
        return False

    def tx_id_token(self, c: Connector) -> dict[str, str]:
        """The token the transaction runs under: the one it was authorised with — the
        car's contract (eMAID) under Plug & Charge, else the RFID card."""
        if self.cfg.pnc_share or self.cfg.iso15118_from_vehicles:
            from fleetsim.station.iso15118 import emaid, is_pnc

            if is_pnc(self, c):
                return {"idToken": emaid(self, c), "type": "eMAID"}
        return {"idToken": c.id_tag, "type": "ISO14443"}

    def _tx_answer(self, c: Connector, tx: Transaction, r: Payload, now: float,
                   started: bool = False) -> None:
        if started and c.flow_t0 and c.tx is tx:
            # RequestStartTransaction received → its TransactionEvent Started acknowledged
            self.rec.flow(f"{self.version_prefix}RequestStartTransaction→TransactionEvent",
                          now - c.flow_t0)
            c.flow_t0 = 0.0
        if started:
            tx.acknowledged = True
        info = r.get("idTokenInfo")
        if (isinstance(info, dict) and info.get("status") not in (None, "Accepted")
                and c.tx is tx):
            self.refused(c, "TransactionEvent", str(info.get("status")), now)
            self.end_session(c, now, reason="DeAuthorized")

    # ---------------------------------------------------------------- sessions
    def begin_session(self, c: Connector, t: float, *, authorize: bool | None = None) -> None:
        self.set_status(c, "Occupied", t)
        tx = c.open_transaction(self.clock.sim_s(t), self.tx_ids())
        c.charging = False  # connected, not yet authorised
        self.tx_count += 1
        remote = c.remote_start_id is not None
        # F01/F02: a remote start opens the transaction with trigger RemoteStart and the token
        self.tx_event(c, tx, t, "Started", "RemoteStart" if remote else "CablePluggedIn",
                      charging_state="EVConnected", context="Transaction.Begin", id_token=remote)
        if self.cfg.iso15118_share or self.cfg.pnc_share or self.cfg.iso15118_from_vehicles:
            from fleetsim.station.iso15118 import on_plug

            on_plug(self, c, t)
        if self.limits is not None:
            from fleetsim.station.limits import apply_limits

            apply_limits(self, t)
        if self.hold_for_payment(c, t):
            return
        if authorize is None:
            authorize = self.cfg.authorize
        local = local_decision(self, c.id_tag) if authorize else True
        if local is None:
            tag = c.id_tag
            request = authorize_payload(self, c, tag)  # RFID, or Plug & Charge (C07)
            self.call("Authorize", lambda: request, t,
                      on_result=lambda p, now: self._authorized(c, tx, p, now, tag),
                      on_error=lambda code, now: self._authorize_error(c, tx, code, now))
        elif local:
            self._charge(c, tx, t)  # free vend, local list/cache, or offline (C12-C15)
        else:
            self.rec.fault("session_not_authorized")  # the local list/cache says no
            self.end_session(c, t, reason="DeAuthorized")

    def _authorized(self, c: Connector, tx: Transaction, p: Payload, now: float,
                    tag: str = "") -> None:
        info = p.get("idTokenInfo")
        cache_answer(self, tag, info)
        if c.tx is not tx:
            return
        if is_master_pass(self, info):  # C16: a master pass never starts a transaction
            self.end_session(c, now, reason="DeAuthorized")
        elif isinstance(info, dict) and info.get("status") == "Accepted":
            self._charge(c, tx, now)
        else:
            self.rec.fault("session_not_authorized")
            self.refused(c, "Authorize", str(info.get("status")) if isinstance(info, dict)
                         else "no idTokenInfo", now)
            self.end_session(c, now, reason="DeAuthorized")

    def _authorize_error(self, c: Connector, tx: Transaction, code: str, now: float) -> None:
        if c.tx is not tx:
            return
        if self.authorize_failed(c, code, now):
            self._charge(c, tx, now)
        else:
            self.end_session(c, now, reason="DeAuthorized")

    def _charge(self, c: Connector, tx: Transaction, t: float) -> None:
        if c.tx is not tx or self.stopping:
            return
        c.charging = True
        c.last_sim = self.clock.sim_s(t)
        self.advance(c, t)
        self.tx_event(c, tx, t, "Updated", "Authorized", charging_state="Charging",
                      id_token=True)
        self.arm_meter(c, t)

    def send_meter(self, c: Connector, t: float) -> None:
        if c.tx is not None:
            self.tx_event(c, c.tx, t, "Updated", "MeterValuePeriodic", context="Sample.Periodic",
                          meter=True)

    def send_aligned(self, c: Connector, t: float) -> None:
        """J01: during a transaction in TransactionEvent, else in MeterValues."""
        if c.tx is not None:
            self.tx_event(c, c.tx, t, "Updated", "MeterValueClock", context="Sample.Clock",
                          meter=True)
            return
        if not self.connected:
            return
        stamp, values = self.clock.iso(t), sampled_values(
            c, self.measurands, "Sample.Clock", as_text=False)
        self.call("MeterValues", lambda: {"evseId": c.connector_id, "meterValue": [
            {"timestamp": stamp, "sampledValue": values}]}, t)

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
                          charging_state="EVConnected" if reason in _STAY_PLUGGED else "Idle",
                          stopped_reason=reason, context="Transaction.End")
            self._cancel(f"meter{c.connector_id}")
            c.close_transaction()
            self.session_ended(c, t)
        if reason not in _STAY_PLUGGED:  # those cars stay plugged until they leave
            c.unplug()
            self.set_status(c, self.idle_status(c), t)


class Station201(Station2):
    __slots__ = ()
    version_prefix = "2.0.1/"


class Station21(Station2):
    __slots__ = ()
    version_prefix = "2.1/"

    def handlers(self) -> dict[str, Handler]:
        from fleetsim.station.handlers21 import HANDLERS21

        return HANDLERS21

    def begin_session(self, c: Connector, t: float, *, authorize: bool | None = None) -> None:
        if self.cfg.swap:
            from fleetsim.station.swap import begin_swap, params

            sp = params(self)
            if sp is not None:  # a swap station swaps packs: no transaction
                begin_swap(self, c, t, sp)
                return
        if c.session is not None:  # 2.1 V2X: is this car bidirectional?
            from fleetsim.station.der import discharge_share
            from fleetsim.station.v2x import rated, v2x_car

            car = v2x_car(self.station_id, c.session, max_power_w=c.evse.max_power_w,
                          dc=c.evse.dc, share=self.cfg.v2x_share)
            c.v2x = None if car is None else rated(car, discharge_share(self))
        if self.cfg.adhoc_share:
            from fleetsim.station.payments import choose_payment

            if choose_payment(self, c, t) == "terminal":
                authorize = False  # paid at the terminal: no Authorize (C18)
        super().begin_session(c, t, authorize=authorize)

    # ------------------------------------------------ 2.1 tariffs, cost, ad hoc payment
    def hold_for_payment(self, c: Connector, t: float) -> bool:
        if self.extra is None or "tariffs" not in self.extra:
            return False
        from fleetsim.station.payments import awaiting_web_payment

        return awaiting_web_payment(self, c)  # a QR-code payer: wait for the web payment

    def start_paid(self, c: Connector, t: float) -> None:
        """The web payment for ``c``'s waiting transaction arrived: charge (C24)."""
        if c.tx is not None:
            self._charge(c, c.tx, t)

    def tx_id_token(self, c: Connector) -> dict[str, str]:
        if self.extra is not None and "tariffs" in self.extra:
            from fleetsim.station.payments import id_token

            token = id_token(self, c)
            if token is not None:
                return token
        return super().tx_id_token(c)

    def tx_extras(self, c: Connector, tx: Transaction, p: dict[str, Any], t: float) -> None:
        if self.extra is None:
            return
        if "tariffs" in self.extra:
            from fleetsim.station import payments

            event, info = p["eventType"], p["transactionInfo"]
            if event == "Started":
                payments.start_tracking(self, c, t)
            tariff = payments.tariff_id(self, c)
            if tariff is not None:
                info["tariffId"] = tariff
                if event == "Ended":
                    p["costDetails"] = payments.cost_details(self, c, t)
            pay = payments.pay_of(self, c)
            if pay is not None and p["triggerReason"] == "Authorized" \
                    and "remote_start_id" in pay:
                info["remoteStartId"] = pay.pop("remote_start_id")
        if p["triggerReason"] == "Authorized" and "priority" in self.extra:
            from fleetsim.station.priority import on_charging

            on_charging(self, c, t)

    def advance(self, c: Connector, t: float) -> None:
        if self.extra is not None and "tariffs" in self.extra:
            from fleetsim.station.payments import accrue

            accrue(self, c, t)  # charging or idle time since the last step, for the cost
        super().advance(c, t)

    def end_session(self, c: Connector, t: float, *, reason: str) -> None:
        tx = c.tx
        if tx is None or self.extra is None or "tariffs" not in self.extra:
            super().end_session(c, t, reason=reason)
            return
        from fleetsim.station import payments

        store = self.extra["tariffs"]
        super().end_session(c, t, reason=reason)  # Ended, with costDetails
        track = store["track"].pop(c.connector_id, None)
        cost = None if track is None else track.get("final")
        payments.settle(self, c, str(tx.id), cost, t)
        if c.session is None:
            store["pay"].pop(c.connector_id, None)

    # ------------------------------------------------ boot, stop, frames
    def after_boot(self, now: float) -> None:
        super().after_boot(now)
        if self.cfg.event_stream_s > 0:
            from fleetsim.station.streams import open_streams

            open_streams(self, now)
        if self.cfg.chain_status_s > 0:
            from fleetsim.station.chain_status import arm

            arm(self, now)

    def stop(self, now: float) -> None:
        if self.extra is not None and self.extra.get("streams"):
            from fleetsim.station.streams import close_streams

            close_streams(self, now)
        super().stop(now)
    def on_frame21(self, frame: Send | CallResultError, now: float) -> None:
        if type(frame) is CallResultError:  # the CSMS could not process our CALLRESULT
            self.rec.wire.resulterrors_received[f"{self.version_prefix}{frame.code}"] += 1
        else:  # SEND flows station → CSMS only: never answered, counted as a fault
            self.rec.fault("unexpected_send")

    def check_response(self, action: str, payload: Payload) -> None:
        """Strict: a CALLRESULT that breaks its schema earns a CALLRESULTERROR (2.1 part 4
        §4.2.4) besides the conformance count."""
        from fleetsim.station.dispatch import schema_problem

        super().check_response(action, payload)
        problem = schema_problem(self, action, payload, response=True)
        msg_id = getattr(self, "_inflight_id", None)
        if problem is not None and msg_id is not None:
            self.out.append(encode_result_error(msg_id, problem, f"{action} response breaks "
                                                "its schema"))
            self.rec.wire.resulterrors_sent[f"{self.version_prefix}{problem}"] += 1

    def record_session(self, c: Connector, t: float, reason: str, *, refused: str = "") -> None:
        super().record_session(c, t, reason, refused=refused)
        if c.v2x is not None or c.export_wh > c.export_start_wh:
            self.finished_sessions[-1].update(export_start_wh=c.export_start_wh,
                                              export_stop_wh=int(c.export_wh))
