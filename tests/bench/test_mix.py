"""The realistic-mix benchmark compares like with like (issue #17).

Its bare client replays the very frames the full stack sent, captured by the ack
server: the same stations, the same actions, byte for byte. No timing is asserted.
"""

from __future__ import annotations

import itertools
import tracemalloc
from collections import Counter

import orjson

from fleetsim.bench.mix import PROFILES, BenchFeed, measure


def test_bare_client_replays_the_full_stacks_frames_byte_for_byte() -> None:
    stations = 20
    r = measure(PROFILES["busy"], stations, 4.0, warmup_s=1.0)
    full, bare = r["full"], r["bare"]
    assert full["messages"] > 100  # sessions, meter values, status, heartbeats all flowed
    # the bare client sent exactly the captured frames, byte for byte
    assert bare["messages"] == r["captured"]
    replayed = Counter(orjson.loads(f)[2] for f in bare["frames"])
    assert replayed == r["captured_per_action"]
    # and the capture is what the full stack sent in the window (the window's edges are
    # timed in two processes: a frame in flight at an edge may fall on either side, at most
    # one per station at each edge, as a station has one CALL in flight; its 1 s heartbeats
    # are in step, so several can be in flight at once — seen: 5 on a loaded box)
    sent_by_full = Counter({k: n for k, n in full["per_action"].items() if n})
    edge = (replayed - sent_by_full) + (sent_by_full - replayed)
    assert sum(edge.values()) <= 2 * stations, edge
    assert sum(edge.values()) < full["messages"] // 10, edge  # the edges, not the window
    assert {"MeterValues", "StatusNotification", "Heartbeat", "StartTransaction"} <= set(replayed)


def _plan(index: int, until_s: float) -> list[tuple[int, float, float]]:
    feed, out = BenchFeed(PROFILES["realistic"], index), []
    while (s := feed.next()) is not None and s.arrival_s < until_s:
        out.append((s.connector_id, s.arrival_s, s.departure_s))
    return out


def test_the_session_plan_is_seeded_by_the_station_and_drawn_lazily() -> None:
    a = _plan(7, 3600)
    assert a == _plan(7, 3600) and a != _plan(8, 3600)
    assert [t for _, t, _ in a] == sorted(t for _, t, _ in a)  # in arrival order
    stays = [d - t for _, t, d in a]
    assert min(stays) >= 60 and max(stays) <= 120
    for c in (1, 2):  # one car at a time per connector, gaps of 15-30 s between them
        mine = [(t, d) for k, t, d in a if k == c]
        gaps = [t2 - d1 for (_, d1), (t2, _) in itertools.pairwise(mine)]
        assert len(mine) > 20 and min(gaps) >= 15 and max(gaps) <= 30
    # a station holds one planned session per connector, not the run's
    feed = BenchFeed(PROFILES["realistic"], 7)
    tracemalloc.start()
    try:
        held0 = tracemalloc.get_traced_memory()[0]
        for _ in range(1000):
            feed.next()
        grown = tracemalloc.get_traced_memory()[0] - held0
    finally:
        tracemalloc.stop()
    assert grown < 2048, grown  # 1,000 sessions held as objects would be ~200 KiB
