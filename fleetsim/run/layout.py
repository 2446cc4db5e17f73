"""How many engine processes a fleet needs when the user did not say (``--workers`` unset).

Two limits decide: the cores (one engine per core keeps every core busy) and the
per-process descriptor limit (one socket per station; on this box 20,000 per
process, a hard limit). The layout is the larger of the two counts, and the run
says which it picked and why, so nobody has to do the arithmetic.

Ports are the third limit, and no process layout lifts it: a connection from one source
address to one CSMS address and port takes one of the ephemeral ports. Linux's
``connect()`` takes the ports of one parity first, then scans that used half for every
connect before it tries the other: past half the range per source address, a connect
cost 100× the kernel CPU (30–40 ms per 1,000 connects below, 2.8–4.5 s above; 14,000
of 28,232 ports here). At 100,000 stations over four addresses the box spent 75 % of its
CPU in the kernel and the ramp stopped at 70,000 (issue 13). :func:`ports_note` says so
before the run; more ``stations.source_addresses`` (127.0.0.x) fix it.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["FILL", "Layout", "ephemeral_ports", "pick_layout", "ports_note"]

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


def ephemeral_ports(path: Path = Path("/proc/sys/net/ipv4/ip_local_port_range")) -> int:
    """How many ephemeral ports one source address has toward one destination."""
    try:
        lo, hi = (int(x) for x in path.read_text().split())
    except (OSError, ValueError):
        lo, hi = 32768, 60999  # Linux's default
    return max(0, hi - lo + 1)


def ports_note(stations: int, sources: int, ports: int | None = None) -> str | None:
    """A one-line warning when ``stations`` over ``sources`` addresses (0: the default
    route's one) need more than half the ephemeral range per address, else None."""
    ports = ephemeral_ports() if ports is None else ports
    per = math.ceil(stations / max(1, sources))
    if per <= ports // 2:
        return None
    need = math.ceil(stations / (ports // 2)) if ports >= 2 else 0
    what = ("more than this address has: connects will fail" if per > ports else
            "more than half of them: the kernel scans the used half for each new port "
            "(100x the CPU per connect, measured)")
    return (f"{per:,} stations per source address need {per:,} of its {ports:,} ephemeral "
            f"ports, {what}; give stations.source_addresses {need} or more addresses "
            "(127.0.0.x on loopback)")
