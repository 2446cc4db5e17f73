"""A small OCPP 2.0.1/2.1 device model: components, variables, reports (part 2 §B, appendix).

GetVariables / SetVariables (B06, B05) read and write the *Actual* attribute;
other attribute types are NotSupportedAttributeType. An unknown component is
UnknownComponent, a known component without the variable UnknownVariable, a
ReadOnly variable Rejected on write, a malformed value Rejected. Variables with
behaviour change the station at once (OCPPCommCtrlr.HeartbeatInterval,
SampledDataCtrlr.TxUpdatedInterval/TxUpdatedMeasurands, AlignedDataCtrlr.Interval,
AuthCtrlr.AuthorizeRemoteStart, OCPPCommCtrlr.MessageAttempts…); the others are
remembered. GetBaseReport / GetReport (B07, B08) answer with report entries the
station sends in NotifyReport parts of DeviceDataCtrlr.ItemsPerMessage[GetReport].
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fleetsim.station import config_keys as ck
from fleetsim.station import localauth as la
from fleetsim.station.limits import MAX_PERIODS, MAX_STACK_LEVEL

if TYPE_CHECKING:
    from fleetsim.station.core import StationCore

__all__ = ["ITEMS_PER_MESSAGE", "Var", "find", "get_value", "report", "set_value", "variables"]

ITEMS_PER_MESSAGE = 20   # DeviceDataCtrlr.ItemsPerMessage[GetReport|GetVariables|SetVariables]
BYTES_PER_MESSAGE = 65_000

Getter = Callable[["StationCore"], str]
Setter = Callable[["StationCore", Any, float], None]
_KIND = {"integer": "int", "boolean": "bool", "MemberList": "csl", "SequenceList": "csl",
         "OptionList": "text", "string": "text", "decimal": "text"}


@dataclass(frozen=True, slots=True)
class Var:
    component: str
    variable: str
    data_type: str = "integer"         # DataEnumType
    mutability: str = "ReadWrite"      # ReadOnly, ReadWrite
    default: str = ""
    evse: int | None = None
    connector: int | None = None
    instance: str | None = None        # the variable's instance
    get: Getter | None = None
    set: Setter | None = None
    values: str | None = None          # valuesList for list types
    unit: str | None = None

    @property
    def key(self) -> tuple[str, int | None, int | None, str, str | None]:
        return (self.component, self.evse, self.connector, self.variable, self.instance)

    def component_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.component}
        if self.evse is not None:
            out["evse"] = {"id": self.evse} | (
                {} if self.connector is None else {"connectorId": self.connector})
        return out

    def variable_json(self) -> dict[str, Any]:
        return {"name": self.variable} | ({} if self.instance is None
                                          else {"instance": self.instance})


def _b(v: bool) -> str:
    return "true" if v else "false"


def _status(i: int) -> Getter:
    return lambda st: st.connectors[i - 1].status


def _available(i: int) -> Getter:
    return lambda st: _b(st.connectors[i - 1].operative)


def _power(i: int) -> Getter:
    return lambda st: f"{st.connectors[i - 1].power_w:.1f}"


def _set_offline_threshold(st: StationCore, v: int, t: float) -> None:
    st._offline_threshold_s = float(v)


def _set_password(st: StationCore, v: str, t: float) -> None:
    from fleetsim.station.security import set_password

    if not set_password(st, v, t):  # A01: 16-40 characters
        raise ValueError("password length")


def _backoff_setter(name: str) -> Setter:
    """A setter of one OCPPCommCtrlr.RetryBackOff* value; it applies from the next wait."""
    def set_value(st: StationCore, v: int, t: float) -> None:
        value: Any = v if name == "repeat_times" else float(v)
        st._backoff = dataclasses.replace(st.retry_backoff, **{name: value})
    return set_value


def _evse_vars(n: int) -> list[Var]:
    out: list[Var] = []
    for i in range(1, n + 1):  # each connector is its own EVSE (evseId = n, connectorId = 1)
        out += [
            Var("EVSE", "AvailabilityState", "OptionList", "ReadOnly", evse=i, get=_status(i),
                values="Available,Occupied,Reserved,Unavailable,Faulted"),
            Var("EVSE", "Available", "boolean", "ReadOnly", evse=i, get=_available(i)),
            Var("EVSE", "Power", "decimal", "ReadOnly", evse=i, unit="W", get=_power(i)),
            Var("Connector", "AvailabilityState", "OptionList", "ReadOnly", evse=i, connector=1,
                get=_status(i), values="Available,Occupied,Reserved,Unavailable,Faulted"),
            Var("Connector", "ConnectorType", "string", "ReadOnly", "cType2", evse=i,
                connector=1),
        ]
    return out


@functools.cache
def variables(connectors: int) -> tuple[Var, ...]:
    """Every variable of a station with ``connectors`` EVSEs (shared, immutable)."""
    k = ck.KEYS
    return (
        Var("OCPPCommCtrlr", "HeartbeatInterval", get=k["HeartbeatInterval"].get,
            set=k["HeartbeatInterval"].set, unit="s"),
        Var("OCPPCommCtrlr", "MessageAttempts", instance="TransactionEvent",
            get=k["TransactionMessageAttempts"].get, set=k["TransactionMessageAttempts"].set),
        Var("OCPPCommCtrlr", "MessageAttemptInterval", instance="TransactionEvent", unit="s",
            get=k["TransactionMessageRetryInterval"].get,
            set=k["TransactionMessageRetryInterval"].set),
        Var("OCPPCommCtrlr", "MessageTimeout", mutability="ReadOnly", instance="Default",
            unit="s", get=lambda st: str(round(st.cfg.call_timeout_wall_s))),
        Var("OCPPCommCtrlr", "OfflineThreshold", unit="s",
            get=lambda st: str(round(st.offline_threshold_s)), set=_set_offline_threshold),
        Var("OCPPCommCtrlr", "RetryBackOffWaitMinimum", unit="s",
            get=lambda st: str(round(st.retry_backoff.wait_minimum_s)),
            set=_backoff_setter("wait_minimum_s")),
        Var("OCPPCommCtrlr", "RetryBackOffRandomRange", unit="s",
            get=lambda st: str(round(st.retry_backoff.random_range_s)),
            set=_backoff_setter("random_range_s")),
        Var("OCPPCommCtrlr", "RetryBackOffRepeatTimes",
            get=lambda st: str(st.retry_backoff.repeat_times),
            set=_backoff_setter("repeat_times")),
        Var("OCPPCommCtrlr", "WebSocketPingInterval", unit="s",
            get=k["WebSocketPingInterval"].get, set=k["WebSocketPingInterval"].set),
        Var("OCPPCommCtrlr", "ResetRetries", default="1"),
        Var("OCPPCommCtrlr", "QueueAllMessages", "boolean", "ReadOnly", "false"),
        Var("SampledDataCtrlr", "Enabled", "boolean", default="true"),
        Var("SampledDataCtrlr", "TxUpdatedInterval", unit="s",
            get=k["MeterValueSampleInterval"].get, set=k["MeterValueSampleInterval"].set),
        Var("SampledDataCtrlr", "TxUpdatedMeasurands", "MemberList",
            get=k["MeterValuesSampledData"].get, set=k["MeterValuesSampledData"].set,
            values=",".join(sorted(ck.MEASURANDS))),
        Var("SampledDataCtrlr", "TxStartedMeasurands", "MemberList",
            default="Energy.Active.Import.Register", values=",".join(sorted(ck.MEASURANDS))),
        Var("SampledDataCtrlr", "TxEndedMeasurands", "MemberList",
            default="Energy.Active.Import.Register", values=",".join(sorted(ck.MEASURANDS))),
        Var("SampledDataCtrlr", "TxEndedInterval", default="0", unit="s"),
        Var("AlignedDataCtrlr", "Enabled", "boolean", default="true"),
        Var("AlignedDataCtrlr", "Interval", unit="s", get=k["ClockAlignedDataInterval"].get,
            set=k["ClockAlignedDataInterval"].set),
        Var("AlignedDataCtrlr", "Measurands", "MemberList",
            default="Energy.Active.Import.Register", values=",".join(sorted(ck.MEASURANDS))),
        Var("AuthCtrlr", "Enabled", "boolean", default="true"),
        Var("AuthCtrlr", "AuthorizeRemoteStart", "boolean",
            get=k["AuthorizeRemoteTxRequests"].get, set=k["AuthorizeRemoteTxRequests"].set),
        Var("AuthCtrlr", "LocalAuthorizeOffline", "boolean", get=la.getter(la.Flag.OFFLINE),
            set=la.setter(la.Flag.OFFLINE)),
        Var("AuthCtrlr", "LocalPreAuthorize", "boolean", get=la.getter(la.Flag.PRE),
            set=la.setter(la.Flag.PRE)),
        Var("AuthCtrlr", "MasterPassGroupId", "string",
            get=la.master_pass_group, set=la.set_master_pass_group),
        Var("AuthCacheCtrlr", "Enabled", "boolean", get=la.getter(la.Flag.CACHE),
            set=la.setter(la.Flag.CACHE)),
        Var("TxCtrlr", "EVConnectionTimeOut", default="60", unit="s"),
        Var("TxCtrlr", "StopTxOnEVSideDisconnect", "boolean", "ReadOnly", "true"),
        Var("TxCtrlr", "StopTxOnInvalidId", "boolean", default="true"),
        Var("TxCtrlr", "TxStartPoint", "MemberList", "ReadOnly", "EVConnected",
            values="ParkingBayOccupancy,EVConnected,Authorized,PowerPathClosed,EnergyTransfer"),
        Var("TxCtrlr", "TxStopPoint", "MemberList", "ReadOnly", "EVConnected",
            values="ParkingBayOccupancy,EVConnected,Authorized,PowerPathClosed,EnergyTransfer"),
        Var("ChargingStation", "AvailabilityState", "OptionList", "ReadOnly",
            get=lambda st: "Available" if any(c.operative for c in st.connectors)
            else "Unavailable", values="Available,Unavailable"),
        Var("ChargingStation", "Available", "boolean", "ReadOnly", "true"),
        Var("DeviceDataCtrlr", "ItemsPerMessage", mutability="ReadOnly", instance="GetReport",
            default=str(ITEMS_PER_MESSAGE)),
        Var("DeviceDataCtrlr", "ItemsPerMessage", mutability="ReadOnly",
            instance="GetVariables", default=str(ITEMS_PER_MESSAGE)),
        Var("DeviceDataCtrlr", "ItemsPerMessage", mutability="ReadOnly",
            instance="SetVariables", default=str(ITEMS_PER_MESSAGE)),
        Var("DeviceDataCtrlr", "BytesPerMessage", mutability="ReadOnly", instance="GetReport",
            default=str(BYTES_PER_MESSAGE)),
        Var("SmartChargingCtrlr", "Enabled", "boolean", default="true"),
        Var("SmartChargingCtrlr", "Entries", mutability="ReadOnly", instance="ChargingProfiles",
            get=lambda st: str(0 if st.limits is None else len(st.limits.profiles))),
        Var("SmartChargingCtrlr", "ProfileStackLevel", mutability="ReadOnly",
            default=str(MAX_STACK_LEVEL)),
        Var("SmartChargingCtrlr", "PeriodsPerSchedule", mutability="ReadOnly",
            default=str(MAX_PERIODS)),
        Var("SmartChargingCtrlr", "LimitChangeSignificance", "decimal", default="1.0"),
        Var("SmartChargingCtrlr", "RateUnit", "MemberList", "ReadOnly", "A,W", values="A,W"),
        Var("SmartChargingCtrlr", "ExternalControlSignalsEnabled", "boolean", "ReadOnly",
            "false"),
        Var("LocalAuthListCtrlr", "Enabled", "boolean", get=la.getter(la.Flag.LIST),
            set=la.setter(la.Flag.LIST)),
        Var("LocalAuthListCtrlr", "Entries", mutability="ReadOnly",
            get=lambda st: str(len((st.extra or {}).get("local_list", (0, {}))[1]))),
        Var("LocalAuthListCtrlr", "ItemsPerMessage", mutability="ReadOnly",
            default=str(ck.SEND_LIST_MAX)),
        Var("LocalAuthListCtrlr", "BytesPerMessage", mutability="ReadOnly",
            default=str(BYTES_PER_MESSAGE)),
        Var("ReservationCtrlr", "Enabled", "boolean", default="true"),
        Var("ReservationCtrlr", "NonEvseSpecific", "boolean", "ReadOnly", "true"),
        Var("DisplayMessageCtrlr", "Enabled", "boolean", default="true"),
        Var("DisplayMessageCtrlr", "DisplayMessages", mutability="ReadOnly", default="16"),
        Var("DisplayMessageCtrlr", "SupportedFormats", "MemberList", "ReadOnly",
            "ASCII,UTF8", values="ASCII,HTML,URI,UTF8"),
        Var("DisplayMessageCtrlr", "SupportedPriorities", "MemberList", "ReadOnly",
            "AlwaysFront,InFront,NormalCycle", values="AlwaysFront,InFront,NormalCycle"),
        Var("TariffCostCtrlr", "Enabled", "boolean", instance="Cost", default="true"),
        Var("TariffCostCtrlr", "Currency", "string", default="EUR"),
        Var("SecurityCtrlr", "Identity", "string", "ReadOnly",
            get=lambda st: st.station_id),
        Var("SecurityCtrlr", "SecurityProfile", mutability="ReadOnly",
            get=lambda st: str(st.cfg.security_profile)),
        Var("SecurityCtrlr", "OrganizationName", "string", default="fleetsim"),
        Var("SecurityCtrlr", "BasicAuthPassword", "string", "WriteOnly",
            get=lambda st: "", set=_set_password),
        *_evse_vars(connectors),
    )


@functools.cache
def _index(connectors: int) -> tuple[dict[tuple[Any, ...], Var], set[tuple[Any, ...]]]:
    vs = variables(connectors)
    return {v.key: v for v in vs}, {(v.component, v.evse, v.connector) for v in vs}


def find(st: StationCore, component: dict[str, Any],
         variable: dict[str, Any]) -> tuple[str, Var | None]:
    """(status, variable): Accepted, UnknownComponent or UnknownVariable."""
    by_key, comps = _index(len(st.connectors))
    evse = component.get("evse") or {}
    cid = evse.get("connectorId")
    comp = (component["name"], evse.get("id"), cid)
    if component.get("instance") is not None or comp not in comps:
        return "UnknownComponent", None
    v = by_key.get((*comp, variable["name"], variable.get("instance")))
    return ("Accepted", v) if v is not None else ("UnknownVariable", None)


def get_value(st: StationCore, v: Var) -> str:
    if v.get is not None:
        return v.get(st)
    stored = (st.extra or {}).get("vars", {})
    return str(stored.get(v.key, v.default))


def set_value(st: StationCore, v: Var, value: str, t: float) -> str:
    """Accepted, or Rejected (read-only or malformed)."""
    if v.mutability == "ReadOnly":
        return "Rejected"
    try:
        parsed = ck.parse_value(_KIND[v.data_type], value)
        if v.set is not None:
            v.set(st, parsed, t)
    except ValueError:
        return "Rejected"
    if v.set is None:
        from fleetsim.station.lifecycle import extra

        extra(st).setdefault("vars", {})[v.key] = value.strip()
    return "Accepted"


def report_entry(st: StationCore, v: Var) -> dict[str, Any]:
    """A ReportDataType for NotifyReport."""
    chars: dict[str, Any] = {"dataType": v.data_type, "supportsMonitoring": False}
    if v.unit:
        chars["unit"] = v.unit
    if v.values:
        chars["valuesList"] = v.values[:1000]
    return {"component": v.component_json(), "variable": v.variable_json(),
            "variableAttribute": [{"type": "Actual", "value": get_value(st, v)[:2500],
                                   "mutability": v.mutability, "persistent": True,
                                   "constant": False}],
            "variableCharacteristics": chars}


def report(st: StationCore, chosen: Iterable[Var]) -> list[dict[str, Any]]:
    return [report_entry(st, v) for v in chosen]
