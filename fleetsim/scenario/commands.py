"""``csms_commands:``: what the embedded CSMS sends to the stations, and when.

```yaml
csms_commands:
  - action: RemoteStart            # 1.6 RemoteStartTransaction / 2.x RequestStartTransaction
    rate: 5%/h                     # of the idle connected stations, per simulated hour
  - action: SetChargingProfile     # a site-wide cap at 17:00 simulated time, every day
    at: "17:00"
    limit: 3.7kW                   # or 16A, 3700W
    purpose: max                   # max (ChargePointMax/ChargingStationMax) or default (TxDefault)
    duration: 4h                   # the profile's schedule duration (default: open-ended)
  - action: Reset                  # a reset storm: 20 % of the stations, 30 simulated min in
    at: +30m
    share: 20%
    type: Soft                     # 1.6 Soft/Hard; 2.x Immediate/OnIdle (Soft, Hard → Immediate)
  - action: GetConfiguration       # 2.x: GetVariables of the same settings
    every: 1h
```

Actions: RemoteStart, RemoteStop, SetChargingProfile, ClearChargingProfile, Reset,
ChangeAvailability (``operative: false``), GetConfiguration, ChangeConfiguration
(``key``, ``value``), TriggerMessage (``message``), GetCompositeSchedule
(``duration``), DataTransfer, GetBaseReport (2.x only), UnlockConnector; 2.1 only:
SetDERControl (``control``: a DER control type, ``pct`` for LimitMaxDischarge, ``x``
the first curve point for the others, ``duration``), GetDERControl, ClearDERControl
(``control``), AFRRSignal (``signal``, −100…100: % of station capacity, negative
exports). A negative SetChargingProfile ``limit`` (``-7kW``) asks 2.1 V2X cars to
discharge (operationMode CentralSetpoint); 2.0.1 and 1.6 stations are skipped.
Exactly one of ``at`` (``HH:MM`` daily, ``+30m`` once after the start, or an ISO
time once), ``every`` (a simulated period) or ``rate`` (share per simulated
hour) says when; ``share`` (default 100 %) says of which connected stations;
``versions`` may restrict to some OCPP versions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fleetsim.exceptions import ScenarioError
from fleetsim.scenario.reader import Node, parse_duration_s

__all__ = ["ACTIONS", "V21_ACTIONS", "CommandSpec", "parse_commands"]

V21_ACTIONS = ("SetDERControl", "GetDERControl", "ClearDERControl", "AFRRSignal",
               "SetDefaultTariff", "GetTariffs", "ClearTariffs", "ChangeTransactionTariff",
               "NotifyWebPaymentStarted", "UsePriorityCharging", "UpdateDynamicSchedule",
               "RequestBatterySwap")
"""OCPP 2.1 only: sent to 2.1 stations, skipped for the others."""

ACTIONS = ("RemoteStart", "RemoteStop", "SetChargingProfile", "ClearChargingProfile", "Reset",
           "ChangeAvailability", "GetConfiguration", "ChangeConfiguration", "TriggerMessage",
           "GetCompositeSchedule", "DataTransfer", "GetBaseReport", "UnlockConnector",
           *V21_ACTIONS)
_LIMIT = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(kW|W|A)\s*$")
_SHARE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*(?:/\s*h)?\s*$")


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One line of ``csms_commands``; times are simulated seconds."""

    action: str
    once_at_s: float | None = None      # seconds after the simulated start (+30m, ISO)
    daily_at_s: float | None = None     # seconds after midnight UTC, every day
    every_s: float | None = None
    rate_per_h: float | None = None     # share of eligible stations per simulated hour
    share: float = 1.0
    versions: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        return {"action": self.action, "once_at_s": self.once_at_s,
                "daily_at_s": self.daily_at_s, "every_s": self.every_s,
                "rate_per_h": self.rate_per_h, "share": self.share,
                "versions": list(self.versions), "params": dict(self.params)}

    @classmethod
    def from_wire(cls, d: Mapping[str, Any]) -> CommandSpec:
        return cls(action=d["action"], once_at_s=d.get("once_at_s"),
                   daily_at_s=d.get("daily_at_s"), every_s=d.get("every_s"),
                   rate_per_h=d.get("rate_per_h"), share=float(d.get("share", 1.0)),
                   versions=tuple(d.get("versions") or ()), params=dict(d.get("params") or {}))


def _share(n: Node, key: str, value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1:
        return float(value)
    m = _SHARE.match(str(value))
    if not m or float(m.group(1)) > 100:
        raise n.error(f"expected a share like 5% (or 0.05), got {value!r}", key)
    return float(m.group(1)) / 100


def _when(n: Node, epoch: datetime | None) -> dict[str, float | None]:
    at, every, rate = n.raw("at"), n.raw("every"), n.raw("rate")
    given = [k for k, v in (("at", at), ("every", every), ("rate", rate)) if v is not None]
    if len(given) != 1:
        raise n.error("give exactly one of at, every or rate")
    out: dict[str, float | None] = {}
    try:
        if every is not None:
            out["every_s"] = parse_duration_s(every)
        elif rate is not None:
            out["rate_per_h"] = _share(n, "rate", rate)
        elif isinstance(at, str) and at.startswith("+"):
            out["once_at_s"] = parse_duration_s(at[1:])
        elif isinstance(at, str) and re.match(r"^\d{1,2}:\d{2}$", at):
            h, m = at.split(":")
            out["daily_at_s"] = int(h) * 3600.0 + int(m) * 60.0
        elif isinstance(at, int) and not isinstance(at, bool):  # YAML 1.1 reads 17:00 as 1020
            out["daily_at_s"] = at * 60.0
        else:
            t = datetime.fromisoformat(str(at).replace("Z", "+00:00"))
            if epoch is None:
                raise ValueError("an absolute time needs clock.start")
            out["once_at_s"] = (t - epoch).total_seconds()
    except ValueError as exc:
        raise n.error(str(exc), "at" if at is not None else "every") from None
    return out


def _params(n: Node, action: str) -> dict[str, Any]:
    p: dict[str, Any] = {}
    limit = n.raw("limit")
    if limit is not None:
        m = _LIMIT.match(str(limit))
        if not m:
            raise n.error(f"expected a limit like 3.7kW, 11000W or 16A, got {limit!r}", "limit")
        v, unit = float(m.group(1)), m.group(2)
        p["limit"], p["unit"] = (v * 1000, "W") if unit == "kW" else (v, unit)
    elif action in ("SetChargingProfile", "UpdateDynamicSchedule"):
        raise n.error(f"{action} needs a limit", "limit")
    purpose = n.string("purpose", "max", choices=("max", "default", "priority"))
    if action in ("SetChargingProfile", "ClearChargingProfile"):
        p["purpose"] = purpose
    if n.has("duration"):
        p["duration_s"] = n.duration_s("duration", None, positive=True)
    for key in ("type", "message", "key", "value", "id_tag", "vendor_id"):
        if n.has(key):
            p[key] = str(n.raw(key))
    if n.has("control"):  # 2.1 DER control type, e.g. LimitMaxDischarge, HVMustTrip
        p["control"] = str(n.raw("control"))
    for key in ("pct", "signal", "x"):
        if n.has(key):
            p[key] = n.number(key)
    if n.has("operative"):
        p["operative"] = n.boolean("operative", True)
    if n.has("keys"):
        p["keys"] = list(n.string_list("keys"))
    _v21_params(n, action, p)
    return p


def _v21_params(n: Node, action: str, p: dict[str, Any]) -> None:
    """2.1 tariffs (prices per kWh, charging/idle minute, fixed fee, tax, currency), priority
    charging (activate), dynamic schedules (kind, update_interval), web payment (timeout)."""
    for key in ("price_kwh", "price_min", "idle_min", "fixed", "tax_pct"):
        if n.has(key):
            p[key] = n.number(key, minimum=0.0)
    if n.has("currency"):
        cur = n.string("currency")
        if not re.match(r"^[A-Z]{3}$", cur):
            raise n.error(f"expected an ISO 4217 code like EUR, got {cur!r}", "currency")
        p["currency"] = cur
    if n.has("tariff_id"):
        p["tariff_id"] = n.string("tariff_id")
        if not 1 <= len(p["tariff_id"]) <= 60:
            raise n.error("expected 1 to 60 characters", "tariff_id")
    if action in ("SetDefaultTariff", "ChangeTransactionTariff") and not any(
            k in p for k in ("price_kwh", "price_min", "idle_min", "fixed")):
        raise n.error("a tariff needs a price: price_kwh, price_min, idle_min or fixed")
    if n.has("evse"):
        p["evse"] = n.integer("evse", minimum=0)
    if n.has("activate"):
        p["activate"] = n.boolean("activate", True)
    if n.has("kind"):
        p["kind"] = n.string("kind", choices=("absolute", "dynamic"))
    if n.has("update_interval"):
        p["update_interval_s"] = n.duration_s("update_interval", None, positive=True)
    if n.has("timeout"):
        p["timeout_s"] = n.duration_s("timeout", None, positive=True)


def parse_commands(value: object, *, file: str, epoch: datetime | None) -> tuple[CommandSpec, ...]:
    """The ``csms_commands`` list (empty when absent)."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ScenarioError(file, "csms_commands", "expected a list of commands")
    out = []
    for i, item in enumerate(value):
        n = Node(item, file=file, path=f"csms_commands[{i}]")
        action = n.string("action", choices=ACTIONS)
        when = _when(n, epoch)
        share = _share(n, "share", n.raw("share", 1.0))
        raw_versions = n.raw("versions") or []
        versions = tuple(str(v) for v in (raw_versions if isinstance(raw_versions, list)
                                          else [raw_versions]))
        params = _params(n, action)
        n.finish()
        out.append(CommandSpec(action=action, share=share, versions=versions, params=params,
                               **when))
    return tuple(out)
