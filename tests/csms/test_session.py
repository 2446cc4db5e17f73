"""Framing, routing and validation errors over a real connection, per version."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from ocpp.exceptions import FormationViolationError, FormatViolationError, OCPPError

from fleetsim.csms import CsmsServer, Ledger
from fleetsim.csms.config import CsmsConfig
from fleetsim.csms.session import MALFORMED
from fleetsim.csms.versions import OcppVersion

from .clients import CALLS, V2, ocpp_station, raw_station, run_with_csms

ALL = list(OcppVersion)


@pytest.mark.parametrize("version", ALL)
def test_schema_invalid_payloads_get_the_spec_callerror(version: OcppVersion) -> None:
    v16 = version is OcppVersion.V16
    bad_enum: tuple[str, dict[str, Any]]
    bad_type: dict[str, Any]
    if v16:
        missing = {"chargePointVendor": "v"}
        bad_enum = ("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "?"})
        bad_type = {"idTag": 7}
    else:
        missing = {"reason": "PowerUp"}
        bad_enum = (
            "BootNotification",
            {"chargingStation": {"model": "m", "vendorName": "v"}, "reason": "?"},
        )
        bad_type = {"idToken": {"idToken": 7, "type": "ISO14443"}}

    async def scenario(server: CsmsServer) -> None:
        async with raw_station(server.url, "CS-BAD", version) as station:
            reply = await station.call("BootNotification", missing)
            occurrence = "OccurenceConstraintViolation" if v16 else "OccurrenceConstraintViolation"
            assert reply[0] == 4 and reply[2] == occurrence
            assert "required" in reply[4]["cause"] or "must contain" in reply[4]["cause"]
            reply = await station.call(*bad_enum)
            assert reply[2] == "PropertyConstraintViolation"
            reply = await station.call("Authorize", bad_type)
            assert reply[2] == "TypeConstraintViolation"
            reply = await station.call("Heartbeat", {"extra": True})
            assert reply[2] == ("FormationViolation" if v16 else "FormatViolation")
            reply = await station.call("Heartbeat", [])
            assert reply[2] == ("FormationViolation" if v16 else "FormatViolation")
            # The connection survives errors: a valid call still works.
            reply = await station.call("Heartbeat", {})
            assert reply[0] == 3 and "currentTime" in reply[2]

    run_with_csms(scenario)


class Odd:
    """Requests the library's dataclasses cannot express (the action is the class name)."""

    @dataclass
    class Heartbeat:
        surprise: int = 1  # a field the spec does not have

    @dataclass
    class BootNotification:  # 1.6 has no reason field
        charge_point_vendor: str = "v"
        charge_point_model: str = "m"
        reason: str = "PowerUp"


@pytest.mark.parametrize("version", ALL)
def test_library_client_raises_the_mapped_exception(version: OcppVersion) -> None:
    v16 = version is OcppVersion.V16

    async def scenario(server: CsmsServer) -> None:
        async with ocpp_station(server.url, "CS-LIB", version) as cp:
            with pytest.raises(FormationViolationError if v16 else FormatViolationError):
                await cp.call(Odd.Heartbeat(), suppress=False, skip_schema_validation=True)
            if v16:
                boot: Any = Odd.BootNotification()
            else:
                boot = CALLS[version].BootNotification(
                    charging_station={"model": "m", "vendor_name": "v"}, reason="Bored"
                )
            with pytest.raises(OCPPError) as info:
                await cp.call(boot, suppress=False, skip_schema_validation=True)
            assert info.value.code == (
                "FormationViolation" if v16 else "PropertyConstraintViolation"
            )

    run_with_csms(scenario)


@pytest.mark.parametrize("version", ALL)
def test_unknown_action_is_not_implemented_and_csms_action_not_supported(
    version: OcppVersion, tmp_path: object
) -> None:
    async def scenario(server: CsmsServer) -> None:
        async with raw_station(server.url, "CS-ROUTE", version) as station:
            reply = await station.call("FlyToTheMoon", {})
            assert reply[0] == 4 and reply[2] == "NotImplemented"
            reply = await station.call("Reset", {"type": "Immediate"})
            assert reply[0] == 4 and reply[2] == "NotSupported"

    run_with_csms(scenario)


@pytest.mark.parametrize("version", V2)
def test_v2_unreadable_frames_get_rpc_framework_error(version: OcppVersion) -> None:
    async def scenario(server: CsmsServer) -> None:
        async with raw_station(server.url, "CS-RPC", version) as station:
            await station.send("this is not json")
            assert (await station.recv())[:3] == [4, "-1", "RpcFrameworkError"]
            await station.send([2, "m1", "Heartbeat"])  # payload missing
            assert (await station.recv())[:3] == [4, "m1", "RpcFrameworkError"]
            await station.send([9, "m2", "Heartbeat", {}])
            assert (await station.recv())[:3] == [4, "m2", "MessageTypeNotSupported"]

    run_with_csms(scenario)


def test_v16_unreadable_frame_is_dropped_and_counted(tmp_path: object) -> None:
    db = f"{tmp_path}/ledger.db"

    async def scenario(server: CsmsServer) -> None:
        async with raw_station(server.url, "CS-RPC16", OcppVersion.V16) as station:
            await station.send("this is not json")
            # 1.6 cannot answer a frame without a message id: the next reply is the heartbeat's.
            reply = await station.call("Heartbeat", {})
            assert reply[0] == 3

    run_with_csms(scenario, CsmsConfig(db=db))
    counts = {c.action: c for c in Ledger.open_readonly(db).message_counts()}
    assert counts[MALFORMED].errors == 1
    assert counts["Heartbeat"].errors == 0


def test_v21_send_messages_are_never_answered_but_counted(tmp_path: object) -> None:
    db = f"{tmp_path}/ledger.db"
    stream = {
        "id": 1,
        "pending": 0,
        "basetime": "2026-01-01T10:00:00.000Z",
        "data": [{"t": 1.0, "v": "2"}],
    }

    async def scenario(server: CsmsServer) -> None:
        async with raw_station(server.url, "CS-SEND", OcppVersion.V21) as station:
            await station.send([6, "s1", "NotifyPeriodicEventStream", stream])
            await station.send([6, "s2", "NotifyPeriodicEventStream", {"id": "wrong"}])
            reply = await station.call("Heartbeat", {})
            assert reply[0] == 3

    run_with_csms(scenario, CsmsConfig(db=db))
    counts = {c.action: c for c in Ledger.open_readonly(db).message_counts()}
    assert (
        counts["NotifyPeriodicEventStream"].count,
        counts["NotifyPeriodicEventStream"].errors,
    ) == (2, 1)


@pytest.mark.parametrize("version", ALL)
def test_errors_are_counted_per_action(version: OcppVersion, tmp_path: object) -> None:
    db = f"{tmp_path}/ledger.db"

    async def scenario(server: CsmsServer) -> None:
        async with raw_station(server.url, "CS-COUNT", version) as station:
            await station.call("Heartbeat", {})
            await station.call("Heartbeat", {"bogus": 1})
            await station.call("NoSuchAction", {})

    run_with_csms(scenario, CsmsConfig(db=db))
    counts = {c.action: (c.count, c.errors) for c in Ledger.open_readonly(db).message_counts()}
    assert counts == {"Heartbeat": (2, 1), "NoSuchAction": (1, 1)}
