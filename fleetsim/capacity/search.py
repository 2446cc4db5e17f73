"""The step logic of a capacity search, pure: levels in, the knee out.

Each level is a complete run at that many stations; a level *passes* when every
SLO holds and the generator was valid (a saturated generator says nothing about
the CSMS, so the search stops there too, with that reason). The knee is the last
passing level.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["CapacityResult", "Level", "search"]


@dataclass(frozen=True, slots=True)
class Level:
    """What one step measured."""

    stations: int
    passed: bool
    reasons: tuple[str, ...]
    messages_per_s: float
    worst_p99_ms: float
    generator_valid: bool
    results_dir: str
    overload: str = ""  # the first saturation, e.g. "engine w000-p12: CPU 100 % … from t=4 s"


@dataclass(frozen=True, slots=True)
class CapacityResult:
    levels: tuple[Level, ...] = field(default_factory=tuple)

    @property
    def knee(self) -> int | None:
        """Stations at the last passing level (None: even the first level failed)."""
        passing = [lv.stations for lv in self.levels if lv.passed]
        return passing[-1] if passing else None

    @property
    def stopped_by(self) -> str:
        failed = [lv for lv in self.levels if not lv.passed]
        if not failed:
            return "every level passed: raise --max to find the knee"
        return f"{failed[0].stations} stations: " + "; ".join(failed[0].reasons)

    def to_json(self) -> dict[str, Any]:
        return {"knee_stations": self.knee, "stopped_by": self.stopped_by,
                "levels": [asdict(lv) for lv in self.levels]}


def search(levels: Iterable[int], run_level: Callable[[int], Level],
           on_level: Callable[[Level], None] | None = None) -> CapacityResult:
    """Run levels in order until one fails; the failing level is kept in the result."""
    done: list[Level] = []
    for n in levels:
        lv = run_level(n)
        done.append(lv)
        if on_level is not None:
            on_level(lv)
        if not lv.passed:
            break
    return CapacityResult(levels=tuple(done))
