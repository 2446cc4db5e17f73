"""OCPP 2.0.1 and 2.1: the CSMS's answer to every Charging Station → CSMS request.

2.1 keeps 2.0.1's station requests with compatible payloads, so one class
(:class:`_V2Session`) answers them, using the version's own ``call_result``
module; :class:`V21Session` adds the requests new in 2.1. Requests that are
pure notifications — the spec's response has no required field and this CSMS
has nothing to add — are acknowledged by handlers generated from
``ACKNOWLEDGED``. Handlers receive snake_case keyword arguments and return the
library's ``call_result`` dataclasses.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from types import ModuleType
from typing import Any, ClassVar

import ocpp.v21
import ocpp.v201

from fleetsim.csms.handlers_limits import ExternalLimitsV2
from fleetsim.csms.handlers_monitoring import MonitoringV2
from fleetsim.csms.handlers_security import SecurityV2
from fleetsim.csms.handlers_v21 import V21Money
from fleetsim.csms.metering import read_samples
from fleetsim.csms.session import StationSession, route
from fleetsim.csms.transactions import TransactionEventData
from fleetsim.csms.versions import OcppVersion

__all__ = ["ACKNOWLEDGED", "V21Session", "V201Session"]

_V201_ACKNOWLEDGED = frozenset(
    {
        "ClearedChargingLimit",
        "FirmwareStatusNotification",
        "LogStatusNotification",
        "NotifyChargingLimit",
        "NotifyCustomerInformation",
        "NotifyDisplayMessages",
        "NotifyEvent",
        "NotifyMonitoringReport",
        "NotifyReport",
        "PublishFirmwareStatusNotification",
        "ReportChargingProfiles",
        "ReservationStatusUpdate",
        "SecurityEventNotification",
        "StatusNotification",
    }
)

ACKNOWLEDGED: dict[OcppVersion, frozenset[str]] = {
    OcppVersion.V201: _V201_ACKNOWLEDGED,
    OcppVersion.V21: _V201_ACKNOWLEDGED
    | {
        "ClosePeriodicEventStream",
        "NotifyDERAlarm",
        "NotifyDERStartStop",
        "ReportDERControl",
    },
}
"""Per 2.x version, the requests answered with an empty response (2.1's BatterySwap,
NotifyPriorityCharging and NotifySettlement are recorded: :mod:`fleetsim.csms.handlers_v21`)."""


class _V2Session(StationSession):
    """What 2.0.1 and 2.1 sessions share."""

    _call_result: ClassVar[ModuleType]

    def _id_token_info(self, id_token: dict[str, Any]) -> dict[str, str]:
        return {"status": self.backend.authorize(id_token["id_token"], id_token.get("type"))}

    @route("Authorize")
    def on_authorize(self, id_token: dict[str, Any], **_: Any) -> object:
        return self._call_result.Authorize(id_token_info=self._id_token_info(id_token))

    @route("BootNotification")
    def on_boot_notification(self, charging_station: dict[str, Any], **_: Any) -> object:
        decision = self.backend.boot(
            self.station_id,
            self.version,
            vendor=charging_station.get("vendor_name"),
            model=charging_station.get("model"),
        )
        return self._call_result.BootNotification(
            current_time=self.backend.now_iso(),
            interval=decision.interval_s,
            status=decision.status,
        )

    @route("DataTransfer")
    def on_data_transfer(self, **_: Any) -> object:
        # P01: a CSMS without an implementation for the vendorId answers UnknownVendorId.
        return self._call_result.DataTransfer(status="UnknownVendorId")

    # Get15118EVCertificate, GetCertificateStatus, SignCertificate and Plug & Charge
    # Authorize: fleetsim.csms.handlers_security

    @route("Heartbeat")
    def on_heartbeat(self, **_: Any) -> object:
        return self._call_result.Heartbeat(current_time=self.backend.now_iso())

    @route("MeterValues")
    def on_meter_values(self, meter_value: list[dict[str, Any]], **_: Any) -> object:
        samples = read_samples(meter_value)
        self.backend.meter_values(
            self.station_id, self.version, transaction_id=None, samples=samples
        )
        return self._call_result.MeterValues()

    @route("NotifyEVChargingNeeds")
    def on_notify_ev_charging_needs(self, **_: Any) -> object:
        # This CSMS computes no charging schedules, so it cannot provide one.
        return self._call_result.NotifyEVChargingNeeds(status="Rejected")

    @route("NotifyEVChargingSchedule")
    def on_notify_ev_charging_schedule(self, **_: Any) -> object:
        return self._call_result.NotifyEVChargingSchedule(status="Accepted")

    @route("TransactionEvent")
    def on_transaction_event(
        self,
        event_type: str,
        timestamp: str,
        seq_no: int,
        transaction_info: dict[str, Any],
        offline: bool = False,
        evse: dict[str, Any] | None = None,
        id_token: dict[str, Any] | None = None,
        meter_value: list[dict[str, Any]] | None = None,
        **_: Any,
    ) -> object:
        event = TransactionEventData(
            event_type=event_type,
            timestamp=timestamp,
            seq_no=seq_no,
            transaction_id=transaction_info["transaction_id"],
            offline=offline,
            stopped_reason=transaction_info.get("stopped_reason"),
            id_token=None if id_token is None else id_token["id_token"],
            id_token_type=None if id_token is None else id_token.get("type"),
            evse_id=None if evse is None else evse["id"],
            connector_id=None if evse is None else evse.get("connector_id"),
            samples=read_samples(meter_value),
        )
        status = self.backend.transaction_event(
            self.station_id, self.version, event,
            new_on_connection=self.first_on_connection(event.transaction_id, seq_no))
        # E01-E07: idTokenInfo answers a TransactionEvent that carries an idToken.
        id_token_info = None if status is None else {"status": status}
        return self._call_result.TransactionEvent(id_token_info=id_token_info)


class V201Session(SecurityV2, MonitoringV2, ExternalLimitsV2, _V2Session):
    """A 2.0.1 station's session."""

    version = OcppVersion.V201
    _ocpp_version = "2.0.1"
    _call = ocpp.v201.call
    _call_result = ocpp.v201.call_result


class V21Session(V21Money, SecurityV2, MonitoringV2, ExternalLimitsV2, _V2Session):
    """A 2.1 station's session: 2.0.1's answers plus the requests new in 2.1."""

    version = OcppVersion.V21
    _ocpp_version = "2.1"
    _call = ocpp.v21.call
    _call_result = ocpp.v21.call_result

    @route("GetCertificateChainStatus")
    def on_get_certificate_chain_status(
        self, certificate_status_requests: list[dict[str, Any]], **_: Any
    ) -> object:
        # No OCSP responder here: every certificate's status is Unknown.
        now = self.backend.now_iso()
        statuses = [
            {
                "certificate_hash_data": request["certificate_hash_data"],
                "source": request["source"],
                "status": "Unknown",
                "next_update": now,
            }
            for request in certificate_status_requests
        ]
        return self._call_result.GetCertificateChainStatus(certificate_status=statuses)

    @route("OpenPeriodicEventStream")
    def on_open_periodic_event_stream(self, **_: Any) -> object:
        return self._call_result.OpenPeriodicEventStream(status="Accepted")

    # PullDynamicScheduleUpdate, VatNumberValidation, NotifySettlement, BatterySwap,
    # NotifyPriorityCharging and TransactionEvent's costDetails: handlers_v21.V21Money


def _acknowledge(action: str) -> Callable[..., object]:
    """A handler answering ``action`` with its empty response dataclass."""

    def handler(self: _V2Session, **_: Any) -> object:
        return getattr(self._call_result, action)()

    # ocpp's @on registers handlers by function name, so each needs its own.
    handler.__name__ = handler.__qualname__ = (
        "on_" + re.sub(r"(?<!^)(?=[A-Z])", "_", action).lower()
    )
    return route(action)(handler)


for _action in ACKNOWLEDGED[OcppVersion.V201]:
    _handler = _acknowledge(_action)
    setattr(_V2Session, _handler.__name__, _handler)
for _action in ACKNOWLEDGED[OcppVersion.V21] - ACKNOWLEDGED[OcppVersion.V201]:
    _handler = _acknowledge(_action)
    setattr(V21Session, _handler.__name__, _handler)
