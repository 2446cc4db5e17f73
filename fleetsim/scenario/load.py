"""The ``load:`` section: how many stations are online over the run (a ramp shape).

Without it the whole fleet connects at ``stations.connect_rate`` and stays. With
it, the number of connected stations follows a shape over *wall* time::

    load: {shape: linear, ramp: 60s}                        # 0 → count in 60 s, then hold
    load: {shape: steps, step: 100, hold: 30s}              # +100 stations every 30 s
    load: {shape: spike, base: 50%, peak: 100%, at: 60s, length: 20s}
    load: {shape: daily, profile: [0.2, 0.1, …, 0.4]}      # 24 hourly shares, simulated time

Counts are whole stations or shares of ``stations.count`` (``"40%"``) and never
exceed the fleet. ``daily`` reads its 24-hour profile on the *simulated* clock,
so ``clock.time_factor`` compresses a day into minutes. ``spawn_rate`` (stations
started or stopped per wall second) defaults to ``stations.connect_rate``.
:meth:`LoadShape.users_at` is pure: the Locust adapter wraps it in a
``LoadTestShape``, and tests call it directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum

from fleetsim.scenario.reader import Node

__all__ = ["DEFAULT_DAILY_PROFILE", "LoadShape", "ShapeKind", "parse_load"]

# Share of the fleet online per simulated hour of day (00:00 … 23:00): quiet nights,
# a morning ramp and an evening peak, as charging-site connectivity tends to look.
DEFAULT_DAILY_PROFILE = (0.35, 0.3, 0.3, 0.3, 0.35, 0.45, 0.6, 0.75, 0.85, 0.9, 0.9, 0.9,
                         0.9, 0.9, 0.9, 0.9, 0.95, 1.0, 1.0, 0.95, 0.85, 0.7, 0.55, 0.45)


class ShapeKind(StrEnum):
    LINEAR = "linear"
    STEPS = "steps"
    SPIKE = "spike"
    DAILY = "daily"


@dataclass(frozen=True, slots=True)
class LoadShape:
    """A validated ``load:`` section; counts already resolved to stations."""

    kind: ShapeKind
    count: int  # the fleet: no shape goes above it
    duration_s: float  # wall seconds; after it the shape ends the test
    spawn_rate: float  # stations per wall second, up or down
    ramp_s: float = 0.0  # linear: 0 → count over ramp_s
    step: int = 0  # steps: stations added per step
    hold_s: float = 0.0  # steps: wall seconds per step
    base: int = 0  # spike: stations before and after
    peak: int = 0  # spike: stations during
    at_s: float = 0.0  # spike: start [wall s]
    length_s: float = 0.0  # spike: duration [wall s]
    profile: tuple[float, ...] = ()  # daily: 24 shares, hour 0 … 23 (simulated)
    time_factor: float = 1.0  # daily: simulated seconds per wall second
    start_hour: float = 0.0  # daily: simulated hour of day at wall time 0

    def users_at(self, t_s: float) -> int | None:
        """Stations that should be online ``t_s`` wall seconds in; None once the run is over."""
        if t_s >= self.duration_s:
            return None
        if self.kind is ShapeKind.LINEAR:
            if self.ramp_s <= 0 or t_s >= self.ramp_s:
                return self.count
            return min(self.count, math.floor(self.count * t_s / self.ramp_s))
        if self.kind is ShapeKind.STEPS:
            return min(self.count, self.step * (1 + math.floor(t_s / self.hold_s)))
        if self.kind is ShapeKind.SPIKE:
            return self.peak if self.at_s <= t_s < self.at_s + self.length_s else self.base
        hour = (self.start_hour + t_s * self.time_factor / 3600.0) % 24.0
        lo = int(hour)
        frac = hour - lo
        share = self.profile[lo] * (1 - frac) + self.profile[(lo + 1) % 24] * frac
        return min(self.count, round(self.count * share))


def _count(n: Node, name: str, count: int, default: object) -> int:
    """Whole stations or ``"NN%"`` of the fleet, clamped to the fleet."""
    v = n.raw(name, default)
    if v is None:
        raise n.error("is required", name)
    if isinstance(v, str) and v.strip().endswith("%"):
        try:
            share = float(v.strip()[:-1]) / 100.0
        except ValueError:
            raise n.error(f"expected stations or a share like '40%', got {v!r}", name) from None
        if not 0.0 <= share <= 1.0:
            raise n.error(f"share must be between 0% and 100%, got {v!r}", name)
        return round(count * share)
    if isinstance(v, bool) or not isinstance(v, int):
        raise n.error(f"expected whole stations or a share like '40%', got {v!r}", name)
    if v < 0:
        raise n.error(f"must be >= 0, got {v}", name)
    return min(v, count)


def parse_load(n: Node, *, count: int, duration_s: float, connect_rate: float,
               time_factor: float, start_hour: float) -> LoadShape | None:
    """The ``load:`` mapping as a :class:`LoadShape` (None when the section is absent)."""
    if not n.data:
        return None
    kind_text = n.string("shape", choices=tuple(k.value for k in ShapeKind))
    kind = ShapeKind(kind_text)
    rate = n.number("spawn_rate", connect_rate, minimum=0.0, exclusive_min=True)
    shape = LoadShape(kind=kind, count=count, duration_s=duration_s, spawn_rate=rate)
    if kind is ShapeKind.LINEAR:
        shape = replace(shape, ramp_s=n.duration_s("ramp", "0s"))
    elif kind is ShapeKind.STEPS:
        step = _count(n, "step", count, None)
        if step < 1:
            raise n.error("must add at least one station per step", "step")
        shape = replace(shape, step=step, hold_s=n.duration_s("hold", positive=True))
    elif kind is ShapeKind.SPIKE:
        at_s = n.duration_s("at")
        if at_s >= duration_s:
            raise n.error(f"the spike starts after the run ends ({duration_s:g} s)", "at")
        shape = replace(shape, base=_count(n, "base", count, "50%"),
                        peak=_count(n, "peak", count, "100%"), at_s=at_s,
                        length_s=n.duration_s("length", positive=True))
    else:
        shape = replace(shape, profile=_profile(n), time_factor=time_factor,
                        start_hour=start_hour)
    n.finish()
    return shape


def _profile(n: Node) -> tuple[float, ...]:
    v = n.raw("profile", list(DEFAULT_DAILY_PROFILE))
    if not isinstance(v, list) or len(v) != 24:
        raise n.error("expected 24 shares (hour 0 to 23 of the simulated day), e.g. "
                      "[0.3, 0.3, …, 0.5]", "profile")
    out = []
    for i, x in enumerate(v):
        if isinstance(x, bool) or not isinstance(x, int | float) or not 0.0 <= x <= 1.0:
            raise n.error(f"share must be a number between 0 and 1, got {x!r}", f"profile[{i}]")
        out.append(float(x))
    return tuple(out)
