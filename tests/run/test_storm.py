"""Storm figures from per-second intervals around an injected event (pure)."""

from __future__ import annotations

from fleetsim.metrics.histogram import LatencyHistogram
from fleetsim.metrics.recorder import DRAIN_KEY, IntervalStats
from fleetsim.run.storm import storm_figures


def row(t: float, connected: float, booted: float, queued: float = 0,
        drains: tuple[float, ...] = ()) -> IntervalStats:
    st = IntervalStats(index=int(t), t_s=t, gauges={"connected": connected, "booted": booted,
                                                    "offline_queued": queued,
                                                    "offline_queue_max": queued / 10})
    if drains:
        h = st.hists[DRAIN_KEY] = LatencyHistogram(significant_figures=2)
        for d in drains:
            h.record_s(d)
    return st


def test_times_are_counted_from_the_event_to_the_fleet_being_back() -> None:
    rows = [row(1, 100, 100), row(2, 100, 100),                  # the event at 2.0 s
            row(3, 0, 0, 300), row(4, 20, 20, 500), row(5, 90, 60, 200, (0.1, 0.2)),
            row(6, 99, 95, 40, (0.3,)), row(7, 100, 100, 0, (0.4,)), row(8, 100, 100)]
    [f] = storm_figures(rows, [{"kind": "csms_restart", "at_s": 2.0, "stations": 0}])
    assert f["disconnected"] == 100 and f["connected_before"] == 100
    assert (f["t_99_connected_s"], f["t_100_connected_s"], f["t_all_accepted_s"]) == (4, 5, 5)
    replay = f["offline_replay"]
    assert replay["max_queued_fleet"] == 500 and replay["max_queue_depth"] == 50
    assert replay["drains"] == 4 and 0.39 <= replay["drain_s_max"] <= 0.41


def test_each_event_has_its_window_and_unreached_figures_are_null() -> None:
    rows = [row(t, c, c) for t, c in ((1, 50), (2, 50), (3, 25), (4, 50), (5, 50), (6, 10),
                                      (7, 30))]
    a, b = storm_figures(rows, [{"kind": "disconnect_dirty", "at_s": 5.0, "stations": 40},
                                {"kind": "disconnect_dirty", "at_s": 2.0, "stations": 25}])
    assert (a["event_at_s"], a["t_100_connected_s"]) == (2.0, 2)
    assert b["disconnected"] == 40 and b["t_100_connected_s"] is None
    assert storm_figures(rows, [{"kind": "x", "at_s": 0.5}]) == []  # nothing before it


def test_the_runs_own_stop_is_no_storm() -> None:
    """The run's end closes every station (paced, so it shows in the intervals): the
    recovery is measured up to the stop, not from the stop's trough of 0."""
    rows = [row(t, c, c) for t, c in ((1, 60), (2, 60), (3, 30), (4, 60), (5, 60), (6, 30),
                                      (7, 0))]
    [f] = storm_figures(rows, [{"kind": "disconnect_dirty", "at_s": 2.0}], until_s=6.0)
    assert f["disconnected"] == 30 and f["t_100_connected_s"] == 2
    [g] = storm_figures(rows, [{"kind": "disconnect_dirty", "at_s": 2.0}])
    assert g["t_100_connected_s"] is None  # the stop's trough, never recovered from
