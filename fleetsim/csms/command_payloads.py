"""The payload of each command the embedded CSMS can send, per OCPP version.

Written from the spec independently of :mod:`fleetsim.station` (the two sides
must not share protocol code). Keys are camelCase, as on the wire; the session
turns them into the ``ocpp`` library's request dataclasses. Times are
*simulated* ISO timestamps: the stations evaluate charging profiles on the
clock they stamp their messages with.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["CommandContext", "build"]

# 1.6 configuration keys → 2.x device-model variables for GetConfiguration/ChangeConfiguration
_VARIABLES = {
    "HeartbeatInterval": ("OCPPCommCtrlr", "HeartbeatInterval"),
    "MeterValueSampleInterval": ("SampledDataCtrlr", "TxUpdatedInterval"),
    "MeterValuesSampledData": ("SampledDataCtrlr", "TxUpdatedMeasurands"),
    "ClockAlignedDataInterval": ("AlignedDataCtrlr", "Interval"),
    "AuthorizeRemoteTxRequests": ("AuthCtrlr", "AuthorizeRemoteStart"),
    "ConnectionTimeOut": ("TxCtrlr", "EVConnectionTimeOut"),
}
_V21_ONLY = frozenset({"SetDERControl", "GetDERControl", "ClearDERControl", "AFRRSignal"})
# 2.1 tariffs, priority charging, dynamic schedules, battery swap, web payment
_V21_MONEY = frozenset({"SetDefaultTariff", "GetTariffs", "ClearTariffs",
                        "ChangeTransactionTariff", "UsePriorityCharging", "UpdateDynamicSchedule",
                        "RequestBatterySwap", "NotifyWebPaymentStarted"})
_PROFILE_ID = 9001  # the embedded CSMS's own profile id: a later command replaces it
DYNAMIC_PROFILE_ID = 9002   # its dynamic profile (2.1), updated by UpdateDynamicSchedule
_PRIORITY_PROFILE_ID = 9003  # its PriorityCharging profile (2.1)


class CommandContext:
    """What a payload may depend on besides the command's parameters."""

    def __init__(self, *, now_iso: str, id_tag: str, remote_start_id: int,
                 transaction_id: str | None) -> None:
        self.now_iso, self.id_tag = now_iso, id_tag
        self.remote_start_id, self.transaction_id = remote_start_id, transaction_id


def build(action: str, params: Mapping[str, Any], *, v16: bool,
          ctx: CommandContext, v21: bool = False) -> tuple[str, dict[str, Any]] | None:
    """(OCPP action, payload) for a command, or None if it does not apply to this station."""
    p = params
    if action in _V21_MONEY or (action == "SetChargingProfile" and (
            p.get("purpose") == "priority" or p.get("kind") == "dynamic")):
        return _money(action, p, ctx) if v21 else None
    if action in _V21_ONLY or (action == "SetChargingProfile" and float(p["limit"]) < 0):
        if not v21:
            return None  # DER control, aFRR and discharge exist only in 2.1
        if action != "SetChargingProfile":
            return _der(action, p, ctx)
    if action == "RemoteStart":
        tag = str(p.get("id_tag") or ctx.id_tag)
        if v16:
            return "RemoteStartTransaction", {"idTag": tag[:20]}
        return "RequestStartTransaction", {"idToken": {"idToken": tag[:36], "type": "Central"},
                                           "remoteStartId": ctx.remote_start_id}
    if action == "RemoteStop":
        if ctx.transaction_id is None:
            return None
        if v16:
            return "RemoteStopTransaction", {"transactionId": int(ctx.transaction_id)}
        return "RequestStopTransaction", {"transactionId": ctx.transaction_id}
    if action == "SetChargingProfile":
        return _set_profile(p, v16, ctx)
    if action == "ClearChargingProfile":
        purpose = _purpose(p, v16)
        if v16:
            return "ClearChargingProfile", {"chargingProfilePurpose": purpose}
        return "ClearChargingProfile", {"chargingProfileCriteria": {
            "chargingProfilePurpose": purpose}}
    if action == "Reset":
        kind = str(p.get("type", "Soft"))
        if v16:
            return "Reset", {"type": kind if kind in ("Soft", "Hard") else "Soft"}
        return "Reset", {"type": kind if kind in ("Immediate", "OnIdle") else "Immediate"}
    if action == "ChangeAvailability":
        operative = bool(p.get("operative", True))
        if v16:
            return "ChangeAvailability", {"connectorId": 0,
                                          "type": "Operative" if operative else "Inoperative"}
        return "ChangeAvailability", {"operationalStatus": "Operative" if operative
                                      else "Inoperative"}
    if action == "GetConfiguration":
        keys = list(p.get("keys") or ["HeartbeatInterval", "MeterValueSampleInterval"])
        if v16:
            return "GetConfiguration", {"key": keys}
        return "GetVariables", {"getVariableData": [
            {"component": {"name": _VARIABLES[k][0]}, "variable": {"name": _VARIABLES[k][1]}}
            for k in keys if k in _VARIABLES]}
    if action == "ChangeConfiguration":
        key, value = str(p["key"]), str(p["value"])
        if v16:
            return "ChangeConfiguration", {"key": key, "value": value}
        if key not in _VARIABLES:
            return None
        comp, var = _VARIABLES[key]
        return "SetVariables", {"setVariableData": [
            {"component": {"name": comp}, "variable": {"name": var}, "attributeValue": value}]}
    if action == "TriggerMessage":
        return "TriggerMessage", {"requestedMessage": str(p.get("message", "Heartbeat"))}
    if action == "GetCompositeSchedule":
        duration = int(p.get("duration_s", 3600))
        if v16:
            return "GetCompositeSchedule", {"connectorId": 1, "duration": duration}
        return "GetCompositeSchedule", {"evseId": 1, "duration": duration}
    if action == "DataTransfer":
        return "DataTransfer", {"vendorId": str(p.get("vendor_id", "fleetsim"))}
    if action == "GetBaseReport":
        return None if v16 else ("GetBaseReport", {"requestId": ctx.remote_start_id,
                                                   "reportBase": "FullInventory"})
    if action == "UnlockConnector":
        if v16:
            return "UnlockConnector", {"connectorId": 1}
        return "UnlockConnector", {"evseId": 1, "connectorId": 1}
    raise ValueError(f"unknown command {action}")


def _purpose(p: Mapping[str, Any], v16: bool) -> str:
    if p.get("purpose", "max") == "default":
        return "TxDefaultProfile"
    return "ChargePointMaxProfile" if v16 else "ChargingStationMaxProfile"


def _set_profile(p: Mapping[str, Any], v16: bool,
                 ctx: CommandContext) -> tuple[str, dict[str, Any]]:
    schedule: dict[str, Any] = {"startSchedule": ctx.now_iso, "chargingRateUnit": p["unit"],
                                "chargingSchedulePeriod": [{"startPeriod": 0,
                                                            "limit": float(p["limit"])}]}
    if p.get("duration_s"):
        schedule["duration"] = int(p["duration_s"])
    purpose = _purpose(p, v16)
    level = 8 if purpose != "TxDefaultProfile" else 0
    if v16:
        return "SetChargingProfile", {"connectorId": 0, "csChargingProfiles": {
            "chargingProfileId": _PROFILE_ID, "stackLevel": level,
            "chargingProfilePurpose": purpose, "chargingProfileKind": "Absolute",
            "chargingSchedule": schedule}}
    if float(p["limit"]) < 0:  # 2.1 part 2 §Q: V2X discharge at a central setpoint
        period = schedule["chargingSchedulePeriod"][0]
        period["setpoint"] = period.pop("limit")
        period["operationMode"] = "CentralSetpoint"
    return "SetChargingProfile", {"evseId": 0, "chargingProfile": {
        "id": _PROFILE_ID, "stackLevel": level, "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Absolute", "chargingSchedule": [{"id": 1, **schedule}]}}


def _der(action: str, p: Mapping[str, Any], ctx: CommandContext) -> tuple[str, dict[str, Any]]:
    """2.1 DER control (part 2 §R) and AFRRSignal (§Q11) requests."""
    if action == "AFRRSignal":
        return "AFRRSignal", {"timestamp": ctx.now_iso, "signal": int(p.get("signal", -100))}
    if action == "GetDERControl":
        return "GetDERControl", {"requestId": ctx.remote_start_id}
    kind = str(p.get("control", "LimitMaxDischarge"))
    if action == "ClearDERControl":
        return "ClearDERControl", {"isDefault": False, "controlType": kind}
    timing: dict[str, Any] = {"startTime": ctx.now_iso}
    if p.get("duration_s"):
        timing["duration"] = float(p["duration_s"])
    body: dict[str, Any] = {"isDefault": False, "controlId": f"fleetsim-{kind}",
                            "controlType": kind}
    if kind == "LimitMaxDischarge":
        body["limitMaxDischarge"] = {"priority": 0,
                                     "pctMaxDischargePower": float(p.get("pct", 50)), **timing}
    else:  # a curve: one point at x (% of nominal), y 0
        body["curve"] = {"priority": 0, "yUnit": "Not_Applicable", **timing,
                         "curveData": [{"x": float(p.get("x", 110)), "y": 0.0}]}
    return "SetDERControl", body


def tariff(p: Mapping[str, Any]) -> dict[str, Any]:
    """A 2.1 TariffType from a command's prices (per kWh, per charging/idle minute, fixed)."""
    tax = [{"type": "VAT", "tax": float(p["tax_pct"])}] if p.get("tax_pct") else None
    out: dict[str, Any] = {"tariffId": str(p.get("tariff_id", "fleetsim-default"))[:60],
                           "currency": str(p.get("currency", "EUR"))[:3]}
    for key, field, name in (("price_kwh", "priceKwh", "energy"),
                             ("price_min", "priceMinute", "chargingTime"),
                             ("idle_min", "priceMinute", "idleTime"),
                             ("fixed", "priceFixed", "fixedFee")):
        if p.get(key) is not None:
            out[name] = {"prices": [{field: float(p[key])}], **({"taxRates": tax} if tax else {})}
    return out


def _money(action: str, p: Mapping[str, Any],
           ctx: CommandContext) -> tuple[str, dict[str, Any]] | None:
    """2.1 tariffs (§I), priority charging and dynamic schedules (§K), battery swap."""
    tx = ctx.transaction_id
    if action == "SetDefaultTariff":
        return "SetDefaultTariff", {"evseId": int(p.get("evse", 0)), "tariff": tariff(p)}
    if action == "GetTariffs":
        return "GetTariffs", {"evseId": int(p.get("evse", 0))}
    if action == "ClearTariffs":
        return "ClearTariffs", ({"tariffIds": [str(p["tariff_id"])]} if p.get("tariff_id")
                                else {})
    if action == "ChangeTransactionTariff":
        return None if tx is None else ("ChangeTransactionTariff", {
            "transactionId": tx, "tariff": tariff(p)})
    if action == "UsePriorityCharging":
        return None if tx is None else ("UsePriorityCharging", {
            "transactionId": tx, "activate": bool(p.get("activate", True))})
    if action == "UpdateDynamicSchedule":
        value = float(p["limit"])
        update = {"setpoint": value} if value < 0 else {"limit": value}
        return "UpdateDynamicSchedule", {"chargingProfileId": DYNAMIC_PROFILE_ID,
                                         "scheduleUpdate": update}
    if action == "RequestBatterySwap":
        return "RequestBatterySwap", {"requestId": ctx.remote_start_id,
                                      "idToken": {"idToken": ctx.id_tag[:36], "type": "Central"}}
    if action == "NotifyWebPaymentStarted":
        return "NotifyWebPaymentStarted", {"evseId": int(p.get("evse", 1)),
                                           "timeout": int(p.get("timeout_s", 120))}
    # SetChargingProfile: a PriorityCharging profile, or a Dynamic one
    priority = p.get("purpose") == "priority"
    period: dict[str, Any] = {"startPeriod": 0, "limit": float(p["limit"])}
    profile: dict[str, Any] = {
        "id": _PRIORITY_PROFILE_ID if priority else DYNAMIC_PROFILE_ID,
        "stackLevel": 0 if priority else 1,
        "chargingProfilePurpose": "PriorityCharging" if priority else "TxDefaultProfile",
        "chargingProfileKind": "Dynamic" if p.get("kind") == "dynamic" else "Absolute",
        "chargingSchedule": [{"id": 1, "chargingRateUnit": p["unit"],
                              "chargingSchedulePeriod": [period]}]}
    if p.get("kind") == "dynamic":
        if p.get("update_interval_s"):
            profile["dynUpdateInterval"] = int(p["update_interval_s"])
    else:
        profile["chargingSchedule"][0]["startSchedule"] = ctx.now_iso
    return "SetChargingProfile", {"evseId": 0, "chargingProfile": profile}
