"""Transaction-message retries on a virtual clock (1.6 §4.10, 2.0.1 E13 / OCPPCommCtrlr).

With 3 attempts and a 60 s interval a rejected StopTransaction / TransactionEvent goes
out at t, t+60 s and t+180 s (interval × attempts so far), each time with a new message
id, and not again. Meanwhile no other transaction message is sent (their order is kept),
but everything else flows (issue #12: a retry must not freeze the station).
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from fleetsim.scenario.model import OcppVersion
from fleetsim.station import StationConfig
from tests.station.harness import Exchange, default_answer, make, session

REJECTED = {OcppVersion.V16: "StopTransaction", OcppVersion.V201: "TransactionEvent"}


def rejecting(v: OcppVersion) -> tuple[Exchange, list[tuple[float, str, str, dict[str, Any]]]]:
    cfg = StationConfig(meter_interval_s=10_000, heartbeat_interval_s=100_000,
                        tx_message_attempts=3, tx_retry_interval_s=60)
    ex = Exchange(make(v, (session(100, 1000),), config=cfg))
    answer = default_answer(v)
    log: list[tuple[float, str, str, dict[str, Any]]] = []

    def pump() -> None:
        while ex.st.out:
            frames, ex.st.out = list(ex.st.out), []
            calls = [orjson.loads(f) for f in frames]
            assert len([c for c in calls if c[0] == 2]) <= 1, "one outstanding CALL"
            for _, msg_id, action, payload in calls:
                log.append((ex.now, msg_id, action, payload))
                ex.now += 0.001
                ended = action == "TransactionEvent" and payload["eventType"] == "Ended"
                if action == "StopTransaction" or ended:
                    frame = orjson.dumps([4, msg_id, "InternalError", "not now", {}])
                else:
                    frame = orjson.dumps([3, msg_id, answer(action, payload)])
                ex.st.on_frame(frame, ex.now)

    ex.pump = pump  # type: ignore[method-assign]
    return ex, log


def is_rejected(v: OcppVersion, action: str, payload: dict[str, Any]) -> bool:
    return action == REJECTED[v] and (v is OcppVersion.V16 or payload["eventType"] == "Ended")


@pytest.mark.parametrize("v", [OcppVersion.V16, OcppVersion.V201])
def test_rejected_transaction_message_is_sent_three_times_then_the_queue_moves_on(
        v: OcppVersion) -> None:
    ex, log = rejecting(v)
    ex.open()
    ex.run_until(2000)
    tries = [(t, mid) for t, mid, a, p in log if is_rejected(v, a, p)]
    assert len(tries) == 3, tries  # and not again
    t0 = tries[0][0]
    assert t0 == pytest.approx(1000, abs=1)
    assert [t - t0 for t, _ in tries] == pytest.approx([0, 60, 180], abs=1)
    assert len({mid for _, mid in tries}) == 3  # each attempt is a new CALL
    # between the first and the last attempt no other transaction message went out, but
    # the rest did: the StatusNotification that followed the stop right away
    between = [(t, a) for t, _, a, p in log if tries[0][0] < t < tries[-1][0]
               and not is_rejected(v, a, p)]
    assert between and between[0][0] - t0 < 0.01
    assert {a for _, a in between} == {"StatusNotification"}
    st = ex.st.rec.actions[f"{v.value}/{REJECTED[v]}"]
    # one message that finally failed: one error, two retried attempts, three samples
    assert st.errors["CALLERROR:InternalError"] == 1
    assert st.retried["CALLERROR:InternalError"] == 2
    assert st.service.count == st.answered + 3  # (2.0.1: Started/Updated were answered)


def test_2x_message_attempts_and_interval_come_from_the_device_model() -> None:
    ex, log = rejecting(OcppVersion.V201)
    ex.open()
    var = [{"component": {"name": "OCPPCommCtrlr"},
            "variable": {"name": n, "instance": "TransactionEvent"}, "attributeValue": v}
           for n, v in (("MessageAttempts", "2"), ("MessageAttemptInterval", "30"))]
    result = ex.csms("SetVariables", {"setVariableData": var})["setVariableResult"]
    assert {r["attributeStatus"] for r in result} == {"Accepted"}
    ex.run_until(2000)
    tries = [t for t, _, a, p in log if is_rejected(OcppVersion.V201, a, p)]
    assert [t - tries[0] for t in tries] == pytest.approx([0, 30], abs=1)
