"""OCPP 1.6J station core, driven message by message without sockets."""

from __future__ import annotations

import itertools

import pytest

from fleetsim.scenario.model import OcppVersion
from tests.station.harness import Exchange, default_answer, make, session

V16 = OcppVersion.V16


def test_boot_accepted_then_status_per_connector_and_heartbeats() -> None:
    ex = Exchange(make(V16, connectors=2))
    ex.open()
    assert ex.actions()[:4] == ["BootNotification", "StatusNotification", "StatusNotification",
                                "StatusNotification"]
    assert [p["connectorId"] for p in ex.of("StatusNotification")] == [0, 1, 2]
    ex.run_until(1000)
    beats = [t for t, a, _ in ex.sent if a == "Heartbeat"]
    assert len(beats) == 3 and beats[0] == pytest.approx(300, abs=0.1)  # the interval returned


@pytest.mark.parametrize("status", ["Pending", "Rejected"])
def test_boot_pending_or_rejected_is_retried_after_the_returned_interval(status: str) -> None:
    replies = iter([{"status": status, "currentTime": "2026-01-05T00:00:00Z", "interval": 40},
                    {"status": "Accepted", "currentTime": "2026-01-05T00:00:00Z",
                     "interval": 300}])
    base = default_answer(V16)
    ex = Exchange(make(V16), lambda a, p: next(replies) if a == "BootNotification" else base(a, p))
    ex.open()
    assert ex.actions() == ["BootNotification"]  # nothing else before Accepted
    ex.run_until(39)
    assert ex.actions() == ["BootNotification"]
    ex.run_until(41)
    boots = [t for t, a, _ in ex.sent if a == "BootNotification"]
    assert len(boots) == 2 and boots[1] == pytest.approx(40, abs=0.01)
    assert "StatusNotification" in ex.actions()


def test_full_session_statuses_transaction_and_meter_register() -> None:
    st = make(V16, (session(100, 100 + 3 * 3600, kwh=50),))
    ex = Exchange(st)
    ex.open()
    ex.run_until(4 * 3600)
    acts = ex.actions()
    i = acts.index("Authorize")
    assert acts[i - 1] == "StatusNotification" and ex.sent[i - 1][2]["status"] == "Preparing"
    statuses = [p["status"] for p in ex.of("StatusNotification") if p["connectorId"] == 1]
    assert statuses == ["Available", "Preparing", "Charging", "Finishing", "Available"]
    start, stop = ex.of("StartTransaction")[0], ex.of("StopTransaction")[0]
    assert stop["transactionId"] == 100  # the id the CSMS assigned
    registers = [int(v["value"]) for m in ex.of("MeterValues") for mv in m["meterValue"]
                 for v in mv["sampledValue"] if v["measurand"] == "Energy.Active.Import.Register"]
    assert len(registers) >= 170  # every 60 s for 3 h
    assert registers == sorted(registers)
    assert start["meterStart"] <= registers[0] and registers[-1] <= stop["meterStop"]
    # 11 kW for 3 h is 33 kWh; the car wanted 50: delivered all the time it could
    assert stop["meterStop"] - start["meterStart"] == pytest.approx(33_000, rel=0.01)
    assert all(m["transactionId"] == 100 for m in ex.of("MeterValues"))


def test_car_full_goes_suspended_ev_and_stops_drawing() -> None:
    ex = Exchange(make(V16, (session(0, 4 * 3600, kwh=5.5),)))
    ex.open()
    ex.run_until(5 * 3600)
    statuses = [p["status"] for p in ex.of("StatusNotification") if p["connectorId"] == 1]
    assert "SuspendedEV" in statuses
    full_at = next(t for t, a, p in ex.sent if a == "StatusNotification"
                   and p["status"] == "SuspendedEV")
    assert full_at == pytest.approx(1800, abs=2)  # 5.5 kWh at 11 kW = 30 min
    delivered = ex.of("StopTransaction")[0]["meterStop"] - ex.of("StartTransaction")[0]["meterStart"]
    assert delivered == 5500


def test_unauthorised_tag_starts_no_transaction() -> None:
    base = default_answer(V16)
    ex = Exchange(make(V16, (session(10, 3600),)),
                  lambda a, p: {"idTagInfo": {"status": "Invalid"}} if a == "Authorize"
                  else base(a, p))
    ex.open()
    ex.run_until(4000)
    assert "StartTransaction" not in ex.actions()
    assert ex.st.rec.faults["session_not_authorized"] == 1
    assert [p["status"] for p in ex.of("StatusNotification") if p["connectorId"] == 1][-1] == \
        "Available"


def test_one_outstanding_call_and_latency_from_due_time() -> None:
    st = make(V16, connectors=2)
    st.on_open(0.0)
    assert len(st.out) == 1  # only the BootNotification, the rest waits for its answer
    msg_id = "1"
    st.out.clear()
    st.on_frame(b'[3,"1",{"status":"Accepted","currentTime":"2026-01-05T00:00:00Z",'
                b'"interval":300}]', 2.0)
    assert len(st.out) == 1 and msg_id != "2"
    # the 3 StatusNotifications became due at 2.0; the third waits for the first two
    for i, t in zip(itertools.count(2), (2.5, 3.0, 3.5), strict=False):
        st.out.clear()
        st.on_frame(f'[3,"{i}",{{}}]'.encode(), t)
    sn = st.rec.actions["1.6/StatusNotification"]
    h = sn.response  # from due: the third waited 1 s behind the two before it
    assert h.count == 3 and h.max_ms() == pytest.approx(1500, rel=0.002)
    assert sn.service.max_ms() == pytest.approx(500, rel=0.002)  # what the CSMS took
    assert sn.queued_by["own_calls"][0] == 2 and sn.queued_by["own_calls"][2] == pytest.approx(1.0)
    assert st.rec.actions["1.6/BootNotification"].service.max_ms() == pytest.approx(2000, rel=0.002)


def test_callerror_and_garbage_are_counted_not_raised() -> None:
    st = make(V16)
    st.on_open(0.0)
    st.on_frame(b'[4,"1","InternalError","boom",{}]', 0.1)
    assert st.rec.actions["1.6/BootNotification"].errors["CALLERROR:InternalError"] == 1
    for junk in (b"not json", b"[]", b'{"a":1}', b'[9,"x",{}]', b'[3,"nope",{}]'):
        st.on_frame(junk, 0.2)
    assert sum(st.rec.faults.values()) == 5


def test_unknown_csms_call_gets_not_implemented() -> None:
    st = make(V16)
    st.on_open(0.0)
    st.out.clear()
    st.on_frame(b'[2,"c1","FooBar",{}]', 0.1)
    assert st.out == [b'[4,"c1","NotImplemented","FooBar is not implemented by fleetsim",{}]']



def test_heartbeats_do_not_pile_up_behind_an_unanswered_one() -> None:
    from fleetsim.station import StationConfig

    st = make(V16, config=StationConfig(heartbeat_interval_s=10, call_timeout_wall_s=1e6))
    ex = Exchange(st)
    ex.open()  # booted; from here on nothing is answered
    for k in range(1, 101):  # 1,000 s: 100 beats fall due while the first is unanswered
        st.on_timer(ex.now + k * 10)
    assert st.rec.actions["1.6/Heartbeat"].sent == 1
    assert st.queued == 1



def test_closed_loop_heartbeat_sends_the_next_when_answered() -> None:
    from fleetsim.station import StationConfig

    st = make(V16, config=StationConfig(heartbeat_interval_s=300, closed_loop_heartbeat=True))
    st.on_open(0.0)
    frames_seen: list[bytes] = []
    for k in range(60):  # answer whatever is in flight: boot, statuses, then heartbeats
        assert len(st.out) == 1, "exactly one CALL in flight at a time"
        frame = st.out.pop()
        frames_seen.append(frame)
        msg_id = frame.split(b'"')[1]
        body = (b'{"status":"Accepted","currentTime":"2026-01-05T00:00:00Z","interval":300}'
                if b'"BootNotification"' in frame else b'{"currentTime":"2026-01-05T00:00:00Z"}')
        st.on_frame(b'[3,"' + msg_id + b'",' + body + b"]", 0.001 * (k + 1))
    beats = [f for f in frames_seen if b'"Heartbeat"' in f]
    assert len(beats) >= 55  # after boot and statuses, each answer brings the next beat at once
    assert st.queued == 1
