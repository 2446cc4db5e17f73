"""Without ``--workers`` the run picks a layout that fits the descriptor limit and the cores."""

from __future__ import annotations

from fleetsim.run.layout import pick_layout


def test_small_fleet_gets_one_worker_per_core() -> None:
    lay = pick_layout(3000, headroom=19936, cores=2)
    assert lay.workers == 2
    assert "one per core" in lay.describe()


def test_big_fleet_gets_enough_processes_for_its_sockets() -> None:
    lay = pick_layout(100_000, headroom=19936, cores=2)
    assert lay.workers == 6  # 5 would be 20,000 each: over 90 % of the limit
    assert lay.stations / lay.workers <= 19936
    assert "descriptor limit" in lay.describe() and "6 engine workers" in lay.describe()
