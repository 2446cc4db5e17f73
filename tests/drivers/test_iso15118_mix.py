"""Which cars speak ISO 15118 / Plug & Charge comes from each archetype's vehicle mix
([A]-tagged shares in drivers_models/), the same by seed, and shows in ``fleetsim plan``."""

from __future__ import annotations

import dataclasses

import pytest

from fleetsim.drivers import plan_archetype
from fleetsim.drivers.command import iso15118_line
from fleetsim.drivers.iso15118mix import ISO15118, NONE, PNC, protocol
from fleetsim.drivers.registry import load_model

SHARES = {"dc_fast": (0.60, 0.15), "public_ac": (0.10, 0.05), "workplace_ac": (0.10, 0.05),
          "residential_ac": (0.05, 0.02), "fleet_depot": (0.20, 0.0)}


def _speaks(plans: list) -> list[str]:  # type: ignore[type-arg]
    return [protocol(f"FS{p.station_index:06d}", x, x.vehicle.iso15118_share,
                     x.vehicle.pnc_share) for p in plans for x in p.sessions]


@pytest.mark.parametrize("name", sorted(SHARES))
def test_each_archetype_carries_its_shares_onto_every_car(name: str) -> None:
    params = load_model(name).params  # type: ignore[attr-defined]
    assert (params.iso15118_share, params.pnc_share) == SHARES[name]
    plans = plan_archetype(name, stations=3, days=2, seed=5)
    cars = {(x.vehicle.iso15118_share, x.vehicle.pnc_share) for p in plans for x in p.sessions}
    assert cars == {SHARES[name]}


def test_the_share_is_drawn_per_session_the_same_by_seed() -> None:
    a = _speaks(plan_archetype("dc_fast", stations=10, days=2, seed=7))
    assert a == _speaks(plan_archetype("dc_fast", stations=10, days=2, seed=7))
    assert a != _speaks(plan_archetype("dc_fast", stations=10, days=2, seed=8))
    n = len(a)
    assert 0.50 < (a.count(ISO15118) + a.count(PNC)) / n < 0.70  # 0.60
    assert 0.08 < a.count(PNC) / n < 0.22                         # 0.15
    depot = _speaks(plan_archetype("fleet_depot", stations=10, days=3, seed=7))
    assert PNC not in depot and ISO15118 in depot and NONE in depot


def test_plan_shows_it_and_the_scenario_can_override_or_switch_off() -> None:
    plans = plan_archetype("dc_fast", stations=5, days=1, seed=3)
    line = iso15118_line(plans, None, None)
    assert line.startswith("ISO 15118 cars by the vehicle mix: dc_fast ")
    x = plans[0].sessions[0]
    assert protocol("S", x, 1.0, 1.0) == PNC and protocol("S", x, 0.0, 0.0) == NONE
    assert "Plug & Charge 0" in iso15118_line(plans, None, (1.0, 0.0))
    assert "off in this scenario" in iso15118_line(plans, None, (0.0, 0.0))
    # a car of a class without shares (the uniform model) never speaks ISO 15118
    plain = dataclasses.replace(x, vehicle=dataclasses.replace(x.vehicle, iso15118_share=0.0,
                                                                pnc_share=0.0))
    assert protocol("S", plain, plain.vehicle.iso15118_share, 0.0) == NONE
