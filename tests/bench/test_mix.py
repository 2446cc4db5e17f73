"""The realistic-mix benchmark compares like with like (issue #17).

Its bare client replays the very frames the full stack sent, captured by the ack
server: the same stations, the same actions, byte for byte. No timing is asserted.
"""

from __future__ import annotations

from collections import Counter

import orjson

from fleetsim.bench.mix import PROFILES, measure, plan_sessions


def test_bare_client_replays_the_full_stacks_frames_byte_for_byte() -> None:
    r = measure(PROFILES["busy"], 20, 4.0, warmup_s=1.0)
    full, bare = r["full"], r["bare"]
    assert full["messages"] > 100  # sessions, meter values, status, heartbeats all flowed
    assert bare["messages"] == r["captured"] == full["messages"]
    sent_by_full = {k: n for k, n in full["per_action"].items() if n}
    assert bare["per_action"] == sent_by_full
    assert {"MeterValues", "StatusNotification", "Heartbeat"} <= set(bare["per_action"])


def test_the_session_plan_is_seeded_by_the_station() -> None:
    p = PROFILES["realistic"]
    a, b = plan_sessions(p, 7, 3600), plan_sessions(p, 7, 3600)
    assert a == b and a != plan_sessions(p, 8, 3600)
    stays = [s.departure_s - s.arrival_s for s in a]
    assert min(stays) >= 60 and max(stays) <= 120
    assert Counter(s.connector_id for s in a).keys() == {1, 2}
    assert orjson.dumps([s.arrival_s for s in a]) == orjson.dumps(sorted(s.arrival_s for s in a))
