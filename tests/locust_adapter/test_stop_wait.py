"""How long a worker waits for its engine child's stop: it grows with the paced end (pure)."""

from __future__ import annotations

from fleetsim.locust_adapter.wire import CHILD_STOP_WAIT_S, child_stop_wait_s
from fleetsim.scenario.model import StationsConfig


def test_the_childs_stop_wait_grows_with_its_paced_end() -> None:
    st = StationsConfig(count=20_000, connect_rate_per_s=1000, stop_spread_s=2.0)
    # 10,000 stations at 1,000/s end over 10 s; the answers, closes and files get the rest
    assert child_stop_wait_s(st, 10_000) == CHILD_STOP_WAIT_S + 10.0
    assert child_stop_wait_s(st, 100) == CHILD_STOP_WAIT_S + 2.0  # the spread asked for
    # one of four engines stops at a quarter of the rate: 2,500 stations take 10 s too
    assert st.end_rate_per_s(4) == 250.0
    assert child_stop_wait_s(st, 2_500, 4) == CHILD_STOP_WAIT_S + 10.0
    # no fleet's settings known: the default spread
    assert child_stop_wait_s(None, 10_000) == CHILD_STOP_WAIT_S + 2.0
