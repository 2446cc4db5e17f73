"""The CSMS's side of external charging limits (2.0.1/2.1 part 2 K12/K13): a station
reports a limit a local EMS (or another external source) put on it, and its end.

A mixin placed first among the 2.x session bases; its handlers replace the plain
acknowledgements of :mod:`fleetsim.csms.handlers_v2` (``ocpp`` routes by method name).
Each report is a row in the ledger's ``station_events``: ``charging_limit`` (source,
EVSE and the first period's limit) and ``charging_limit_cleared`` (source, EVSE).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from fleetsim.csms.session import route

if TYPE_CHECKING:
    from fleetsim.csms.backend import Backend

__all__ = ["ExternalLimitsV2"]


class ExternalLimitsV2:
    """NotifyChargingLimit (K12), ClearedChargingLimit (K13)."""

    station_id: str
    backend: Backend
    _call_result: ClassVar[Any]

    def _limit_event(self, kind: str, detail: str) -> None:
        self.backend.ledger.record_event(self.station_id, kind, detail, self.backend.now_iso())

    @route("NotifyChargingLimit")
    def on_notify_charging_limit(self, charging_limit: dict[str, Any], evse_id: int | None = None,
                                 charging_schedule: list[dict[str, Any]] | None = None,
                                 **_: Any) -> object:
        detail = f"{charging_limit['charging_limit_source']} evse {evse_id or 0}"
        if charging_schedule:
            first = charging_schedule[0]
            period = first["charging_schedule_period"][0]
            detail += f" {period.get('limit')} {first['charging_rate_unit']}"
        self._limit_event("charging_limit", detail)
        return self._call_result.NotifyChargingLimit()

    @route("ClearedChargingLimit")
    def on_cleared_charging_limit(self, charging_limit_source: str, evse_id: int | None = None,
                                  **_: Any) -> object:
        self._limit_event("charging_limit_cleared", f"{charging_limit_source} evse {evse_id or 0}")
        return self._call_result.ClearedChargingLimit()
