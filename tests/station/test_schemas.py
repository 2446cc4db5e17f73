"""Everything stations send validates against the official schemas shipped in ``ocpp``."""

from __future__ import annotations

import re
import uuid

import pytest

from fleetsim.drivers.registry import plan_fleet
from fleetsim.metrics.recorder import Recorder
from fleetsim.scenario import build_fleet, parse_scenario
from fleetsim.scenario.model import OcppVersion
from fleetsim.station import STATION_CLASSES, Clock, StationConfig
from fleetsim.station.schemas import SchemaViolation, validate
from tests.station.harness import Exchange

# the issue 14 traffic on: ISO 15118 and Plug & Charge cars, EMS limits, master pass
# cards, background security and device events
ISSUE14 = StationConfig(iso15118_share=1.0, pnc_share=0.5, ems_limits_per_day=4,
                        master_pass_group="FSMASTER", master_pass_per_day=4,
                        security_events_per_day=4, notify_events_per_day=4)
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


@pytest.mark.parametrize("version", list(OcppVersion))
def test_a_simulated_day_of_traffic_is_schema_valid(version: OcppVersion) -> None:
    s = parse_scenario({"stations": {"count": 6, "connectors": 2, "versions": {version.value: 1}},
                        "ocpp": {"measurands": ["Energy.Active.Import.Register",
                                                "Power.Active.Import", "Current.Import",
                                                "Current.Offered", "Voltage", "SoC",
                                                "Power.Offered"]}})
    specs = build_fleet(s)
    seen: set[str] = set()
    ids: list[str] = []
    for spec, plan in zip(specs, plan_fleet(s, specs, horizon_s=86400), strict=True):
        st = STATION_CLASSES[version](spec, plan, clock=Clock(0.0, 1_767_571_200.0),
                                      recorder=Recorder(), config=ISSUE14)
        ex = Exchange(st)  # the harness validates every CALL before answering it
        ex.open()
        ex.run_until(86400)
        st.stop(ex.now)
        ex.pump()
        seen.update(ex.actions())
        ids += ex.ids
    # OCPP-J: messageId is a string of at most 36 characters; the default ids are UUIDs,
    # unique across the fleet, not "1", "2", … in every station (issue 12.9)
    assert all(UUID.match(i) and uuid.UUID(i).version == 4 for i in ids), ids[:3]
    assert len(set(ids)) == len(ids) > 100
    assert {"BootNotification", "Heartbeat", "StatusNotification", "Authorize"} <= seen
    assert ({"StartTransaction", "StopTransaction", "MeterValues"} <= seen
            if version is OcppVersion.V16 else "TransactionEvent" in seen)
    assert "SecurityEventNotification" in seen
    if version is not OcppVersion.V16:  # issue 14's 2.x flows, in each version's shape
        assert {"NotifyChargingLimit", "ClearedChargingLimit", "NotifyEVChargingNeeds",
                "NotifyEVChargingSchedule", "GetCertificateStatus", "NotifyEvent"} <= seen


def test_validator_rejects_what_a_strict_csms_rejects() -> None:
    with pytest.raises(SchemaViolation):
        validate(OcppVersion.V201, "StatusNotification", {"connectorStatus": "Available"})
    with pytest.raises(SchemaViolation):  # 1.6 idTag is at most 20 characters
        validate(OcppVersion.V16, "Authorize", {"idTag": "X" * 21})


def test_counter_message_ids_stay_available() -> None:
    from fleetsim.station.message_ids import message_ids

    spec = build_fleet(parse_scenario({"stations": {"count": 1}}))[0]
    ids = message_ids(spec, "counter")
    assert [next(ids) for _ in range(3)] == ["1", "2", "3"]
    base = {"stations": {"count": 1}}
    assert parse_scenario({**base, "ocpp": {"message_ids": "counter"}}).ocpp.message_ids \
        == "counter"
    assert parse_scenario(base).ocpp.message_ids == "uuid"
