"""Remote starts and stops: which connector takes a start, the car that plugs in,
which transaction a stop ends.

A CSMS-started session (1.6 RemoteStartTransaction §5.11, 2.x
RequestStartTransaction F01/F02) is a driver at the station who starts with an
app: the car plugs in at once, stays ``remote_dwell_s`` and wants
``remote_energy_kwh`` (StationConfig). It is the station's usual car — the
first of its planned sessions — or a mid-size three-phase BEV if none is planned.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fleetsim.drivers.session import Session, Vehicle
from fleetsim.station.connector import Connector

if TYPE_CHECKING:
    from fleetsim.station.core import StationCore

__all__ = ["DEFAULT_VEHICLE", "find_connector", "remote_session", "stop_transaction", "usable"]

DEFAULT_VEHICLE = Vehicle(name="remote_bev", battery_kwh=60.0, ac_phases=3, ac_max_a=16.0,
                          dc_peak_kw=100.0)


def usable(st: StationCore, c: Connector, tag: str) -> bool:
    """Free, operative, and not reserved for somebody else."""
    r = c.reservation
    return (c.session is None and c.operative and not st.pending_reset and not st.stopping
            and (r is None or tag in (r.id_tag, r.parent_id_tag)))


def find_connector(st: StationCore, connector_id: int | None, tag: str) -> Connector | None:
    """The requested connector if usable, or (none requested) the first usable one."""
    if connector_id:
        if not 1 <= connector_id <= len(st.connectors):
            return None
        c = st.connectors[connector_id - 1]
        return c if usable(st, c, tag) else None
    return next((c for c in st.connectors if usable(st, c, tag)), None)


def remote_session(st: StationCore, c: Connector, tag: str, now: float) -> Session:
    sim = st.clock.sim_s(now)
    vehicle = st.first_vehicle or st.feed.peek_vehicle() or DEFAULT_VEHICLE
    return Session(station_index=st.spec.index, connector_id=c.connector_id, arrival_s=sim,
                   departure_s=sim + st.cfg.remote_dwell_s, energy_kwh=st.cfg.remote_energy_kwh,
                   id_tag=tag, vehicle=vehicle, soc_start=0.3)


def stop_transaction(st: StationCore, transaction_id: object, now: float) -> dict[str, str]:
    """Stop the transaction with that id (reason Remote); the car stays plugged.
    1.6 RemoteStopTransaction §5.12, 2.x RequestStopTransaction F03."""
    for c in st.connectors:
        if c.tx is not None and c.tx.id == transaction_id:
            st.end_session(c, now, reason="Remote")
            return {"status": "Accepted"}
    return {"status": "Rejected"}
