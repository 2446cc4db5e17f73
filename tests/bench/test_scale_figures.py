"""The scale bench's steady-state figures from its samples (pure logic, no processes)."""

from __future__ import annotations

import argparse
from pathlib import Path
from types import SimpleNamespace

from fleetsim.bench.scale import Sample, _figures

ROLES = {"fleetsim run": 50, "locust master": 100, "locust worker": 300, "engine": 1000}


def test_a_role_seen_only_at_the_stop_does_not_hide_the_steady_state(tmp_path: Path) -> None:
    """The hold's samples are the steady state even when the stop's samples carry a role
    the hold never had: a 100,000-station run printed its stop's memory (1.42 GiB) and no
    CPU, because the steady window was cut down to the samples with every role. Nor is
    the stop (past the run's duration, the sink still holding every connection)."""
    samples = []
    for t in range(0, 192, 2):
        held = min(100_000, t * 1000)
        rss = {k: v * 2**20 for k, v in ROLES.items()}
        samples.append(Sample(float(t), held, rss=rss, pss=dict(rss) if t % 10 == 0 else {},
                              cpu_s=t * 1.0, box_busy_s=t * 2.0))
    stopping = {k: (v + 35) * 2**20 for k, v in ROLES.items()}  # the stop allocates
    samples.append(Sample(194.0, 100_000, rss=stopping, pss=stopping, cpu_s=300.0,
                          box_busy_s=500.0))  # past the run's 190 s: the stop
    samples.append(Sample(200.0, 100_000, rss={"engine": 10 * 2**20, "other": 2**20},
                          cpu_s=301.0, box_busy_s=501.0))  # the others have quit
    watch = SimpleNamespace(full_t=100.0, first_t=0.0, peak=100_000)
    f = _figures(argparse.Namespace(stations=100_000, connect_rate=1000, hold=90), tmp_path, watch,  # type: ignore[arg-type]
                 samples, 0)
    assert f["held_steady"] == 100_000
    assert f["rss"] == {k: v * 2**20 for k, v in ROLES.items()}
    assert abs(f["cpu_pct"] - 100.0) < 1e-6 and abs(f["box_pct"] - 200.0) < 1e-6
    assert f["steady_s"] >= 80
