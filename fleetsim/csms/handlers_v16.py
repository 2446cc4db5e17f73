"""OCPP 1.6J: the CSMS's answer to every Charge Point → Central System request.

Handlers receive the validated payload as snake_case keyword arguments (the
``ocpp`` convention) and return the library's ``call_result`` dataclasses.
Sections cited are from OCPP 1.6 edition 2 and the 1.6 Security Whitepaper.
"""

from __future__ import annotations

from typing import Any

from ocpp.v16 import call, call_result

from fleetsim.csms.handlers_security import SecurityV16
from fleetsim.csms.metering import read_samples
from fleetsim.csms.session import StationSession, route
from fleetsim.csms.versions import OcppVersion

__all__ = ["V16Session"]


class V16Session(SecurityV16, StationSession):
    """A 1.6J station's session."""

    version = OcppVersion.V16
    _ocpp_version = "1.6"
    _call = call
    _call_result = call_result

    def _id_tag_info(self, id_tag: str) -> dict[str, str]:
        return {"status": self.backend.authorize(id_tag)}

    @route("Authorize")
    def on_authorize(self, id_tag: str, **_: Any) -> object:
        return call_result.Authorize(id_tag_info=self._id_tag_info(id_tag))

    @route("BootNotification")
    def on_boot_notification(
        self, charge_point_vendor: str, charge_point_model: str, **_: Any
    ) -> object:
        decision = self.backend.boot(
            self.station_id, self.version, vendor=charge_point_vendor, model=charge_point_model
        )
        return call_result.BootNotification(
            current_time=self.backend.now_iso(),
            interval=decision.interval_s,
            status=decision.status,
        )

    @route("DataTransfer")
    def on_data_transfer(self, **_: Any) -> object:
        # §4.3: a recipient without an implementation for the vendorId answers UnknownVendorId.
        return call_result.DataTransfer(status="UnknownVendorId")

    @route("DiagnosticsStatusNotification")
    def on_diagnostics_status_notification(self, **_: Any) -> object:
        return call_result.DiagnosticsStatusNotification()

    @route("FirmwareStatusNotification")
    def on_firmware_status_notification(self, **_: Any) -> object:
        return call_result.FirmwareStatusNotification()

    @route("Heartbeat")
    def on_heartbeat(self, **_: Any) -> object:
        return call_result.Heartbeat(current_time=self.backend.now_iso())

    @route("MeterValues")
    def on_meter_values(
        self, meter_value: list[dict[str, Any]], transaction_id: int | None = None, **_: Any
    ) -> object:
        self.backend.meter_values(
            self.station_id,
            self.version,
            transaction_id=None if transaction_id is None else str(transaction_id),
            samples=read_samples(meter_value),
        )
        return call_result.MeterValues()

    @route("StartTransaction")
    def on_start_transaction(
        self, connector_id: int, id_tag: str, meter_start: int, timestamp: str, **_: Any
    ) -> object:
        transaction_id, status = self.backend.start_transaction(
            self.station_id,
            connector_id=connector_id,
            id_tag=id_tag,
            meter_start_wh=meter_start,
            timestamp=timestamp,
            connection=self.connection_no,
        )
        return call_result.StartTransaction(
            transaction_id=transaction_id, id_tag_info={"status": status}
        )

    @route("StatusNotification")
    def on_status_notification(self, **_: Any) -> object:
        return call_result.StatusNotification()

    @route("StopTransaction")
    def on_stop_transaction(
        self,
        meter_stop: int,
        timestamp: str,
        transaction_id: int,
        reason: str | None = None,
        id_tag: str | None = None,
        transaction_data: list[dict[str, Any]] | None = None,
        **_: Any,
    ) -> object:
        status = self.backend.stop_transaction(
            self.station_id,
            transaction_id=transaction_id,
            id_tag=id_tag,
            meter_stop_wh=meter_stop,
            timestamp=timestamp,
            reason=reason,
            samples=read_samples(transaction_data),
        )
        # §6.49: idTagInfo only when the request carried an idTag.
        id_tag_info = None if status is None else {"status": status}
        return call_result.StopTransaction(id_tag_info=id_tag_info)

    # -- Security Whitepaper (edition 3) messages ---------------------------------

    # LogStatusNotification, SecurityEventNotification, SignCertificate and
    # SignedFirmwareStatusNotification: fleetsim.csms.handlers_security
