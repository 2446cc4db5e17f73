"""How long a station waits before its next connection attempt: pure, seeded by the caller.

Each policy maps (attempt number, the previous wait, one uniform draw ``u`` ∈ [0, 1))
to the next wait in wall seconds. Attempt 1 is the first attempt after the station
lost (or never got) its connection. ``u`` comes from the station's own seeded
stream (``SeedSequence(seed, spawn_key=(index, 5))``, :func:`station_stream`), so a
fleet's reconnect storm is the same storm on every run with the same seed.

- :class:`SpecBackoff` — OCPP 2.0.1/2.1 (part 4 §5.3 "Reconnecting"; part 2
  OCPPCommCtrlr.RetryBackOffWaitMinimum/RandomRange/RepeatTimes, B10): the first
  reconnect waits ``RetryBackOffWaitMinimum + U(0, RetryBackOffRandomRange)``; each
  later attempt doubles the previous wait and adds a new ``U(0, RandomRange)``, for
  ``RetryBackOffRepeatTimes`` doublings; from then on the last wait is kept, without
  new randomness.
- :class:`FixedBackoff` — OCPP 1.6, which names no algorithm: ``wait + U(0, jitter)``
  every time (``jitter`` 0: a fixed wait, the fleet comes back in lockstep).
- :class:`ExponentialBackoff` — fleetsim's generic policy (tests, benchmarks):
  ``base + U(0, min(cap, base·2^attempt))``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from fleetsim.scenario.model import OcppVersion
from fleetsim.scenario.reconnect import ReconnectConfig, RetryBackOff, V16Mode

__all__ = ["Backoff", "ExponentialBackoff", "FixedBackoff", "SpecBackoff", "policy_for",
           "station_stream", "waits"]

BACKOFF_STREAM = 5  # the station's sub-stream for reconnect jitter (fleet.py numbers them)


class Backoff(Protocol):
    def wait_s(self, attempt: int, previous_s: float, u: float) -> float:
        """The wait before attempt ``attempt`` (1, 2, …) given the previous wait [wall s]."""
        ...


@dataclass(frozen=True, slots=True)
class SpecBackoff:
    """OCPP 2.0.1/2.1 reconnect back-off from the OCPPCommCtrlr.RetryBackOff* variables."""

    wait_minimum_s: float
    random_range_s: float
    repeat_times: int

    @classmethod
    def of(cls, v: RetryBackOff) -> SpecBackoff:
        return cls(v.wait_minimum_s, v.random_range_s, v.repeat_times)

    def wait_s(self, attempt: int, previous_s: float, u: float) -> float:
        if attempt <= 1:
            return self.wait_minimum_s + u * self.random_range_s
        if attempt <= self.repeat_times + 1:  # doublings 1 … RepeatTimes
            return 2.0 * previous_s + u * self.random_range_s
        return previous_s  # "keep reconnecting with the last back-off time"


@dataclass(frozen=True, slots=True)
class FixedBackoff:
    """OCPP 1.6: ``wait + U(0, jitter)`` before every attempt."""

    fixed_s: float
    jitter_s: float = 0.0

    def wait_s(self, attempt: int, previous_s: float, u: float) -> float:
        return self.fixed_s + u * self.jitter_s


@dataclass(frozen=True, slots=True)
class ExponentialBackoff:
    """Full-jitter exponential back-off: ``base + U(0, min(cap, base·2^attempt))``."""

    base_s: float = 1.0
    cap_s: float = 60.0

    def wait_s(self, attempt: int, previous_s: float, u: float) -> float:
        return self.base_s + u * min(self.cap_s, self.base_s * 2.0 ** min(attempt, 16))


def policy_for(version: OcppVersion, cfg: ReconnectConfig,
               retry_backoff: RetryBackOff | None = None) -> Backoff:
    """The scenario's policy for a station of ``version``; for 2.x the station's current
    RetryBackOff* values (``retry_backoff``, which the CSMS may have set) win."""
    if version is OcppVersion.V16:
        jitter = cfg.v16_jitter_s if cfg.v16_mode is V16Mode.JITTERED else 0.0
        return FixedBackoff(cfg.v16_wait_s, jitter)
    return SpecBackoff.of(retry_backoff or cfg.v2)


def station_stream(seed: int, index: int) -> np.random.Generator:
    """Station ``index``'s reconnect-jitter stream (what ``StationSpec.stream(5)`` gives)."""
    return np.random.Generator(np.random.PCG64(
        np.random.SeedSequence(seed, spawn_key=(index, BACKOFF_STREAM))))


def waits(policy: Backoff, rng: np.random.Generator, attempts: int) -> list[float]:
    """The first ``attempts`` waits a station with ``rng`` would make in a row."""
    out: list[float] = []
    previous = 0.0
    for n in range(1, attempts + 1):
        previous = policy.wait_s(n, previous, float(rng.random()))
        out.append(previous)
    return out
