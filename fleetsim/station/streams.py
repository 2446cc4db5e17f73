"""OCPP 2.1 periodic event streams (part 2 §N, use cases N14–N17): SENDs, never answered.

With ``ocpp.event_stream_interval`` set, a 2.1 station opens one stream per
EVSE after each accepted boot (OpenPeriodicEventStream, a CALL, tied to the
EVSE's PeriodicEventStream variable monitor on its power) and, once the CSMS
accepts, sends the EVSE's power every interval as NotifyPeriodicEventStream in
a SEND frame (MessageTypeId 6): no answer, no retry, dropped while offline. The
SENDs are counted apart from the request/response figures
(:class:`fleetsim.metrics.wire.WireCounts`: count, bytes, rate). The end of the
run closes the streams (ClosePeriodicEventStream).
The CSMS may list (GetPeriodicEventStream) and re-time (AdjustPeriodicEventStream)
the open streams.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fleetsim.station import lifecycle as lc
from fleetsim.station.dispatch import Handler, const
from fleetsim.station.frames import encode_send

if TYPE_CHECKING:
    from fleetsim.station.connector import Connector
    from fleetsim.station.v2 import Station2

__all__ = ["STREAM_HANDLERS", "close_streams", "open_streams"]

P = dict[str, Any]
_MONITOR_BASE = 9000  # variableMonitoringId of connector n's PeriodicEventStream monitor


def _streams(st: Station2) -> dict[int, P]:
    streams: dict[int, P] = lc.extra(st).setdefault("streams", {})
    return streams


def open_streams(st: Station2, t: float) -> None:
    """After a boot: streams of the previous connection are gone; open one per EVSE."""
    for c in st.connectors:
        st.cancel_timer(f"stream{c.connector_id}")
    _streams(st).clear()
    for c in st.connectors:
        _open(st, c, t)


def _open(st: Station2, c: Connector, t: float) -> None:
    """N14: ask the CSMS to accept a stream of this EVSE's power."""
    sid = c.connector_id
    interval = max(1, round(st.cfg.event_stream_s))
    data: P = {"id": sid, "variableMonitoringId": _MONITOR_BASE + sid,
               "params": {"interval": interval, "values": 1}}
    st.call("OpenPeriodicEventStream", lambda: {"constantStreamData": data}, t,
            on_result=lambda r, now: _opened(st, c, data, r, now))


def _opened(st: Station2, c: Connector, data: P, r: P, now: float) -> None:
    if r.get("status") != "Accepted":
        return
    # the scenario's stream interval: wall seconds unless it asked (clock.intervals)
    _streams(st)[data["id"]] = data
    st.at(now + data["params"]["interval"] / st.cfg.interval_factor, _tick, st, c,
          name=f"stream{data['id']}")


def _tick(t: float, st: Station2, c: Connector) -> None:
    data = _streams(st).get(c.connector_id)
    if data is None or st.stopping:
        return
    if st.connected:  # a SEND is not a transaction message: dropped while offline
        st.advance(c, t)
        seq = lc.extra(st)["stream_seq"] = lc.extra(st).get("stream_seq", 0) + 1
        frame = encode_send(f"S{seq}", "NotifyPeriodicEventStream", {
            "id": data["id"], "pending": 0, "basetime": st.clock.iso(t),
            "data": [{"t": 0, "v": f"{c.power_w:.1f}"}]})
        st.out.append(frame)
        st.rec.wire.send(f"{st.version_prefix}NotifyPeriodicEventStream", len(frame))
    st.at(t + data["params"]["interval"] / st.cfg.interval_factor, _tick, st, c,
          name=f"stream{data['id']}")


def close_streams(st: Station2, t: float) -> None:
    """N15: the run ends, so do the streams."""
    for sid in list(_streams(st)):
        del _streams(st)[sid]
        st.cancel_timer(f"stream{sid}")
        if st.connected:
            st.call("ClosePeriodicEventStream", const({"id": sid}), t)


def get_streams(st: Station2, p: P, now: float) -> P:
    """N16: the open streams."""
    streams = list(_streams(st).values())
    return {"constantStreamData": streams} if streams else {}


def adjust_stream(st: Station2, p: P, now: float) -> P:
    """N17: new interval/values for an open stream; Rejected for an unknown id."""
    data = _streams(st).get(p["id"])
    if data is None:
        return {"status": "Rejected", "statusInfo": {"reasonCode": "UnknownStream"}}
    params = {**data["params"], **{k: v for k, v in p["params"].items() if k != "customData"}}
    if params.get("interval", 1) < 1:
        params["interval"] = 1
    data["params"] = params
    return {"status": "Accepted"}


STREAM_HANDLERS: dict[str, Handler] = {
    "AdjustPeriodicEventStream": adjust_stream,
    "GetPeriodicEventStream": get_streams,
}
