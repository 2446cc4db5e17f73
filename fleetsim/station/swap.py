"""OCPP 2.1 battery swap: a swap station's bay and rack (BatterySwap, RequestBatterySwap).

A 2.1 station of an archetype with a ``swap:`` section (``drivers_models/battery_swap.yaml``)
swaps packs instead of charging cars. A planned session is a car in the bay: the driver
authorises (Authorize with the idToken), the station takes the car's pack — BatterySwap
``BatteryIn`` with its serial number, SoC and SoH — and ``swap_min`` later hands out the
fullest pack of its rack — ``BatteryOut``. A car that finds no pack at ``out_min_soc`` or
more leaves without one (fault ``swap_no_pack``). The rack charges every pack it holds at
``rack_charge_kw`` up to full. RequestBatterySwap (the driver's app) swaps for its idToken
now: Accepted when the bay is free and a pack is ready, and the BatterySwap events carry
its requestId. A swap opens no transaction.
"""

from __future__ import annotations

import hashlib
import itertools
from typing import TYPE_CHECKING, Any

from fleetsim.drivers.session import Session
from fleetsim.station import lifecycle as lc
from fleetsim.station.dispatch import Handler

if TYPE_CHECKING:
    from fleetsim.drivers.archetype import SwapParams
    from fleetsim.station.connector import Connector
    from fleetsim.station.v2 import Station2

__all__ = ["SWAP_HANDLERS", "begin_swap", "params"]

P = dict[str, Any]
_REQUEST_BASE = 1_000_000  # requestIds of station-initiated swaps start here


def params(st: Station2) -> SwapParams | None:
    return st.cfg.swap.get(st.plan.archetype) if st.cfg.swap else None


def _rack(st: Station2, sp: SwapParams, t: float) -> P:
    """The rack with every pack charged up to now."""
    ex = lc.extra(st)
    rack: P | None = ex.get("swap")
    sim = st.clock.sim_s(t)
    if rack is None:
        rack = ex["swap"] = {"packs": [{"serial": _serial(st, i), "soc": 1.0,
                                        "soh": _soh(st, sp, f"rack{i}")}
                                       for i in range(sp.rack_packs)],
                             "t": sim, "ids": itertools.count(_REQUEST_BASE), "remote": None}
    dt_h = max(0.0, sim - rack["t"]) / 3600.0
    rack["t"] = sim
    gain = sp.rack_charge_kw * dt_h / sp.pack_kwh
    for p in rack["packs"]:
        p["soc"] = min(1.0, p["soc"] + gain)
    return rack


def _serial(st: Station2, i: int) -> str:
    return f"{st.station_id}-P{i:03d}"[:50]


def _soh(st: Station2, sp: SwapParams, key: str) -> float:
    u = int.from_bytes(hashlib.blake2b(f"{st.station_id}/{key}".encode(),
                                       digest_size=4).digest(), "big") / 2**32
    return sp.soh[0] + u * (sp.soh[1] - sp.soh[0])


def _data(c: Connector, pack: P) -> P:
    return {"evseId": c.connector_id, "serialNumber": pack["serial"],
            "soC": round(pack["soc"] * 100, 1), "soH": round(pack["soh"] * 100, 1)}


def _ready(rack: P, sp: SwapParams) -> P | None:
    best = max(rack["packs"], key=lambda p: p["soc"], default=None)
    return best if best is not None and best["soc"] >= sp.out_min_soc - 1e-9 else None


def begin_swap(st: Station2, c: Connector, t: float, sp: SwapParams) -> None:
    """A car drives into the bay: authorise, then swap (instead of a transaction)."""
    st.set_status(c, "Occupied", t)
    rack = _rack(st, sp, t)
    remote, rack["remote"] = rack["remote"], None
    s = c.session
    assert s is not None
    token = {"idToken": s.id_tag, "type": "ISO14443" if remote is None else "Central"}
    if remote is not None:
        _swap(t, st, c, s, sp, token, remote)
        return
    st.call("Authorize", lambda: {"idToken": token}, t,
            on_result=lambda r, now: _authorized(st, c, s, sp, token, r, now))


def _authorized(st: Station2, c: Connector, s: Session, sp: SwapParams, token: P, r: P,
                now: float) -> None:
    if c.session is not s:
        return
    if (r.get("idTokenInfo") or {}).get("status") != "Accepted":
        st.rec.fault("session_not_authorized")
        return
    _swap(now, st, c, s, sp, token, next(_rack(st, sp, now)["ids"]))


def _swap(t: float, st: Station2, c: Connector, s: Session, sp: SwapParams, token: P,
          request_id: int) -> None:
    rack = _rack(st, sp, t)
    out = _ready(rack, sp)
    if out is None:
        st.rec.fault("swap_no_pack")
        return
    n = st.tx_count = st.tx_count + 1
    car = {"serial": f"{st.station_id}-C{n:05d}"[:50], "soc": s.soc_start,
           "soh": _soh(st, sp, f"car{n}")}
    body_in = {"eventType": "BatteryIn", "requestId": request_id, "idToken": token,
               "batteryData": [_data(c, car)]}
    st.call("BatterySwap", lambda: body_in, t)
    rack["packs"].remove(out)
    rack["packs"].append(car)
    out_data = _data(c, out)
    st.at(t + st.clock.interval_wall(sp.swap_min * 60.0), _out, st, token, request_id, out_data)


def _out(t: float, st: Station2, token: P, request_id: int, data: P) -> None:
    if st.connected:
        st.call("BatterySwap", lambda: {"eventType": "BatteryOut", "requestId": request_id,
                                        "idToken": token, "batteryData": [data]}, t)


def request_swap(st: Station2, p: P, now: float) -> P:
    """The CSMS asks for a swap for ``idToken`` now (the driver's app)."""
    sp = params(st)
    if sp is None:
        return {"status": "Rejected", "statusInfo": {"reasonCode": "NoSwapStation"}}
    c = next((x for x in st.connectors if x.session is None and x.operative), None)
    rack = _rack(st, sp, now)
    if c is None or _ready(rack, sp) is None:
        return {"status": "Rejected", "statusInfo": {"reasonCode": "NoPackReady" if c else "Busy"}}
    rack["remote"] = p["requestId"]
    sim = st.clock.sim_s(now)
    session = Session(station_index=st.spec.index, connector_id=c.connector_id, arrival_s=sim,
                      departure_s=sim + 2 * sp.swap_min * 60.0, energy_kwh=0.0,
                      id_tag=str(p["idToken"]["idToken"])[:36],
                      vehicle=st.first_vehicle or _vehicle(), soc_start=0.3)
    st.at(now, _arrive, st, c, session)
    return {"status": "Accepted"}


def _arrive(t: float, st: Station2, c: Connector, session: Session) -> None:
    if c.session is None:
        st.plug_in(c, session, t, authorize=False)


def _vehicle() -> Any:
    from fleetsim.drivers.session import Vehicle

    return Vehicle(name="swap_bev", battery_kwh=75, ac_phases=3, ac_max_a=16)


SWAP_HANDLERS: dict[str, Handler] = {"RequestBatterySwap": request_swap}
