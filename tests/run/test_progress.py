"""The live line never under-counts: a late engine's last report stands in, marked stale."""

from __future__ import annotations

import io
from pathlib import Path

import orjson

from fleetsim.metrics.recorder import IntervalStats
from fleetsim.run.progress import IntervalTail, ProgressLine


def report(run: Path, engine: str, index: int, connected: int) -> None:
    folder = run / "workers" / engine
    folder.mkdir(parents=True, exist_ok=True)
    st = IntervalStats(index=index, t_s=float(index), gauges={"connected": float(connected),
                                                             "booted": float(connected)})
    with open(folder / "intervals.jsonl", "ab") as f:
        f.write(orjson.dumps(st.to_wire()) + b"\n")


def test_a_late_engine_still_counts_and_is_named_stale(tmp_path: Path) -> None:
    tail = IntervalTail(tmp_path)
    for i in range(3):
        report(tmp_path, "w000", i, 5000)
        report(tmp_path, "w001", i, 7000)
    assert [int(s.gauges["connected"]) for s in tail.poll()] == [12000] * 3
    assert tail.stale == {}
    for i in range(3, 9):  # w001 is CPU-starved: no report for six seconds
        report(tmp_path, "w000", i, 5000)
    out = tail.poll()
    assert out and all(int(s.gauges["connected"]) == 12000 for s in out)
    assert tail.stale == {"w001": out[-1].index - 2}
    buf = io.StringIO()
    ProgressLine(12000, stream=buf)(out[-1], tail.stale)
    assert "12000/12000 connected" in buf.getvalue() and "w001 stale 4 s" in buf.getvalue()
    for i in range(3, 10):  # it catches up: no longer stale, no double count
        report(tmp_path, "w001", i, 7000)
    report(tmp_path, "w000", 9, 5000)
    caught_up = tail.poll()
    assert caught_up[-1].index == 9
    assert all(int(s.gauges["connected"]) == 12000 for s in caught_up)
    assert tail.stale == {}


def _interval(connected: int, sent: int, waited_own: int, service_s: float) -> IntervalStats:
    from collections import Counter

    from fleetsim.metrics.histogram import LatencyHistogram

    h = LatencyHistogram()
    for _ in range(sent):
        h.record_s(service_s)
    return IntervalStats(index=1, t_s=1.0, gauges={"connected": float(connected)},
                         counts=Counter({"sent": sent, "waited_own": waited_own}),
                         hists={"1.6/StatusNotification": h})


def test_pipes_busy_needs_a_busy_pipe_not_just_a_plug_in_burst() -> None:
    # 300 stations, 150 calls/s at 50 ms: each pipe 2.5 % busy; 40 % of the calls waited
    # behind their own station (Status, Authorize, Start back to back), as real stations do
    buf = io.StringIO()
    ProgressLine(300, stream=buf)(_interval(300, 150, 60, 0.05))
    assert "queued own 40%" in buf.getvalue() and "PIPES BUSY" not in buf.getvalue()
    # compressed: 1,500 calls/s from 300 stations at 50 ms is 25 % busy: the line says so
    buf = io.StringIO()
    ProgressLine(300, stream=buf)(_interval(300, 1500, 600, 0.05))
    assert "PIPES BUSY" in buf.getvalue()
