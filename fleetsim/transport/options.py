"""What an engine is given and what it returns: its wall-time settings, its report, and
the sockets this process may still open."""

from __future__ import annotations

import resource
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field

from fleetsim.metrics.recorder import Recorder

__all__ = ["EngineOptions", "EngineReport", "fd_headroom"]

FD_RESERVE = 64  # descriptors kept for files, pipes and the loop itself


def fd_headroom() -> int:
    """How many more sockets this process may open (RLIMIT_NOFILE minus a reserve)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return max(0, soft - FD_RESERVE)


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """Wall-time settings of one engine."""

    connect_rate_per_s: float = 100.0
    stop_rate_per_s: float | None = None  # the run's end, stations a second; None: connect's
    connect_timeout_s: float = 10.0
    stop_grace_s: float = 10.0
    # the end of a run stops open transactions spread over this many wall seconds (station k
    # of N at k/N of it): a real fleet never stops in one millisecond; 0 = the stop burst
    stop_spread_s: float = 0.0
    interval_s: float = 1.0
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 60.0
    password: str | None = None
    ssl_context: ssl.SSLContext | None = None
    # security profile 3: each station's own client certificate (station id → context)
    ssl_context_for: Callable[[str], ssl.SSLContext] | None = None
    source_addresses: tuple[str, ...] = ()
    unreachable_after: int = 20  # attempts with no success at all → CsmsUnreachable
    # True: stations that lost their connection reconnect per OCPP version as the scenario's
    # reconnect: says (transport/backoff.py); first connects, and everything when False, use
    # the generic exponential backoff of backoff_base_s/backoff_cap_s
    reconnect_per_version: bool = False
    compression: bool = False  # csms.compression: deflate — offer permessage-deflate


@dataclass(slots=True)
class EngineReport:
    """What the engine measured, for the results writer."""

    recorder: Recorder
    stations: int
    connected_max: int
    booted: int
    wall_s: float
    cpu_percent: float
    connect_failures: dict[str, int] = field(default_factory=dict)
    first_error: str | None = None
    stopped_early: bool = False  # ``stop`` was set (e.g. Ctrl-C) before the duration ran out
