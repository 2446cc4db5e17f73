"""Shared, cached plans: the validation tests look at the same simulated fleets."""

from __future__ import annotations

from functools import cache

from fleetsim.drivers import StationPlan, plan_archetype


@cache
def planned(name: str, *, stations: int, days: float, seed: int = 11,
            connectors: int | None = None) -> tuple[StationPlan, ...]:
    """Plans of one archetype (cached across tests; plans are immutable)."""
    return tuple(plan_archetype(name, stations=stations, days=days, seed=seed,
                                connectors=connectors))
