"""A station is one of 100,000 in a process: its state is in slots, not a per-instance
dict (past 30 attributes CPython 3.11 stops sharing dict keys: 1.6 KiB a station)."""

from __future__ import annotations

import pytest

from fleetsim.scenario.model import OcppVersion
from tests.station.harness import make


@pytest.mark.parametrize("version", list(OcppVersion))
def test_a_station_has_no_instance_dict(version: OcppVersion) -> None:
    st = make(version, connectors=2)
    assert not hasattr(st, "__dict__")
    with pytest.raises(AttributeError):
        st.not_a_slot = 1  # type: ignore[attr-defined]
