"""Simulated time for stations: the engine owns the clock, models never read time.

Stations keep their timers in *wall* seconds of the engine's monotonic clock
(what latency is measured in).

Which timers compress (``factor`` simulated seconds per wall second):

- driver sessions and the physics (arrival, departure, energy drawn, firmware steps):
  simulated seconds, divided by ``factor``;
- protocol intervals (heartbeat, meter sampling, clock-aligned readings, boot and
  transaction-message retries, reconnect backoff, OfflineThreshold): wall seconds, as
  on a real station, so a compressed fleet sends what a real fleet sends per station.
  What the CSMS sets always means wall seconds; the scenario's own intervals are
  divided by ``factor`` only when it asks (``clock.intervals: simulated``);
- message timestamps: the simulated clock, or the wall clock (``wall_timestamps``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["Clock", "iso_ms"]


_last_whole = -1
_last_text = ""


def iso_ms(unix_s: float) -> str:
    """UTC ``YYYY-MM-DDTHH:MM:SS.mmmZ``: at most 3 fractional digits, as strict CSMSs demand.

    Every message carries one, and a fleet stamps thousands a second within the same
    second, so the ``YYYY-MM-DDTHH:MM:SS`` part of the last second is kept (issue 17: the
    ``gmtime``/``strftime`` pair was ~3 % of the engine's CPU)."""
    global _last_whole, _last_text
    whole = int(unix_s)
    if whole != _last_whole:
        _last_whole, _last_text = whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    return f"{_last_text}.{int((unix_s - whole) * 1000):03d}Z"


@dataclass(frozen=True, slots=True)
class Clock:
    """Maps engine wall time (monotonic seconds) to simulated and calendar time.

    ``wall0`` is the monotonic instant at which the simulated clock reads ``epoch``;
    ``unix0`` is the Unix time at ``wall0`` (for wall-clock timestamps).
    """

    wall0: float
    epoch_unix: float
    factor: float = 1.0
    unix0: float = 0.0
    wall_timestamps: bool = False

    @classmethod
    def start(cls, *, epoch: datetime | None, factor: float, wall_timestamps: bool,
              monotonic: float, unix: float) -> Clock:
        epoch_unix = epoch.astimezone(UTC).timestamp() if epoch else unix
        return cls(wall0=monotonic, epoch_unix=epoch_unix, factor=factor, unix0=unix,
                   wall_timestamps=wall_timestamps)

    def sim_s(self, wall: float) -> float:
        """Simulated seconds since the epoch at engine time ``wall``."""
        return (wall - self.wall0) * self.factor

    def wall(self, sim_s: float) -> float:
        """Engine time at which the simulated clock reads ``sim_s``."""
        return self.wall0 + sim_s / self.factor

    def interval_wall(self, sim_interval_s: float) -> float:
        """A simulated interval expressed in wall seconds."""
        return sim_interval_s / self.factor

    def unix(self, wall: float) -> float:
        """Calendar time stamped into messages at engine time ``wall``."""
        if self.wall_timestamps:
            return self.unix0 + (wall - self.wall0)
        return self.epoch_unix + (wall - self.wall0) * self.factor

    def wall_of_unix(self, unix_s: float) -> float:
        """Engine time at which the stamped calendar time reads ``unix_s`` (inverse of unix)."""
        if self.wall_timestamps:
            return self.wall0 + (unix_s - self.unix0)
        return self.wall0 + (unix_s - self.epoch_unix) / self.factor

    def calendar_unix(self, wall: float) -> float:
        """The real calendar time (Unix s) at engine time ``wall``, whatever the stamps."""
        return self.unix0 + (wall - self.wall0)

    def wall_of_calendar(self, unix_s: float) -> float:
        """Engine time at which the real calendar reads ``unix_s`` (inverse of calendar_unix)."""
        return self.wall0 + (unix_s - self.unix0)

    def iso(self, wall: float) -> str:
        return iso_ms(self.unix(wall))
