"""External charging limits from a local EMS (2.0.1 part 2 K12/K13; 2.1 the same).

A site's energy management system (building load management, a PV/battery controller,
a grid operator's signal) limits an EVSE without the CSMS: the station applies the
limit at once — the connector's power, and so the next meter values, drop — reports it
with NotifyChargingLimit (source ``EMS``, the limit as a schedule), and, when the EMS
lifts it, with ClearedChargingLimit. The limit is an extra cap next to the charging
profiles (:func:`fleetsim.station.limits.apply_limits` takes the lower of the two); it
is not a profile the CSMS could read or clear. 1.6 has no such messages: only 2.x
stations draw EMS events.

Events come as a Poisson process at ``ocpp.ems_limits_per_day`` per station and
simulated day (0 by default), drawn with the background incidents
(:mod:`fleetsim.station.incidents`), so a fleet without the rate carries nothing.
Assumed parameters, tagged like ``drivers_models/``:

- ``EMS_LIMITS_PER_DAY`` [A] 1 per station-day in ``scenarios/realistic_201.yaml``
  (sites with dynamic load management shave their evening peak about daily);
- ``LIMIT_SHARE`` [A] 0.5: the EMS halves the EVSE's rated power;
- ``HOLD_S`` [A] 1800 simulated seconds until it lifts the limit.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from fleetsim.station.dispatch import const
from fleetsim.station.lifecycle import extra

if TYPE_CHECKING:
    from fleetsim.station.core import StationCore

__all__ = ["EMS_LIMITS_PER_DAY", "HOLD_S", "LIMIT_SHARE", "SOURCE", "external_w", "impose"]

EMS_LIMITS_PER_DAY = 1.0  # [A] the realistic_201 value; the scenario default is 0
LIMIT_SHARE = 0.5         # [A] of the EVSE's rated power
HOLD_S = 1800.0           # [A] simulated seconds the limit holds
SOURCE = "EMS"            # ChargingLimitSourceEnumType (2.0.1), the same string in 2.1


def external_w(st: StationCore, evse_id: int) -> float | None:
    """The EMS's cap on ``evse_id`` [W] now, or None."""
    ems = (st.extra or {}).get("ems")
    return None if not ems else ems.get(evse_id)


def impose(st: StationCore, t: float, rng: random.Random) -> None:
    """The EMS limits one EVSE (drawn with ``rng``) now and lifts it ``HOLD_S`` later."""
    from fleetsim.station.limits import apply_limits, limits_of

    evse = 1 + int(rng.random() * len(st.connectors))
    ems: dict[int, float] = extra(st).setdefault("ems", {})
    if evse in ems:
        return  # already limited: the EMS holds its cap
    c = st.connectors[evse - 1]
    watts = float(round(c.evse.max_power_w * LIMIT_SHARE))
    ems[evse] = watts
    limits_of(st)  # the composite limit now has an input beyond the profiles
    apply_limits(st, t)
    hold = int(HOLD_S)
    schedule: dict[str, Any] = {"id": 1, "chargingRateUnit": "W", "duration": hold,
                                "startSchedule": st.clock.iso(t),
                                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": watts}]}
    st.call("NotifyChargingLimit", const({
        "chargingLimit": {"chargingLimitSource": SOURCE, "isGridCritical": False},
        "evseId": evse, "chargingSchedule": [schedule]}), t)
    st.at(t + st.clock.interval_wall(HOLD_S), _lift, st, evse)


def _lift(t: float, st: StationCore, evse: int) -> None:
    from fleetsim.station.limits import apply_limits

    ems = (st.extra or {}).get("ems")
    if not ems or ems.pop(evse, None) is None:
        return
    apply_limits(st, t)
    if st.connected and st.booted and not st.stopping:  # a notification: dropped offline
        st.call("ClearedChargingLimit", const({"chargingLimitSource": SOURCE,
                                               "evseId": evse}), t)
