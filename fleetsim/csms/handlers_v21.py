"""OCPP 2.1: the CSMS's answers to the station requests about money, swaps and schedules.

Written from the spec, independently of :mod:`fleetsim.station`. The ledger's
``station_events`` keep what a load test wants to check afterwards, one JSON detail each:

- ``cost``: a TransactionEvent's ``costDetails`` (transaction, tariff, currency, total);
- ``settlement``: NotifySettlement (transaction, PSP reference, status, amount, VAT number);
- ``battery_swap``: BatterySwap (event, requestId, serial numbers and SoC);
- ``priority_charging``: NotifyPriorityCharging (transaction, activated).

VatNumberValidation accepts an EU-format VAT number (two letters, 8–12 letters or digits)
and returns a company address made up from it (no VIES lookup: a load test must not query a
public registry); PullDynamicScheduleUpdate answers the limit this CSMS last set for the
station's dynamic profile (csms_commands ``UpdateDynamicSchedule``), Rejected if none.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson

from fleetsim.csms.session import StationSession, route

__all__ = ["V21Money"]

_VAT = re.compile(r"^[A-Z]{2}[0-9A-Z]{8,12}$")


class V21Money(StationSession):
    """Mixin of the 2.1 session: put it before the 2.0.1 handlers in the bases."""

    def _money_event(self, kind: str, detail: dict[str, Any]) -> None:
        self.backend.ledger.record_event(self.station_id, kind,
                                         orjson.dumps(detail).decode(), self.backend.now_iso())

    @route("TransactionEvent")
    def on_transaction_event(self, event_type: str, timestamp: str, seq_no: int,
                             transaction_info: dict[str, Any], offline: bool = False,
                             evse: dict[str, Any] | None = None,
                             id_token: dict[str, Any] | None = None,
                             meter_value: list[dict[str, Any]] | None = None, *,
                             cost_details: dict[str, Any] | None = None,
                             **kwargs: Any) -> object:
        answer = super().on_transaction_event(
            event_type=event_type, timestamp=timestamp, seq_no=seq_no,
            transaction_info=transaction_info, offline=offline, evse=evse, id_token=id_token,
            meter_value=meter_value, **kwargs)
        if cost_details is not None:
            info = transaction_info
            total = cost_details["total_cost"]
            self._money_event("cost", {"transactionId": info["transaction_id"],
                                 "tariffId": info.get("tariff_id"),
                                 "eventType": event_type,
                                 "currency": total["currency"], "typeOfCost": total["type_of_cost"],
                                 "exclTax": total["total"].get("excl_tax"),
                                 "inclTax": total["total"].get("incl_tax"),
                                 "energyWh": cost_details["total_usage"]["energy"]})
        return answer

    @route("NotifySettlement")
    def on_notify_settlement(self, psp_ref: str, status: str, settlement_amount: float,
                             settlement_time: str, transaction_id: str | None = None,
                             vat_number: str | None = None, **_: Any) -> object:
        self._money_event("settlement", {"transactionId": transaction_id, "pspRef": psp_ref,
                                   "status": status, "amount": settlement_amount,
                                   "at": settlement_time, "vatNumber": vat_number})
        digest = hashlib.blake2b(f"{self.station_id}/{psp_ref}".encode(), digest_size=5)
        receipt = f"R{digest.hexdigest().upper()}"
        # no receiptUrl: ocpp's key conversion would spell it receiptURL, which 2.1's schema
        # does not allow
        return self._call_result.NotifySettlement(receipt_id=receipt)

    @route("VatNumberValidation")
    def on_vat_number_validation(self, vat_number: str, evse_id: int | None = None,
                                 **_: Any) -> object:
        result = self._call_result
        if not _VAT.match(vat_number):
            return result.VatNumberValidation(
                vat_number=vat_number, evse_id=evse_id, status="Rejected",
                status_info={"reason_code": "InvalidFormat"})
        company = {"name": f"Company {vat_number}", "address1": "1 Charging Lane",
                   "city": "Amsterdam", "postal_code": "1011 AA", "country": vat_number[:2]}
        return result.VatNumberValidation(vat_number=vat_number, evse_id=evse_id,
                                          status="Accepted", company=company)

    @route("PullDynamicScheduleUpdate")
    def on_pull_dynamic_schedule_update(self, charging_profile_id: int, **_: Any) -> object:
        result = self._call_result
        limit = self.backend.dynamic_limits.get((self.station_id, charging_profile_id))
        if limit is None:
            return result.PullDynamicScheduleUpdate(
                status="Rejected", status_info={"reason_code": "UnknownProfile"})
        update = {"setpoint": limit} if limit < 0 else {"limit": limit}
        return result.PullDynamicScheduleUpdate(status="Accepted", schedule_update=update)

    @route("BatterySwap")
    def on_battery_swap(self, event_type: str, request_id: int, id_token: dict[str, Any],
                        battery_data: list[dict[str, Any]], **_: Any) -> object:
        self._money_event("battery_swap", {"eventType": event_type, "requestId": request_id,
                                     "idToken": id_token["id_token"],
                                     "batteries": [[b["serial_number"], b["soc"]]
                                                   for b in battery_data]})
        return self._call_result.BatterySwap()

    @route("NotifyPriorityCharging")
    def on_notify_priority_charging(self, transaction_id: str, activated: bool,
                                    **_: Any) -> object:
        self._money_event("priority_charging", {"transactionId": transaction_id,
                                          "activated": activated})
        return self._call_result.NotifyPriorityCharging()
