"""OCPP 2.0.1 / 2.1: the station's answers to CSMS → Charging Station requests.

Each handler gets the (schema-valid) payload, changes the station and returns
the response payload; the CALLs it queues (NotifyReport, ReportChargingProfiles,
triggered messages, …) go out after the answer. Use-case ids are OCPP 2.0.1
part 2. Each connector is its own EVSE (evseId n, connectorId 1).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fleetsim.station import lifecycle as lc
from fleetsim.station.connector import Connector, Reservation
from fleetsim.station.dispatch import Handler
from fleetsim.station.handlers2_charging import CHARGING_HANDLERS
from fleetsim.station.handlers2_device import DEVICE_HANDLERS
from fleetsim.station.handlers2_service import SERVICE_HANDLERS
from fleetsim.station.handlers_security import HANDLERS_2
from fleetsim.station.limits import limits_of
from fleetsim.station.monitoring import MONITORING_HANDLERS
from fleetsim.station.remote import find_connector, remote_session, stop_transaction
from fleetsim.station.smart_charging import parse_profile, parse_time

if TYPE_CHECKING:
    from fleetsim.station.v2 import Station2

__all__ = ["HANDLERS"]

P = dict[str, Any]


def evse(st: Station2, evse_id: int | None) -> Connector | None:
    return st.connectors[evse_id - 1] if evse_id and 1 <= evse_id <= len(st.connectors) else None


def request_start(st: Station2, p: P, now: float) -> P:
    """F01/F02: the driver starts from an app; the car plugs in now."""
    tag = p["idToken"]["idToken"]
    c = find_connector(st, p.get("evseId"), tag)
    profile = p.get("chargingProfile")
    if c is None or (profile is not None and profile["chargingProfilePurpose"] != "TxProfile"):
        return {"status": "Rejected"}
    if profile is not None:
        try:
            limits_of(st).install(parse_profile(profile, connector_id=c.connector_id,
                                                now_s=st.clock.unix(now)))
        except ValueError:
            return {"status": "Rejected"}
    c.flow_t0, c.remote_start_id = now, p["remoteStartId"]
    if c.reservation is not None:
        st.use_reservation(c, now)
    st.plug_in(c, remote_session(st, c, tag, now), now, authorize=st.authorize_remote)
    return {"status": "Accepted"}


def request_stop(st: Station2, p: P, now: float) -> P:
    """F03: stop that transaction (stoppedReason Remote); the car stays plugged."""
    return stop_transaction(st, p["transactionId"], now)


def reset(st: Station2, p: P, now: float) -> P:
    """B11/B12: Immediate stops transactions and reboots; OnIdle waits for them to end."""
    kind, evse_id = p["type"], p.get("evseId")
    if kind not in ("Immediate", "OnIdle"):
        return {"status": "Rejected"}  # 2.1 ImmediateAndResume: not modelled
    if evse_id:
        c = evse(st, evse_id)
        if c is None:
            return {"status": "Rejected"}
        if c.session is not None and kind == "OnIdle":
            return {"status": "Scheduled"}  # the EVSE resets (nothing to do) when it is idle
        if c.session is not None:
            st.end_session(c, now, reason="ImmediateReset")
        return {"status": "Accepted"}
    if kind == "OnIdle" and not lc.request_reboot(st, now, "OnIdle", boot_reason="RemoteReset"):
        return {"status": "Scheduled"}
    if kind == "Immediate":
        lc.begin_reset(st, now, "Immediate")
    return {"status": "Accepted"}


def change_availability(st: Station2, p: P, now: float) -> P:
    """G03/G04: the station (no evse), an EVSE or a connector; Scheduled during a transaction."""
    e = p.get("evse")
    if e is None or e["id"] == 0:
        cs = st.connectors
    else:
        c = evse(st, e["id"])
        if c is None or e.get("connectorId", 1) != 1:
            return {"status": "Rejected"}
        cs = [c]
    return {"status": lc.change_availability(st, cs, p["operationalStatus"] == "Operative", now)}


def unlock(st: Station2, p: P, now: float) -> P:
    """F05: never during an authorised transaction."""
    c = evse(st, p["evseId"])
    if c is None or p["connectorId"] != 1:
        return {"status": "UnknownConnector"}
    if c.tx is not None:
        return {"status": "OngoingAuthorizedTransaction"}
    return {"status": "Unlocked"}


def reserve_now(st: Station2, p: P, now: float) -> P:
    """H01: on the given EVSE, or (none given) on a free one."""
    tag, rid = p["idToken"]["idToken"], p["id"]
    group = (p.get("groupIdToken") or {}).get("idToken")
    evse_id = p.get("evseId")
    if evse_id:
        c = evse(st, evse_id)
        if c is None:
            return {"status": "Rejected"}
    else:
        c = next((x for x in st.connectors if x.session is None and x.operative
                  and x.reservation is None), None)
        if c is None:
            return {"status": "Occupied"}
    if not c.operative:
        return {"status": "Unavailable"}
    if c.session is not None or (c.reservation is not None
                                 and c.reservation.reservation_id != rid):
        return {"status": "Occupied"}
    lc.cancel_reservation(st, rid, now)
    expiry = parse_time(p["expiryDateTime"]) or st.clock.unix(now)
    lc.reserve(st, c, Reservation(rid, tag, expiry, group), now)
    return {"status": "Accepted"}


def cancel_reservation(st: Station2, p: P, now: float) -> P:
    ok = lc.cancel_reservation(st, p["reservationId"], now)
    return {"status": "Accepted" if ok else "Rejected"}


def send_local_list(st: Station2, p: P, now: float) -> P:
    """D01: Full replaces, Differential updates (a version not above ours: mismatch)."""
    items = p.get("localAuthorizationList") or []
    status = lc.update_local_list(
        st, full=p["updateType"] == "Full", version=p["versionNumber"],
        entries=((i["idToken"]["idToken"], (i.get("idTokenInfo") or {}).get("status", "Accepted")
                  if "idTokenInfo" in i else None) for i in items))
    return {"status": status}


def get_local_list_version(st: Station2, p: P, now: float) -> P:
    return {"versionNumber": lc.local_list_version(st)}


HANDLERS: dict[str, Handler] = {
    "CancelReservation": cancel_reservation,
    "ChangeAvailability": change_availability,
    "GetLocalListVersion": get_local_list_version,
    "RequestStartTransaction": request_start,
    "RequestStopTransaction": request_stop,
    "ReserveNow": reserve_now,
    "Reset": reset,
    "SendLocalList": send_local_list,
    "UnlockConnector": unlock,
    **CHARGING_HANDLERS,
    **DEVICE_HANDLERS,
    **SERVICE_HANDLERS,
    **HANDLERS_2,  # A, M03-M05, signed L01 (replaces TriggerMessage and UpdateFirmware)
    **MONITORING_HANDLERS,  # N
}
