"""A station's installed charging profiles and the limits they put on its connectors.

:class:`ChargingLimits` is the profile store (install, clear, query) and
:func:`apply_limits` makes ``Connector.limit_w`` follow the composite schedule
of :mod:`fleetsim.station.smart_charging`: at every profile change, at session
start and end (a TxProfile lives and dies with its transaction; the station's
max profile is shared by the connectors that charge) and at the next schedule
boundary, through a timer. The power drawn — and so the next MeterValues —
follows at once: the connector integrates up to now under the old limit, then
charges under the new one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fleetsim.station.connector import Connector
from fleetsim.station.smart_charging import (
    Electrical,
    Profile,
    Purpose,
    composite,
    limit_w,
    next_change,
)

if TYPE_CHECKING:
    from fleetsim.station.core import StationCore

__all__ = ["ChargingLimits", "apply_limits", "composite_for", "electrical", "limits_of",
           "tx_context"]

MAX_STACK_LEVEL = 8     # ChargeProfileMaxStackLevel / SmartChargingCtrlr.ProfileStackLevel
MAX_PROFILES = 64       # MaxChargingProfilesInstalled / SmartChargingCtrlr.Entries
MAX_PERIODS = 24        # ChargingScheduleMaxPeriods / SmartChargingCtrlr.PeriodsPerSchedule


class ChargingLimits:
    """The profiles installed on one station (allocated on the first SetChargingProfile)."""

    __slots__ = ("profiles",)

    def __init__(self) -> None:
        self.profiles: list[Profile] = []

    def install(self, p: Profile) -> str:
        """Add ``p``: Accepted or Rejected.

        A profile with the same id, or the same purpose, stack level and connector,
        is replaced (1.6 §5.16 SetChargingProfile; 2.0.1 §K01 SetChargingProfile).
        """
        if p.stack_level > MAX_STACK_LEVEL or len(p.periods) > MAX_PERIODS:
            return "Rejected"
        keep = [q for q in self.profiles if q.id != p.id and not (
            q.purpose is p.purpose and q.stack_level == p.stack_level
            and q.connector_id == p.connector_id)]
        if len(keep) >= MAX_PROFILES:
            return "Rejected"
        self.profiles = [*keep, p]
        return "Accepted"

    def clear(self, *, profile_id: int | None = None, connector_id: int | None = None,
              purpose: Purpose | None = None, stack_level: int | None = None) -> int:
        """Remove matching profiles (every given criterion must match); how many went."""
        def hit(q: Profile) -> bool:
            if profile_id is not None:
                return q.id == profile_id
            return ((connector_id is None or q.connector_id == connector_id)
                    and (purpose is None or q.purpose is purpose)
                    and (stack_level is None or q.stack_level == stack_level))
        before = len(self.profiles)
        self.profiles = [q for q in self.profiles if not hit(q)]
        return before - len(self.profiles)

    def drop_tx(self, connector_id: int) -> None:
        """A transaction ended: its TxProfiles go with it (1.6 §3.13.1; 2.0.1 §K01)."""
        self.profiles = [q for q in self.profiles
                         if not (q.purpose is Purpose.TX and q.connector_id == connector_id)]


def limits_of(st: StationCore) -> ChargingLimits:
    if st.limits is None:
        st.limits = ChargingLimits()
    lim: ChargingLimits = st.limits
    return lim


def electrical(c: Connector) -> Electrical:
    """Amperes → watts on this connector: the phases the car actually uses."""
    ev = c.evse
    phases = ev.phases
    if c.session is not None and not ev.dc:
        phases = min(phases, c.session.vehicle.ac_phases)
    return Electrical(phases=phases, voltage_v=ev.voltage_v, dc=ev.dc)


def tx_context(st: StationCore, c: Connector) -> tuple[str | None, float | None]:
    """(transaction id, its start as Unix s) of the connector's open transaction."""
    tx = c.tx
    if tx is None:
        return None, None
    return (None if tx.id is None else str(tx.id)), st.clock.unix(st.clock.wall(tx.started_s))


def _share(st: StationCore) -> float:
    charging = sum(1 for c in st.connectors if c.tx is not None)
    return 1.0 / charging if charging else 1.0


def apply_limits(st: StationCore, t: float) -> None:
    """Set every connector's ``limit_w`` from the profiles and arm the next boundary."""
    lim: ChargingLimits | None = st.limits
    if lim is None:
        return
    now_u = st.clock.unix(t)
    share = _share(st)
    soonest: float | None = None
    for c in st.connectors:
        tx_id, tx_start = tx_context(st, c)
        w = limit_w(lim.profiles, now_u, connector_id=c.connector_id, tx_id=tx_id,
                    tx_start_s=tx_start, el=electrical(c), max_share=share)
        if st.extra is not None and st.extra.get("ems"):  # a local EMS's cap (station/ems.py)
            from fleetsim.station.ems import external_w

            ext = external_w(st, c.connector_id)
            if ext is not None:
                w = ext if w is None else min(w, ext)
        if w != c.limit_w:
            if c.tx is not None:
                st.advance(c, t)  # energy so far at the old limit
            c.limit_w = w
            if c.tx is not None:
                st.advance(c, t)  # power (and time to full) at the new one
        nxt = next_change(lim.profiles, now_u, tx_start_s=tx_start)
        if nxt is not None and (soonest is None or nxt < soonest):
            soonest = nxt
    if soonest is not None:
        st.at(st.clock.wall_of_unix(soonest) + 1e-6, _boundary, st, name="profiles")


def _boundary(t: float, st: StationCore) -> None:
    apply_limits(st, t)


def composite_for(st: StationCore, connector_id: int, duration_s: float, unit: str | None,
                  t: float) -> tuple[str, list[tuple[float, float]], float]:
    """(unit, [(offset s, limit)], schedule start Unix s) for GetCompositeSchedule."""
    lim = limits_of(st)
    now_u = round(st.clock.unix(t))
    if connector_id == 0:
        c = st.connectors[0]
        default_w = sum(x.evse.max_power_w for x in st.connectors)
        tx_id, tx_start = None, None
    else:
        c = st.connectors[connector_id - 1]
        default_w = c.evse.max_power_w
        tx_id, tx_start = tx_context(st, c)
    unit = unit or "W"
    periods = composite(lim.profiles, now_u, duration_s, connector_id=connector_id, unit=unit,
                        default_w=default_w, tx_id=tx_id, tx_start_s=tx_start, el=electrical(c),
                        max_share=_share(st) if connector_id else 1.0)
    return unit, periods, float(now_u)


def profile_payloads(st: StationCore, pick: Any) -> list[Profile]:
    """Installed profiles for which ``pick(profile)`` is true, in install order."""
    return [p for p in limits_of(st).profiles if pick(p)]
