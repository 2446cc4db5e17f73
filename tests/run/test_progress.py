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
