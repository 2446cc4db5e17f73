"""The action tables: complete against the ocpp library, and every station request routed."""

from __future__ import annotations

import pytest
from ocpp.routing import create_route_map

from fleetsim.csms.handlers_v2 import V21Session, V201Session
from fleetsim.csms.handlers_v16 import V16Session
from fleetsim.csms.schemas import request_schema_path
from fleetsim.csms.session import StationSession
from fleetsim.csms.versions import CSMS_ACTIONS, SEND_ACTIONS, STATION_ACTIONS, OcppVersion

SESSIONS: dict[OcppVersion, type[StationSession]] = {
    OcppVersion.V16: V16Session,
    OcppVersion.V201: V201Session,
    OcppVersion.V21: V21Session,
}


@pytest.mark.parametrize("version", list(OcppVersion))
def test_direction_tables_partition_the_library_actions(version: OcppVersion) -> None:
    library = version.library_actions()
    assert STATION_ACTIONS[version] | CSMS_ACTIONS[version] == library
    # Only DataTransfer may be sent both ways (OCPP 1.6 §4.3 / 2.0.1 P01-P02).
    assert STATION_ACTIONS[version] & CSMS_ACTIONS[version] == {"DataTransfer"}


@pytest.mark.parametrize("version", list(OcppVersion))
def test_every_station_request_has_a_schema_and_a_handler(version: OcppVersion) -> None:
    for action in STATION_ACTIONS[version] | SEND_ACTIONS[version]:
        assert request_schema_path(version, action, send=action in SEND_ACTIONS[version]).is_file()
    session = SESSIONS[version].__new__(SESSIONS[version])
    routes = set(create_route_map(session))
    missing = STATION_ACTIONS[version] - routes
    assert not missing, f"no handler for {sorted(missing)}"
    assert routes <= STATION_ACTIONS[version], "a handler for an action stations never send"


def test_v201_requests_are_a_subset_of_v21() -> None:
    assert STATION_ACTIONS[OcppVersion.V201] < STATION_ACTIONS[OcppVersion.V21]


def test_subprotocol_round_trip() -> None:
    for version in OcppVersion:
        assert OcppVersion.from_subprotocol(version.subprotocol) is version
    assert OcppVersion.from_subprotocol("ocpp2.0") is None
    assert OcppVersion.from_subprotocol(None) is None
