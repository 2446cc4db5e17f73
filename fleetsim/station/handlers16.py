"""OCPP 1.6J: the station's answers to Central System → Charge Point requests (§5).

Each handler gets the (schema-valid) payload, changes the station and returns
the .conf payload; CALLs it queues go out after the answer. Section numbers
are OCPP 1.6 edition 2.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fleetsim.station import lifecycle as lc
from fleetsim.station.config_keys import change_configuration, get_configuration
from fleetsim.station.connector import Connector, Reservation
from fleetsim.station.dispatch import Handler, const
from fleetsim.station.handlers_security import HANDLERS_16
from fleetsim.station.limits import apply_limits, composite_for, limits_of
from fleetsim.station.localauth import clear_cache as clear_cache_entries
from fleetsim.station.measure import sampled_values
from fleetsim.station.remote import find_connector, remote_session, stop_transaction
from fleetsim.station.smart_charging import Purpose, parse_profile, parse_time

if TYPE_CHECKING:
    from fleetsim.station.v16 import Station16

__all__ = ["HANDLERS"]

P = dict[str, Any]


def _connector(st: Station16, cid: int) -> Connector | None:
    return st.connectors[cid - 1] if 1 <= cid <= len(st.connectors) else None


def remote_start(st: Station16, p: P, now: float) -> P:
    """§5.11: start a session for idTag; the car is there (it plugs in now)."""
    c = find_connector(st, p.get("connectorId"), p["idTag"])
    profile = p.get("chargingProfile")
    if c is None or (profile is not None and profile["chargingProfilePurpose"] != "TxProfile"):
        return {"status": "Rejected"}
    if profile is not None:
        try:
            limits_of(st).install(parse_profile(profile, connector_id=c.connector_id,
                                                now_s=st.clock.unix(now)))
        except ValueError:
            return {"status": "Rejected"}
    c.flow_t0 = now
    if c.reservation is not None:
        st.use_reservation(c, now)
    st.plug_in(c, remote_session(st, c, p["idTag"], now), now, authorize=st.authorize_remote)
    return {"status": "Accepted"}


def remote_stop(st: Station16, p: P, now: float) -> P:
    """§5.12: stop the transaction with that id (reason Remote); the car stays plugged."""
    return stop_transaction(st, p["transactionId"], now)


def reset(st: Station16, p: P, now: float) -> P:
    """§5.14: stop transactions (SoftReset/HardReset), then reboot."""
    lc.begin_reset(st, now, p["type"])
    return {"status": "Accepted"}


def change_availability(st: Station16, p: P, now: float) -> P:
    """§5.2: connector 0 is the whole station; Scheduled while a transaction runs."""
    cid = p["connectorId"]
    cs = st.connectors if cid == 0 else [c for c in [_connector(st, cid)] if c is not None]
    if not cs:
        return {"status": "Rejected"}
    return {"status": lc.change_availability(st, cs, p["type"] == "Operative", now)}


def change_config(st: Station16, p: P, now: float) -> P:
    return {"status": change_configuration(st, p["key"], p["value"], now)}


def get_config(st: Station16, p: P, now: float) -> P:
    return get_configuration(st, p.get("key"))


def trigger(st: Station16, p: P, now: float) -> P:
    """§5.17: answer Accepted, then send the requested message."""
    what, cid = p["requestedMessage"], p.get("connectorId")
    if cid is not None and cid != 0 and _connector(st, cid) is None:
        return {"status": "Rejected"}
    cs = st.connectors if not cid else [st.connectors[cid - 1]]
    if what == "BootNotification":
        st.call("BootNotification", st.boot_payload, now)
    elif what == "Heartbeat":
        st.call("Heartbeat", lambda: {}, now)
    elif what == "StatusNotification":
        for c in cs:
            st.status(c.connector_id, c.status, now)
    elif what == "MeterValues":
        for c in cs:
            st.advance(c, now)
            values = sampled_values(c, st.measurands, "Trigger", as_text=True)
            mv: P = {"connectorId": c.connector_id,
                     "meterValue": [{"timestamp": st.clock.iso(now), "sampledValue": values}]}
            if c.tx is not None and c.tx.id is not None:
                mv["transactionId"] = c.tx.id
            st.call("MeterValues", const(mv), now)
    elif what == "FirmwareStatusNotification" or what == "DiagnosticsStatusNotification":
        st.call(what, lambda: {"status": "Idle"}, now)
    else:
        return {"status": "NotImplemented"}
    return {"status": "Accepted"}


def unlock(st: Station16, p: P, now: float) -> P:
    """§5.18: a running transaction is stopped first (reason UnlockCommand)."""
    c = _connector(st, p["connectorId"])
    if c is None:
        return {"status": "NotSupported"}
    if c.session is not None:
        st.end_session(c, now, reason="UnlockCommand")
    return {"status": "Unlocked"}


def clear_cache(st: Station16, p: P, now: float) -> P:
    """§5.4: the authorization cache is emptied (fleetsim.station.localauth)."""
    clear_cache_entries(st)
    return {"status": "Accepted"}


def data_transfer(st: Station16, p: P, now: float) -> P:
    return {"status": "UnknownVendorId"}  # §5.6: no vendor extensions here


def reserve_now(st: Station16, p: P, now: float) -> P:
    """§5.13: Accepted, Occupied, Unavailable or Rejected (no connector-0 reservations)."""
    cid = p["connectorId"]
    if cid == 0:
        return {"status": "Rejected"}  # ReserveConnectorZeroSupported is false
    c = _connector(st, cid)
    if c is None:
        return {"status": "Rejected"}
    if not c.operative:
        return {"status": "Unavailable"}
    rid = p["reservationId"]
    if c.session is not None or (c.reservation is not None
                                 and c.reservation.reservation_id != rid):
        return {"status": "Occupied"}
    lc.cancel_reservation(st, rid, now)  # same id elsewhere: replaced
    expiry = parse_time(p["expiryDate"]) or st.clock.unix(now)
    lc.reserve(st, c, Reservation(rid, p["idTag"], expiry, p.get("parentIdTag")), now)
    return {"status": "Accepted"}


def cancel_reservation(st: Station16, p: P, now: float) -> P:
    ok = lc.cancel_reservation(st, p["reservationId"], now)
    return {"status": "Accepted" if ok else "Rejected"}


def send_local_list(st: Station16, p: P, now: float) -> P:
    """§5.15: Full replaces, Differential updates (a version not above ours: mismatch)."""
    items = p.get("localAuthorizationList") or []
    status = lc.update_local_list(
        st, full=p["updateType"] == "Full", version=p["listVersion"],
        entries=((i["idTag"], (i.get("idTagInfo") or {}).get("status", "Accepted")
                  if "idTagInfo" in i else None) for i in items))
    return {"status": status}


def get_local_list_version(st: Station16, p: P, now: float) -> P:
    return {"listVersion": lc.local_list_version(st)}


def set_profile(st: Station16, p: P, now: float) -> P:
    """§5.16: install; a TxProfile needs a transaction on that connector."""
    cid, raw = p["connectorId"], p["csChargingProfiles"]
    if cid > len(st.connectors):
        return {"status": "Rejected"}
    try:
        profile = parse_profile(raw, connector_id=cid, now_s=st.clock.unix(now))
    except ValueError:
        return {"status": "Rejected"}
    if profile.purpose is Purpose.TX and (cid == 0 or st.connectors[cid - 1].tx is None):
        return {"status": "Rejected"}
    if profile.purpose is Purpose.MAX and cid != 0:
        return {"status": "Rejected"}  # ChargePointMaxProfile is set on connector 0 only
    status = limits_of(st).install(profile)
    if status == "Accepted":
        apply_limits(st, now)
    return {"status": status}


def clear_profile(st: Station16, p: P, now: float) -> P:
    """§5.5: by id, or by any combination of connector, purpose and stack level."""
    purpose = p.get("chargingProfilePurpose")
    n = limits_of(st).clear(profile_id=p.get("id"), connector_id=p.get("connectorId"),
                            purpose=None if purpose is None else _PURPOSE[purpose],
                            stack_level=p.get("stackLevel"))
    if n:
        apply_limits(st, now)
    return {"status": "Accepted" if n else "Unknown"}


_PURPOSE = {"ChargePointMaxProfile": Purpose.MAX, "TxDefaultProfile": Purpose.TX_DEFAULT,
            "TxProfile": Purpose.TX}


def composite_schedule(st: Station16, p: P, now: float) -> P:
    """§5.7: the limits the station will apply over the next ``duration`` seconds."""
    cid = p["connectorId"]
    if cid > len(st.connectors):
        return {"status": "Rejected"}
    unit = {"A": "A", "W": "W"}.get(p.get("chargingRateUnit", "W"), "W")
    unit, periods, start = composite_for(st, cid, p["duration"], unit, now)
    return {"status": "Accepted", "connectorId": cid, "scheduleStart": st.clock.iso(
        st.clock.wall_of_unix(start)), "chargingSchedule": {
        "duration": p["duration"], "chargingRateUnit": unit,
        "chargingSchedulePeriod": [{"startPeriod": int(o), "limit": v} for o, v in periods]}}


def update_firmware(st: Station16, p: P, now: float) -> P:
    """§5.19: Downloading → Downloaded → Installing → Installed, then a reboot."""
    lc.start_firmware(st, now, retrieve_unix=parse_time(p["retrieveDate"]) or 0.0,
                      request_id=None)
    return {}


def get_diagnostics(st: Station16, p: P, now: float) -> P:
    """§5.9: Uploading → Uploaded (no file is written)."""
    lc.start_upload(st, now, action="DiagnosticsStatusNotification", request_id=None)
    return {"fileName": f"diagnostics-{st.station_id}.log"[:255]}


HANDLERS: dict[str, Handler] = {
    "CancelReservation": cancel_reservation,
    "ChangeAvailability": change_availability,
    "ChangeConfiguration": change_config,
    "ClearCache": clear_cache,
    "ClearChargingProfile": clear_profile,
    "DataTransfer": data_transfer,
    "GetCompositeSchedule": composite_schedule,
    "GetConfiguration": get_config,
    "GetDiagnostics": get_diagnostics,
    "GetLocalListVersion": get_local_list_version,
    "RemoteStartTransaction": remote_start,
    "RemoteStopTransaction": remote_stop,
    "ReserveNow": reserve_now,
    "Reset": reset,
    "SendLocalList": send_local_list,
    "SetChargingProfile": set_profile,
    "TriggerMessage": trigger,
    "UnlockConnector": unlock,
    "UpdateFirmware": update_firmware,
    **HANDLERS_16,  # Security Whitepaper ed. 3
}
