"""The CSMS's side of 2.0.1 monitoring and diagnostics (part 2 §N): what stations report
is recorded in the ledger's ``station_events``, one row per event.

A mixin placed first among the 2.x session bases; its handlers replace the plain
acknowledgements of :mod:`fleetsim.csms.handlers_v2` (``ocpp`` routes by method name).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from fleetsim.csms.session import route

if TYPE_CHECKING:
    from fleetsim.csms.backend import Backend

__all__ = ["MonitoringV2"]


class MonitoringV2:
    """NotifyEvent (N07/N08), NotifyMonitoringReport (N02), NotifyCustomerInformation (N09)."""

    station_id: str
    backend: Backend
    _call_result: ClassVar[Any]

    def _record(self, kind: str, detail: str) -> None:
        self.backend.ledger.record_event(self.station_id, kind, detail, self.backend.now_iso())

    @route("NotifyEvent")
    def on_notify_event(self, event_data: list[dict[str, Any]], **_: Any) -> object:
        for e in event_data:
            what = f"{e['component']['name']}.{e['variable']['name']}:{e['trigger']}"
            if e.get("cleared"):
                what += ":cleared"
            self._record("notify_event", what)
        return self._call_result.NotifyEvent()

    @route("NotifyMonitoringReport")
    def on_notify_monitoring_report(self, request_id: int, seq_no: int,
                                    monitor: list[dict[str, Any]] | None = None,
                                    **_: Any) -> object:
        self._record("monitoring_report", f"{request_id}/{seq_no}:{len(monitor or ())}")
        return self._call_result.NotifyMonitoringReport()

    @route("NotifyCustomerInformation")
    def on_notify_customer_information(self, request_id: int, data: str, **_: Any) -> object:
        self._record("customer_information", str(request_id))  # never the data itself
        return self._call_result.NotifyCustomerInformation()
