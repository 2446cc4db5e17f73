"""Reconnect back-off policies, pure: the spec's doubling, the tail, a fleet's first wave."""

from __future__ import annotations

import numpy as np
import pytest

from fleetsim.scenario.fleet import StationSpec
from fleetsim.scenario.model import OcppVersion
from fleetsim.scenario.reconnect import ReconnectConfig, RetryBackOff, V16Mode
from fleetsim.transport.backoff import (
    ExponentialBackoff,
    FixedBackoff,
    SpecBackoff,
    policy_for,
    station_stream,
    waits,
)

SPEC = ReconnectConfig(v2=RetryBackOff(wait_minimum_s=10.0, random_range_s=15.0, repeat_times=5))


def test_spec_doubles_the_previous_wait_adds_new_jitter_then_keeps_the_last() -> None:
    p = SpecBackoff(10.0, 15.0, 5)
    us = [0.2, 0.5, 0.0, 1.0, 0.4, 0.8, 0.3, 0.9, 0.1]
    out, prev = [], 0.0
    for n, u in enumerate(us, start=1):
        prev = p.wait_s(n, prev, u)
        out.append(prev)
    expected = [10 + 3.0]                          # minimum + U(0, range)
    for u in us[1:6]:                              # RepeatTimes = 5 doublings, new jitter each
        expected.append(2 * expected[-1] + 15 * u)
    expected += [expected[-1]] * 3                 # then the last wait, unchanged
    assert out == pytest.approx(expected)
    assert SpecBackoff(10.0, 0.0, 5).wait_s(1, 0.0, 0.7) == 10.0
    without_jitter = waits(SpecBackoff(10.0, 0.0, 2), np.random.default_rng(0), 5)
    assert without_jitter == [10.0, 20.0, 40.0, 40.0, 40.0]


def test_10000_stations_dropped_at_once_spread_their_first_attempts_evenly() -> None:
    # minimum 10 s, range 15 s: first attempts in [10, 25] s, drawn from each station's own
    # seeded stream (the one the runner uses), no 1 s bin above twice the uniform share
    n = 10_000
    first = np.array([policy_for(OcppVersion.V201, SPEC).wait_s(1, 0.0,
                                                                float(station_stream(42, i).random()))
                      for i in range(n)])
    assert first.min() >= 10.0 and first.max() <= 25.0
    counts, _ = np.histogram(first, bins=np.arange(10.0, 26.0, 1.0))
    assert counts.max() <= 2 * n / 15 and counts.min() > 0
    spec = StationSpec(index=77, station_id="X", version=OcppVersion.V201, connectors=1,
                       archetype="a", seed=42)
    assert spec.stream(5).random() == station_stream(42, 77).random()  # the runner's stream


def test_same_seed_same_storm_other_seed_other_storm() -> None:
    p = policy_for(OcppVersion.V21, SPEC)
    a = [waits(p, station_stream(7, i), 4) for i in range(50)]
    assert a == [waits(p, station_stream(7, i), 4) for i in range(50)]
    assert a != [waits(p, station_stream(8, i), 4) for i in range(50)]


def test_v16_fixed_or_jittered_and_the_stations_current_variables_win() -> None:
    fixed = policy_for(OcppVersion.V16, ReconnectConfig(v16_mode=V16Mode.FIXED, v16_wait_s=30))
    assert waits(fixed, np.random.default_rng(1), 3) == [30.0, 30.0, 30.0]
    jit = policy_for(OcppVersion.V16, ReconnectConfig(v16_wait_s=10, v16_jitter_s=5))
    assert isinstance(jit, FixedBackoff)
    assert all(10.0 <= w <= 15.0 for w in waits(jit, np.random.default_rng(1), 50))
    mine = policy_for(OcppVersion.V201, SPEC, RetryBackOff(1.0, 0.0, 0))  # set by the CSMS
    assert waits(mine, np.random.default_rng(1), 3) == [1.0, 1.0, 1.0]


def test_generic_exponential_backoff_is_the_old_formula() -> None:
    p = ExponentialBackoff(base_s=1.0, cap_s=60.0)
    assert p.wait_s(3, 0.0, 0.5) == 1.0 + 0.5 * 8.0
    assert p.wait_s(30, 0.0, 1.0) == 61.0
