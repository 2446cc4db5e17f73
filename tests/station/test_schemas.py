"""Everything stations send validates against the official schemas shipped in ``ocpp``."""

from __future__ import annotations

import pytest

from fleetsim.drivers.registry import plan_fleet
from fleetsim.metrics.recorder import Recorder
from fleetsim.scenario import build_fleet, parse_scenario
from fleetsim.scenario.model import OcppVersion
from fleetsim.station import STATION_CLASSES, Clock, StationConfig
from fleetsim.station.schemas import SchemaViolation, validate
from tests.station.harness import Exchange


@pytest.mark.parametrize("version", list(OcppVersion))
def test_a_simulated_day_of_traffic_is_schema_valid(version: OcppVersion) -> None:
    s = parse_scenario({"stations": {"count": 6, "connectors": 2, "versions": {version.value: 1}},
                        "ocpp": {"measurands": ["Energy.Active.Import.Register",
                                                "Power.Active.Import", "Current.Import",
                                                "Current.Offered", "Voltage", "SoC",
                                                "Power.Offered"]}})
    specs = build_fleet(s)
    seen: set[str] = set()
    for spec, plan in zip(specs, plan_fleet(s, specs, horizon_s=86400), strict=True):
        st = STATION_CLASSES[version](spec, plan, clock=Clock(0.0, 1_767_571_200.0),
                                      recorder=Recorder(), config=StationConfig())
        ex = Exchange(st)  # the harness validates every CALL before answering it
        ex.open()
        ex.run_until(86400)
        st.stop(ex.now)
        ex.pump()
        seen.update(ex.actions())
    assert {"BootNotification", "Heartbeat", "StatusNotification", "Authorize"} <= seen
    assert ({"StartTransaction", "StopTransaction", "MeterValues"} <= seen
            if version is OcppVersion.V16 else "TransactionEvent" in seen)


def test_validator_rejects_what_a_strict_csms_rejects() -> None:
    with pytest.raises(SchemaViolation):
        validate(OcppVersion.V201, "StatusNotification", {"connectorStatus": "Available"})
    with pytest.raises(SchemaViolation):  # 1.6 idTag is at most 20 characters
        validate(OcppVersion.V16, "Authorize", {"idTag": "X" * 21})
