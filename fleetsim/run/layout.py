"""How many engine processes a fleet needs when the user did not say (``--workers`` unset).

Two limits decide: the cores (one engine per core keeps every core busy) and the
per-process descriptor limit (one socket per station; on this box 20,000 per
process, a hard limit). The layout is the larger of the two counts, and the run
says which it picked and why, so nobody has to do the arithmetic.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

__all__ = ["FILL", "Layout", "pick_layout"]

FILL = 0.9  # of a process's descriptors: room for reconnect overlap and the odd log file


@dataclass(frozen=True, slots=True)
class Layout:
    workers: int
    stations: int
    per_process: int  # stations one engine may hold
    cores: int

    def describe(self) -> str:
        by_fd = math.ceil(self.stations / self.per_process) if self.per_process else 0
        why = ("one per core" if self.workers == self.cores and by_fd <= self.cores else
               f"{self.per_process:,} stations per process at most (descriptor limit)")
        return (f"layout: {self.workers} engine workers under Locust for {self.stations:,} "
                f"stations, ~{math.ceil(self.stations / self.workers):,} each ({why}; "
                f"{self.cores} cores); --workers N overrides")


def pick_layout(stations: int, *, headroom: int, cores: int | None = None) -> Layout:
    """The layout for ``stations`` when one process may open ``headroom`` more sockets."""
    cores = max(1, cores or os.cpu_count() or 1)
    per_process = max(1, int(headroom * FILL))
    return Layout(workers=max(cores, math.ceil(stations / per_process)), stations=stations,
                  per_process=per_process, cores=cores)
