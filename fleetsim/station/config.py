"""Per-station settings the engine derives once from the scenario."""

from __future__ import annotations

from dataclasses import dataclass

from fleetsim.scenario.model import DEFAULT_MEASURANDS

__all__ = ["StationConfig"]


@dataclass(frozen=True, slots=True)
class StationConfig:
    """Station behaviour; ``*_s`` intervals are simulated seconds, ``*_wall_s`` wall seconds."""

    vendor: str = "fleetsim"
    model: str = "SimStation"
    firmware: str = "0.1.0"
    meter_interval_s: float = 60.0
    heartbeat_interval_s: float | None = None  # None: the interval the CSMS returns
    boot_retry_default_s: float = 30.0         # when Pending/Rejected come with interval 0
    measurands: tuple[str, ...] = DEFAULT_MEASURANDS
    authorize: bool = True
    call_timeout_wall_s: float = 30.0
    reboot_on_reconnect: bool = True
