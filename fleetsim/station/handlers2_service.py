"""OCPP 2.0.1 / 2.1 service messages: triggers, display messages, firmware, logs, costs.

Part of the 2.x handler table (see :mod:`fleetsim.station.handlers2`); use-case
ids are OCPP 2.0.1 part 2.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fleetsim.station import lifecycle as lc
from fleetsim.station.dispatch import Handler, const
from fleetsim.station.measure import sampled_values
from fleetsim.station.smart_charging import parse_time

if TYPE_CHECKING:
    from fleetsim.station.v2 import Station2

__all__ = ["SERVICE_HANDLERS"]

P = dict[str, Any]
MAX_MESSAGES = 16                     # DisplayMessageCtrlr.DisplayMessages
_FORMATS = ("ASCII", "UTF8")          # DisplayMessageCtrlr.SupportedFormats


def trigger(st: Station2, p: P, now: float) -> P:
    """F06: answer, then send the requested message (Boot only while not yet accepted)."""
    what, e = p["requestedMessage"], p.get("evse") or {}
    eid = e.get("id")
    if eid and not 1 <= eid <= len(st.connectors):
        return {"status": "Rejected"}
    cs = [st.connectors[eid - 1]] if eid else st.connectors
    if what == "BootNotification":
        if st.booted:
            return {"status": "Rejected"}  # F06.FR.17: not after an Accepted boot
        st.call("BootNotification", st.boot_payload, now)
    elif what == "Heartbeat":
        st.call("Heartbeat", lambda: {}, now)
    elif what == "StatusNotification":
        for c in cs:
            st.status(c, now)
    elif what == "MeterValues":
        for c in cs:
            st.advance(c, now)
            mv = {"evseId": c.connector_id, "meterValue": [{
                "timestamp": st.clock.iso(now), "sampledValue": sampled_values(
                    c, st.measurands, "Trigger", as_text=False)}]}
            st.call("MeterValues", const(mv), now)
    elif what == "TransactionEvent":
        for c in cs:
            if c.tx is not None:
                st.advance(c, now)
                st.tx_event(c, c.tx, now, "Updated", "Trigger", context="Trigger")
    elif what == "FirmwareStatusNotification" or what == "LogStatusNotification":
        st.call(what, lambda: {"status": "Idle"}, now)
    else:
        return {"status": "NotImplemented"}
    return {"status": "Accepted"}


def clear_cache(st: Station2, p: P, now: float) -> P:
    """C11: the authorization cache is emptied (fleetsim.station.localauth)."""
    from fleetsim.station.localauth import clear_cache as clear_entries

    clear_entries(st)
    return {"status": "Accepted"}


def data_transfer(st: Station2, p: P, now: float) -> P:
    return {"status": "UnknownVendorId"}  # P01: no vendor extensions here


def update_firmware(st: Station2, p: P, now: float) -> P:
    """L01: Downloading … Installing, InstallRebooting, reboot, then Installed."""
    fw = p["firmware"]
    lc.start_firmware(st, now, retrieve_unix=parse_time(fw["retrieveDateTime"]) or 0.0,
                      request_id=p["requestId"])
    return {"status": "Accepted"}


def get_log(st: Station2, p: P, now: float) -> P:
    """N01: Uploading → Uploaded (no file is written)."""
    lc.start_upload(st, now, action="LogStatusNotification", request_id=p["requestId"])
    return {"status": "Accepted", "filename": f"{p['logType'].lower()}-{st.station_id}.log"}


def _messages(st: Station2) -> dict[int, P]:
    msgs: dict[int, P] = lc.extra(st).setdefault("display", {})
    return msgs


def set_display(st: Station2, p: P, now: float) -> P:
    """O01/O02: store the message; check format and transaction."""
    m = p["message"]
    if m["message"]["format"] not in _FORMATS:
        return {"status": "NotSupportedMessageFormat"}
    tx = m.get("transactionId")
    if tx is not None and not any(c.tx is not None and c.tx.id == tx for c in st.connectors):
        return {"status": "UnknownTransaction"}
    msgs = _messages(st)
    if m["id"] not in msgs and len(msgs) >= MAX_MESSAGES:
        return {"status": "Rejected"}
    msgs[m["id"]] = dict(m)
    return {"status": "Accepted"}


def get_display(st: Station2, p: P, now: float) -> P:
    """O03/O04: Unknown when none match, else NotifyDisplayMessages afterwards."""
    ids, prio, state = p.get("id"), p.get("priority"), p.get("state")
    found = [m for m in _messages(st).values()
             if (not ids or m["id"] in ids) and (prio is None or m["priority"] == prio)
             and (state is None or m.get("state") == state)]
    if not found:
        return {"status": "Unknown"}
    rid = p["requestId"]
    st.call("NotifyDisplayMessages", lambda: {"requestId": rid, "messageInfo": found,
                                              "tbc": False}, now)
    return {"status": "Accepted"}


def clear_display(st: Station2, p: P, now: float) -> P:
    """O05."""
    return {"status": "Accepted" if _messages(st).pop(p["id"], None) is not None else "Unknown"}


def cost_updated(st: Station2, p: P, now: float) -> P:
    """I03: the running cost, shown to the driver (remembered here)."""
    lc.extra(st).setdefault("cost", {})[p["transactionId"]] = p["totalCost"]
    return {}


def transaction_status(st: Station2, p: P, now: float) -> P:
    """E14: are TransactionEvents queued, and is the transaction still running?"""
    tx = p.get("transactionId")
    out: P = {"messagesInQueue": st.has_queued("TransactionEvent")}
    if tx is not None:
        out["ongoingIndicator"] = any(c.tx is not None and c.tx.id == tx for c in st.connectors)
    return out


SERVICE_HANDLERS: dict[str, Handler] = {
    "ClearCache": clear_cache,
    "ClearDisplayMessage": clear_display,
    "CostUpdated": cost_updated,
    "DataTransfer": data_transfer,
    "GetDisplayMessages": get_display,
    "GetLog": get_log,
    "GetTransactionStatus": transaction_status,
    "SetDisplayMessage": set_display,
    "TriggerMessage": trigger,
    "UpdateFirmware": update_firmware,
}
