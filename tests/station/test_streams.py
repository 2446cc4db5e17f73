"""OCPP 2.1 periodic event streams and the SEND/CALLRESULTERROR frames, on one station core."""

from __future__ import annotations

from typing import Any

import orjson

from fleetsim.scenario.model import OcppVersion
from fleetsim.station import StationConfig, StationCore
from fleetsim.station.frames import CallResultError, Malformed, Send, parse_frame
from tests.station.harness import Exchange, default_answer, make, session

V21 = OcppVersion.V21


def station(answer: Any = None, **cfg: Any) -> tuple[StationCore, Exchange]:
    config = StationConfig(meter_interval_s=300, heartbeat_interval_s=3600, event_stream_s=60,
                           **cfg)
    st = make(V21, (session(10, 3600, kwh=30),), config=config)
    ex = Exchange(st, answer)
    ex.open()
    return st, ex


def accept_streams(action: str, payload: dict[str, Any]) -> Any:
    if action == "OpenPeriodicEventStream":
        return {"status": "Accepted"}
    return default_answer(V21)(action, payload)


def test_parse_send_and_callresulterror() -> None:
    assert parse_frame(b'[6,"s1","NotifyPeriodicEventStream",{"id":1}]') == Send(
        "s1", "NotifyPeriodicEventStream", {"id": 1})
    assert parse_frame(b'[5,"7","FormatViolation","bad",{}]') == CallResultError(
        "7", "FormatViolation", "bad")
    assert parse_frame(b'[6,"s1","X"]') == Malformed("bad_frame", "s1")
    assert parse_frame(b'[7,"s1","X",{}]') == Malformed("unknown_message_type", "s1")


def test_an_accepted_stream_sends_unanswered_sends_counted_apart() -> None:
    st, ex = station(accept_streams)
    ex.run_until(10 + 30 * 60 + 1)
    opened = ex.of("OpenPeriodicEventStream")
    assert opened == [{"constantStreamData": {"id": 1, "variableMonitoringId": 9001,
                                              "params": {"interval": 60, "values": 1}}}]
    sends = [m for _, m in ex.unconfirmed if m[0] == 6]  # each validated by the harness
    assert len(sends) == 30 and {m[2] for m in sends} == {"NotifyPeriodicEventStream"}
    assert len({m[1] for m in sends}) == len(sends)  # unique message ids
    assert float(sends[0][3]["data"][0]["v"]) > 0  # the EVSE's power, while charging
    w = st.rec.wire
    assert w.sends == {"2.1/NotifyPeriodicEventStream": len(sends)}
    assert w.send_bytes["2.1/NotifyPeriodicEventStream"] == sum(
        len(orjson.dumps(m)) for m in sends)
    assert "2.1/NotifyPeriodicEventStream" not in st.rec.actions  # no latency for a SEND
    ex.run_until(3700)  # the car left: the stream goes on, at 0 W
    assert sends[-1] != ex.unconfirmed[-1][1] and ex.unconfirmed[-1][1][3]["data"][0]["v"] == "0.0"
    st.stop(ex.now)  # the end of the run closes it
    ex.pump()
    assert ex.of("ClosePeriodicEventStream") == [{"id": 1}]
    n = len(ex.unconfirmed)
    ex.run_until(7200)
    assert len(ex.unconfirmed) == n


def test_a_rejected_stream_sends_nothing_and_the_csms_can_adjust_an_open_one() -> None:
    _, ex = station()  # the default answer {} has no status: not Accepted
    ex.run_until(600)
    assert ex.of("OpenPeriodicEventStream") and not ex.unconfirmed
    _, ex = station(accept_streams)
    ex.run_until(200)
    assert ex.csms("GetPeriodicEventStream", {})["constantStreamData"][0]["id"] == 1
    assert ex.csms("AdjustPeriodicEventStream", {"id": 1, "params": {"interval": 300}})[
        "status"] == "Accepted"
    assert ex.csms("AdjustPeriodicEventStream", {"id": 2, "params": {}})["status"] == "Rejected"
    before = len(ex.unconfirmed)
    ex.run_until(200 + 1200)
    assert len(ex.unconfirmed) - before in (4, 5)  # every 300 s now


def test_strict_station_answers_a_bad_callresult_with_callresulterror() -> None:
    def bad(action: str, payload: dict[str, Any]) -> Any:
        return {"status": 5} if action == "StatusNotification" else default_answer(V21)(
            action, payload)
    st, ex = station(bad, strict=True)
    errs = [m for _, m in ex.unconfirmed if m[0] == 5]
    assert errs and errs[0][2] == "FormatViolation"  # no such property in the response
    assert sum(st.rec.wire.resulterrors_sent.values()) == len(errs)
    st.on_frame(b'[5,"csms-9","FormatViolation","no",{}]', ex.now)  # and one received
    assert st.rec.wire.resulterrors_received == {"2.1/FormatViolation": 1}
    st.on_frame(b'[6,"x","NotifyPeriodicEventStream",{}]', ex.now)  # a CSMS never SENDs
    assert st.rec.faults["unexpected_send"] == 1 and not st.out
