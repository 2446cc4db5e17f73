"""Schema validation picks the CALLERROR code the spec names, spelled per version."""

from __future__ import annotations

from typing import Any

import pytest

from fleetsim.csms.faults import Fault, FaultKind
from fleetsim.csms.schemas import validate_request
from fleetsim.csms.versions import OcppVersion

V16, V201, V21 = OcppVersion.V16, OcppVersion.V201, OcppVersion.V21
BOOT_16 = {"chargePointVendor": "v", "chargePointModel": "m"}
BOOT_2 = {"chargingStation": {"model": "m", "vendorName": "v"}, "reason": "PowerUp"}


def code(version: OcppVersion, action: str, payload: Any) -> str | None:
    fault = validate_request(version, action, payload)
    return None if fault is None else fault.code


@pytest.mark.parametrize(
    ("version", "action", "payload"),
    [
        (V16, "BootNotification", BOOT_16),
        (V201, "BootNotification", BOOT_2),
        (V21, "BootNotification", BOOT_2),
        (V16, "Heartbeat", {}),
        (V201, "Heartbeat", {}),
    ],
)
def test_valid_payloads_pass(version: OcppVersion, action: str, payload: Any) -> None:
    assert validate_request(version, action, payload) is None


@pytest.mark.parametrize(
    ("payload", "v16", "v2"),
    [
        # unknown field: not the PDU's structure
        ({"foo": 1}, "FormationViolation", "FormatViolation"),
        # payload that is not an object
        ([], "FormationViolation", "FormatViolation"),
    ],
)
def test_structure_errors(payload: Any, v16: str, v2: str) -> None:
    assert code(V16, "Heartbeat", payload) == v16
    assert code(V201, "Heartbeat", payload) == v2
    assert code(V21, "Heartbeat", payload) == v2


def test_missing_required_field_is_an_occurrence_violation() -> None:
    # 1.6 keeps the spec's typo (errata 5.1); 2.x spells it right.
    assert code(V16, "BootNotification", {"chargePointVendor": "v"}) == (
        "OccurenceConstraintViolation"
    )
    assert code(V201, "BootNotification", {"reason": "PowerUp"}) == "OccurrenceConstraintViolation"
    assert code(V21, "MeterValues", {"evseId": 1, "meterValue": []}) == (
        "OccurrenceConstraintViolation"
    )


def test_wrong_type_and_length_are_type_violations() -> None:
    assert code(V16, "Authorize", {"idTag": 123}) == "TypeConstraintViolation"
    assert code(V16, "Authorize", {"idTag": "x" * 21}) == "TypeConstraintViolation"  # CiString20
    token = {"idToken": {"idToken": 5, "type": "ISO14443"}}
    assert code(V201, "Authorize", token) == "TypeConstraintViolation"
    stamp = {"connectorId": 1, "idTag": "a", "meterStart": 0, "timestamp": "yesterday"}
    assert code(V16, "StartTransaction", stamp) == "TypeConstraintViolation"


def test_value_out_of_range_is_a_property_violation() -> None:
    assert code(V201, "BootNotification", {**BOOT_2, "reason": "Bored"}) == (
        "PropertyConstraintViolation"
    )
    status = {"connectorId": 1, "errorCode": "NoError", "status": "Asleep"}
    assert code(V16, "StatusNotification", status) == "PropertyConstraintViolation"


def test_fault_carries_the_cause_and_frames_as_callerror() -> None:
    fault = validate_request(V16, "Authorize", {"idTag": 123})
    assert fault is not None
    assert "idTag" in fault.details["cause"]
    assert fault.frame("42").startswith('[4,"42","TypeConstraintViolation",')


@pytest.mark.parametrize(
    ("kind", "v16", "v2"),
    [
        (FaultKind.NOT_IMPLEMENTED, "NotImplemented", "NotImplemented"),
        (FaultKind.NOT_SUPPORTED, "NotSupported", "NotSupported"),
        (FaultKind.MESSAGE_TYPE_NOT_SUPPORTED, "GenericError", "MessageTypeNotSupported"),
        (FaultKind.RPC_FRAMEWORK, "ProtocolError", "RpcFrameworkError"),
    ],
)
def test_fault_spelling_per_version(kind: FaultKind, v16: str, v2: str) -> None:
    assert Fault.of(V16, kind).code == v16
    assert Fault.of(V201, kind).code == v2
    assert Fault.of(V21, kind).code == v2
