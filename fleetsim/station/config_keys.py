"""OCPP 1.6 configuration keys (§9 "Standard Configuration Key Names & Values").

GetConfiguration reads them, ChangeConfiguration writes them (§5.3, §5.8):
an unknown key is NotSupported, a read-only one Rejected, a malformed value
Rejected. Keys with behaviour change the station at once (HeartbeatInterval
re-arms the heartbeat, MeterValueSampleInterval the next sample,
MeterValuesSampledData the measurands, …); the others are remembered and
reported back. Values are strings on the wire, as the spec has them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fleetsim.station import localauth as la
from fleetsim.station.limits import MAX_PERIODS, MAX_PROFILES, MAX_STACK_LEVEL

if TYPE_CHECKING:
    from fleetsim.station.core import StationCore

__all__ = ["KEYS", "MEASURANDS", "change_configuration", "get_configuration", "parse_value"]

MEASURANDS = frozenset({
    "Current.Export", "Current.Import", "Current.Offered", "Energy.Active.Export.Register",
    "Energy.Active.Import.Register", "Energy.Reactive.Export.Register",
    "Energy.Reactive.Import.Register", "Energy.Active.Export.Interval",
    "Energy.Active.Import.Interval", "Energy.Reactive.Export.Interval",
    "Energy.Reactive.Import.Interval", "Frequency", "Power.Active.Export",
    "Power.Active.Import", "Power.Factor", "Power.Offered", "Power.Reactive.Export",
    "Power.Reactive.Import", "RPM", "SoC", "Temperature", "Voltage"})
MAX_KEYS = 64             # GetConfigurationMaxKeys
LOCAL_LIST_MAX = 1000     # LocalAuthListMaxLength
SEND_LIST_MAX = 250       # SendLocalListMaxLength
FEATURES = "Core,FirmwareManagement,LocalAuthListManagement,Reservation,SmartCharging,RemoteTrigger"

Getter = Callable[["StationCore"], str]
Setter = Callable[["StationCore", Any, float], None]


@dataclass(frozen=True, slots=True)
class Key:
    name: str
    kind: str                        # int, bool, csl (comma-separated list), text
    default: str = ""
    get: Getter | None = None        # None: the stored value (or default)
    set: Setter | None = None        # None with readonly False: stored only
    readonly: bool = False


def parse_value(kind: str, text: str) -> Any:
    """A configuration value from its text; ValueError if malformed."""
    if kind == "int":
        v = int(text.strip())
        if v < 0:
            raise ValueError("negative")
        return v
    if kind == "bool":
        low = text.strip().lower()
        if low not in ("true", "false"):
            raise ValueError("not a boolean")
        return low == "true"
    if kind == "csl":
        return tuple(x.strip() for x in text.split(",") if x.strip())
    return text


def _b(v: bool) -> str:
    return "true" if v else "false"


def _set_heartbeat(st: StationCore, v: int, t: float) -> None:
    st.heartbeat_override_s = float(v) if v > 0 else None
    if st.booted and v > 0:
        st.set_heartbeat(float(v), t)


def _set_sample(st: StationCore, v: int, t: float) -> None:
    # wall seconds whatever the time_factor: a CSMS that sets 5 s means 5 s between readings
    st.meter_interval_s = st.meter_wall_s = float(v) if v > 0 else float("inf")  # 0: none
    for c in st.connectors:
        if c.tx is not None and v > 0:
            st.arm_meter(c, t)


def _set_measurands(st: StationCore, v: tuple[str, ...], t: float) -> None:
    if not set(v) <= MEASURANDS:
        raise ValueError("unknown measurand")
    st.measurands = v


def _set_aligned(st: StationCore, v: int, t: float) -> None:
    from fleetsim.station.lifecycle import start_aligned

    st.aligned_interval_s = float(v)
    start_aligned(st, t)


def _set_attempts(st: StationCore, v: int, t: float) -> None:
    st.tx_attempts = max(1, v)


def _set_retry(st: StationCore, v: int, t: float) -> None:
    st.tx_retry_s = float(v)


def _set_remote_auth(st: StationCore, v: bool, t: float) -> None:
    st.authorize_remote = v


def _set_ping(st: StationCore, v: int, t: float) -> None:
    st._ping_interval_s = float(v)  # applies from the next connection


def _set_auth_key(st: StationCore, v: str, t: float) -> None:
    from fleetsim.station.security import set_password

    if not set_password(st, v, t):  # Security Whitepaper: 16-40 characters
        raise ValueError("password length")


def _keys() -> dict[str, Key]:
    ks = [
        Key("HeartbeatInterval", "int", get=lambda st: str(round(
            st.heartbeat_override_s or st.cfg.heartbeat_interval_s
            or st.heartbeat_wall_s)), set=_set_heartbeat),
        Key("MeterValueSampleInterval", "int", get=lambda st: str(
            0 if st.meter_interval_s == float("inf") else round(st.meter_interval_s)),
            set=_set_sample),
        Key("MeterValuesSampledData", "csl", get=lambda st: ",".join(st.measurands),
            set=_set_measurands),
        Key("ClockAlignedDataInterval", "int", get=lambda st: str(round(st.aligned_interval_s)),
            set=_set_aligned),
        Key("AuthorizeRemoteTxRequests", "bool", get=lambda st: _b(st.authorize_remote),
            set=_set_remote_auth),
        Key("TransactionMessageAttempts", "int", get=lambda st: str(st.tx_attempts),
            set=_set_attempts),
        Key("TransactionMessageRetryInterval", "int", get=lambda st: str(round(st.tx_retry_s)),
            set=_set_retry),
        Key("NumberOfConnectors", "int", get=lambda st: str(len(st.connectors)), readonly=True),
        Key("ConnectionTimeOut", "int", str(60)),
        Key("MeterValuesAlignedData", "csl", "Energy.Active.Import.Register"),
        Key("StopTxnSampledData", "csl", "Energy.Active.Import.Register"),
        Key("StopTxnAlignedData", "csl", ""),
        Key("LocalAuthorizeOffline", "bool", get=la.getter(la.Flag.OFFLINE),
            set=la.setter(la.Flag.OFFLINE)),
        Key("LocalPreAuthorize", "bool", get=la.getter(la.Flag.PRE), set=la.setter(la.Flag.PRE)),
        Key("AllowOfflineTxForUnknownId", "bool", "false"),
        Key("AuthorizationCacheEnabled", "bool", get=la.getter(la.Flag.CACHE),
            set=la.setter(la.Flag.CACHE)),
        Key("StopTransactionOnEVSideDisconnect", "bool", "true"),
        Key("StopTransactionOnInvalidId", "bool", "true"),
        Key("UnlockConnectorOnEVSideDisconnect", "bool", "true"),
        Key("ConnectorPhaseRotation", "csl", "0.RST"),
        Key("ResetRetries", "int", "1"),
        Key("WebSocketPingInterval", "int", get=lambda st: str(round(st.ping_interval_s)),
            set=_set_ping),
        Key("LocalAuthListEnabled", "bool", get=la.getter(la.Flag.LIST),
            set=la.setter(la.Flag.LIST)),
        # Security Whitepaper ed. 3: AuthorizationKey is write-only, never read back
        Key("AuthorizationKey", "text", get=lambda st: "", set=_set_auth_key),
        Key("SecurityProfile", "int", get=lambda st: str(st.cfg.security_profile),
            readonly=True),
        Key("LocalAuthListMaxLength", "int", str(LOCAL_LIST_MAX), readonly=True),
        Key("SendLocalListMaxLength", "int", str(SEND_LIST_MAX), readonly=True),
        Key("GetConfigurationMaxKeys", "int", str(MAX_KEYS), readonly=True),
        Key("SupportedFeatureProfiles", "csl", FEATURES, readonly=True),
        Key("ReserveConnectorZeroSupported", "bool", "false", readonly=True),
        Key("ChargeProfileMaxStackLevel", "int", str(MAX_STACK_LEVEL), readonly=True),
        Key("ChargingScheduleAllowedChargingRateUnit", "csl", "Current,Power", readonly=True),
        Key("ChargingScheduleMaxPeriods", "int", str(MAX_PERIODS), readonly=True),
        Key("MaxChargingProfilesInstalled", "int", str(MAX_PROFILES), readonly=True),
    ]
    return {k.name: k for k in ks}


KEYS = _keys()


def _value(st: StationCore, k: Key) -> str:
    if k.get is not None:
        return k.get(st)
    stored = (st.extra or {}).get("conf", {})
    return str(stored.get(k.name, k.default))


def get_configuration(st: StationCore, keys: list[str] | None) -> dict[str, Any]:
    """The GetConfiguration.conf payload for ``keys`` (None or empty: every key)."""
    names = keys or list(KEYS)
    known = [KEYS[n] for n in names if n in KEYS]
    unknown = [n[:50] for n in names if n not in KEYS]
    out: dict[str, Any] = {"configurationKey": [
        {"key": k.name, "readonly": k.readonly, "value": _value(st, k)[:500]} for k in known]}
    if unknown:
        out["unknownKey"] = unknown
    return out


def change_configuration(st: StationCore, key: str, value: str, t: float) -> str:
    """Accepted, Rejected (read-only or malformed) or NotSupported (unknown key)."""
    k = KEYS.get(key)
    if k is None:
        return "NotSupported"
    if k.readonly:
        return "Rejected"
    try:
        parsed = parse_value(k.kind, value)
        if k.set is not None:
            k.set(st, parsed, t)
    except ValueError:
        return "Rejected"
    if k.set is None:
        from fleetsim.station.lifecycle import extra

        extra(st).setdefault("conf", {})[k.name] = value.strip()
    return "Accepted"
