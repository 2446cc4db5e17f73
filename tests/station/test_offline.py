"""Offline behaviour: charging goes on, transaction messages queue and replay in order."""

from __future__ import annotations

import itertools
from typing import Any

import orjson
import pytest

from fleetsim.scenario.model import OcppVersion
from fleetsim.station import StationConfig
from tests.station.harness import Exchange, default_answer, make, session


def station(v: OcppVersion, *sessions: Any, **cfg: Any) -> Exchange:
    config = StationConfig(meter_interval_s=300, heartbeat_interval_s=600, **cfg)
    return Exchange(make(v, tuple(sessions), connectors=1, config=config))


def test_16_offline_session_is_replayed_in_order_with_lazy_transaction_id() -> None:
    ex = station(OcppVersion.V16, session(1000, 3000, kwh=5))
    ex.open()
    n0 = len(ex.sent)
    ex.st.on_close(ex.now)
    ex.run_until(4000)  # the whole session happens offline
    assert len(ex.sent) == n0  # nothing could go out
    assert ex.st.rec.offline_max_depth == 2 + 6  # Start, 6 meter values, Stop
    ex.now = 5000.0
    ex.open()
    replay = [a for _, a, _ in ex.sent[n0:] if a not in (
        "BootNotification", "StatusNotification",
        "SecurityEventNotification")]  # 4000 s offline: a long outage (outage_event_s)
    assert replay == ["StartTransaction"] + ["MeterValues"] * 6 + ["StopTransaction"]
    tx_id = 100  # the harness CSMS's first transactionId
    assert {p["transactionId"] for p in ex.of("MeterValues")} == {tx_id}
    assert ex.of("StopTransaction")[0]["transactionId"] == tx_id
    regs = [int(v["value"]) for p in ex.of("MeterValues") for v in
            p["meterValue"][0]["sampledValue"] if v["measurand"] == "Energy.Active.Import.Register"]
    assert regs == sorted(regs) and ex.of("StopTransaction")[0]["meterStop"] == 5000
    # the session's StatusNotifications were dropped (not transaction-related)
    offline_statuses = [p for t, a, p in ex.sent[n0:] if a == "StatusNotification"]
    assert [p["status"] for p in offline_statuses] == ["Available", "Available"]  # after boot
    rec = ex.st.rec
    assert rec.offline_replayed == 8 and rec.offline_drain.count == 1


@pytest.mark.parametrize("v", [OcppVersion.V201, OcppVersion.V21])
def test_2x_offline_events_carry_offline_flag_and_contiguous_seq_no(v: OcppVersion) -> None:
    ex = station(v, session(1000, 3000, kwh=5))
    ex.open()
    ex.run_until(1500)  # started online
    n0 = len(ex.of("TransactionEvent"))
    ex.st.on_close(ex.now)
    ex.run_until(4000)
    ex.now = 5000.0
    ex.open()
    events = ex.of("TransactionEvent")
    assert [e["seqNo"] for e in events] == list(range(len(events)))
    assert all(e.get("offline") for e in events[n0:]) and not any(
        e.get("offline") for e in events[:n0])
    assert events[-1]["eventType"] == "Ended"
    assert ex.st.rec.offline_replayed == len(events) - n0


def test_bounded_queue_drops_oldest_meter_values_first() -> None:
    ex = station(OcppVersion.V16, session(1000, 10_000, kwh=50), offline_queue_max=5)
    ex.open()
    ex.st.on_close(ex.now)
    ex.run_until(11_000)
    assert ex.st.queued == 5 and ex.st.rec.offline_dropped > 0
    ex.open()
    replay = [a for _, a, _ in ex.sent if a in ("StartTransaction", "MeterValues",
                                                  "StopTransaction")]
    assert replay[0] == "StartTransaction" and replay[-1] == "StopTransaction"
    assert len(replay) == 5
    times = [p["meterValue"][0]["timestamp"] for p in ex.of("MeterValues")]
    assert times == sorted(times) and times[-1] > "2026-01-05T02:40"  # the newest were kept


def test_transaction_message_retried_after_callerror_then_given_up() -> None:
    """1.6 §4.10: retried TransactionMessageAttempts times, RetryInterval x attempt apart."""
    ex = station(OcppVersion.V16, session(100, 3000), tx_message_attempts=3,
                 tx_retry_interval_s=10)
    answer = default_answer(OcppVersion.V16)
    failures = itertools.count()

    def pump() -> None:  # a CSMS that answers StartTransaction with CALLERROR twice
        while ex.st.out:
            frames, ex.st.out = list(ex.st.out), []
            for raw in frames:
                _, msg_id, action, payload = orjson.loads(raw)
                ex.sent.append((ex.now, action, payload))
                ex.now += 0.001
                if action == "StartTransaction" and next(failures) < 2:
                    frame = orjson.dumps([4, msg_id, "InternalError", "try later", {}])
                else:
                    frame = orjson.dumps([3, msg_id, answer(action, payload)])
                ex.st.on_frame(frame, ex.now)

    ex.pump = pump  # type: ignore[method-assign]
    ex.open()
    ex.run_until(200)
    starts = [t for t, a, _ in ex.sent if a == "StartTransaction"]
    assert len(starts) == 3
    assert starts[1] - starts[0] == pytest.approx(10, abs=0.01)   # interval x 1
    assert starts[2] - starts[1] == pytest.approx(20, abs=0.01)   # interval x 2
    st = ex.st.rec.actions["1.6/StartTransaction"]
    # one message, answered at the third attempt: no error, two retried attempts
    assert not st.errors and st.retried["CALLERROR:InternalError"] == 2
    assert (st.sent, st.first) == (3, 1)


def test_strict_mode_counts_schema_violations_per_action() -> None:
    base = default_answer(OcppVersion.V201)

    def answer(action: str, payload: dict[str, Any]) -> Any:
        if action == "BootNotification":
            return {"status": "Accepted", "interval": 300}  # currentTime missing
        if action == "Heartbeat":
            return {"currentTime": 5}
        return base(action, payload)

    ex = Exchange(make(OcppVersion.V201, config=StationConfig(strict=True,
                                                              heartbeat_interval_s=100)), answer)
    ex.open()
    ex.run_until(250)
    assert ex.st.rec.conformance == {"2.0.1/BootNotification.response": 1,
                                     "2.0.1/Heartbeat.response": 2}
    ex.st.on_frame(b'[2,"s1","Reset",{"type":"Later"}]', ex.now)
    assert b'"PropertyConstraintViolation"' in ex.st.out[-1]
    ex.st.on_frame(b'[2,"s2","NoSuchAction",{}]', ex.now)
    assert ex.st.rec.conformance["2.0.1/Reset.request"] == 1
    assert "2.0.1/NoSuchAction.request" not in ex.st.rec.conformance  # no schema to break
