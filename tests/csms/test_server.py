"""The WebSocket endpoint, boot policy, authorization and every station request, per version."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from typing import Any

import fastjsonschema
import ocpp
import ocpp.v16
import pytest
import websockets
from ocpp.routing import on
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from fleetsim.csms import CsmsConfig, CsmsServer, Ledger
from fleetsim.csms.schemas import request_schema_path
from fleetsim.csms.server import station_id_from_path
from fleetsim.csms.versions import STATION_ACTIONS, OcppVersion

from .clients import CALLS, TIMEOUT_S, V2, authorize, boot, ocpp_station, raw_station, run_with_csms
from .payloads import minimal

ALL = list(OcppVersion)
OCPP_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")  # 2.0.1: at most 3 digits


@pytest.mark.parametrize(
    ("path", "station_id"),
    [
        ("/CS1", "CS1"),
        ("/CS1/", "CS1"),
        ("/ocpp/v16/CS1", "CS1"),
        ("/ocpp//CS%201/?token=x", "CS 1"),
        ("/", None),
        ("", None),
    ],
)
def test_station_id_is_the_last_path_segment(path: str, station_id: str | None) -> None:
    assert station_id_from_path(path) == station_id


@pytest.mark.parametrize("version", ALL)
def test_boot_accepted_with_configured_interval_then_heartbeat(version: OcppVersion) -> None:
    async def scenario(server: CsmsServer) -> None:
        async with ocpp_station(server.url, "CS-OK", version) as cp:
            result = await boot(cp, version)
            assert (result.status, result.interval) == ("Accepted", 42)
            assert OCPP_TIME.match(result.current_time)
            beat = await cp.call(CALLS[version].Heartbeat(), suppress=False)
            assert OCPP_TIME.match(beat.current_time)

    run_with_csms(scenario, CsmsConfig(heartbeat_interval_s=42))


@pytest.mark.parametrize("version", ALL)
def test_boot_pending_first_n_then_accepted_and_rejected_ids(
    version: OcppVersion, tmp_path: Any
) -> None:
    db = tmp_path / "ledger.db"
    config = CsmsConfig(
        db=str(db), pending_first=2, pending_interval_s=7, reject_ids=frozenset({"CS-NO"})
    )

    async def scenario(server: CsmsServer) -> None:
        async with ocpp_station(server.url, "CS-WAIT", version) as cp:
            answers = [await boot(cp, version) for _ in range(3)]
            assert [(a.status, a.interval) for a in answers] == [
                ("Pending", 7),
                ("Pending", 7),
                ("Accepted", 60),
            ]
        async with ocpp_station(server.url, "CS-NO", version) as cp:
            answer = await boot(cp, version)
            assert (answer.status, answer.interval) == ("Rejected", 7)

    run_with_csms(scenario, config)
    stations = {s.station_id: s for s in Ledger.open_readonly(db).stations()}
    assert stations["CS-WAIT"].boots == 3
    assert stations["CS-WAIT"].last_boot_status == "Accepted"
    assert stations["CS-WAIT"].ocpp_version == version.label
    assert (stations["CS-WAIT"].vendor, stations["CS-WAIT"].model) == ("fleetsim", "test")
    assert stations["CS-NO"].last_boot_status == "Rejected"


@pytest.mark.parametrize("version", ALL)
def test_authorize_by_list_or_prefix(version: OcppVersion) -> None:
    config = CsmsConfig(token_prefix="FS", tokens=frozenset({"04A2B3C4"}))

    async def scenario(server: CsmsServer) -> None:
        async with ocpp_station(server.url, "CS-AUTH", version) as cp:
            assert await authorize(cp, version, "04A2B3C4") == "Accepted"
            assert await authorize(cp, version, "FS000123") == "Accepted"
            assert await authorize(cp, version, "DEADBEEF") == "Invalid"
            if version.is_v2:
                request = CALLS[version].Authorize(
                    id_token={"id_token": "", "type": "NoAuthorization"}
                )
                result = await cp.call(request, suppress=False)
                assert result.id_token_info["status"] == "Accepted"

    run_with_csms(scenario, config)


def test_no_token_prefix_means_list_only() -> None:
    async def scenario(server: CsmsServer) -> None:
        async with ocpp_station(server.url, "CS-AUTH2", OcppVersion.V16) as cp:
            assert await authorize(cp, OcppVersion.V16, "FS000123") == "Invalid"

    run_with_csms(scenario, CsmsConfig(token_prefix=None))


def test_connection_without_supported_subprotocol_is_refused_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="fleetsim.csms")

    async def scenario(server: CsmsServer) -> None:
        for offered in (
            None,
            [Subprotocol("ocpp2.0")],
            [Subprotocol("ocpp1.5"), Subprotocol("json")],
        ):
            with pytest.raises(InvalidStatus) as info:
                async with websockets.connect(
                    f"{server.url}/CS-X", subprotocols=offered, open_timeout=TIMEOUT_S
                ):
                    pass
            assert info.value.response.status_code == 400
        assert server.refused == 3

    run_with_csms(scenario)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "CS-X" in warnings[0].getMessage()


def test_path_without_station_id_is_refused() -> None:
    async def scenario(server: CsmsServer) -> None:
        with pytest.raises(InvalidStatus) as info:
            async with websockets.connect(
                server.url + "/", subprotocols=[Subprotocol("ocpp1.6")], open_timeout=TIMEOUT_S
            ):
                pass
        assert info.value.response.status_code == 404

    run_with_csms(scenario)


def test_station_order_of_subprotocols_wins_and_prefix_paths_work(tmp_path: Any) -> None:
    db = tmp_path / "ledger.db"

    async def scenario(server: CsmsServer) -> None:
        offers = [Subprotocol(p) for p in ("ocpp2.1", "ocpp2.0.1", "ocpp1.6")]
        url = f"{server.url}/ocpp/CS-PREF/"
        async with websockets.connect(url, subprotocols=offers, open_timeout=TIMEOUT_S) as ws:
            assert ws.subprotocol == "ocpp2.1"
        async with websockets.connect(url, subprotocols=offers[1:], open_timeout=TIMEOUT_S) as ws:
            assert ws.subprotocol == "ocpp2.0.1"
        async with ocpp_station(f"{server.url}/ocpp", "CS-PREF", OcppVersion.V16) as cp:
            await boot(cp, OcppVersion.V16)

    run_with_csms(scenario, CsmsConfig(db=str(db)))
    assert [s.station_id for s in Ledger.open_readonly(db).stations()] == ["CS-PREF"]


def test_reconnecting_station_replaces_its_old_connection() -> None:
    async def scenario(server: CsmsServer) -> None:
        async with (
            raw_station(server.url, "CS-TWICE", OcppVersion.V16) as old,
            raw_station(server.url, "CS-TWICE", OcppVersion.V16) as new,
        ):
            with pytest.raises(ConnectionClosed):
                await old.recv()
            assert (await new.call("Heartbeat", {}))[0] == 3
            assert server.connected == 1

    run_with_csms(scenario)


def _response_validator(version: OcppVersion, action: str) -> Any:
    folder = request_schema_path(version, action).parent
    path = folder / f"{action}Response.json"
    return fastjsonschema.compile(json.loads(path.read_text(encoding="utf-8-sig")))


@pytest.mark.parametrize("version", ALL)
def test_every_station_request_gets_a_schema_valid_response(version: OcppVersion) -> None:
    """The smallest valid request of every CS→CSMS action is answered per its response schema."""
    assert ocpp.__name__  # the schemas come from the installed ocpp package

    async def scenario(server: CsmsServer) -> None:
        async with raw_station(server.url, "CS-ALL", version) as station:
            for action in sorted(STATION_ACTIONS[version]):
                schema = json.loads(
                    request_schema_path(version, action).read_text(encoding="utf-8-sig")
                )
                reply = await station.call(action, minimal(schema))
                assert reply[0] == 3, (action, reply)
                _response_validator(version, action)(reply[2])

    run_with_csms(scenario)


@pytest.mark.parametrize("version", V2)
def test_v2_data_transfer_and_certificate_requests_answer_as_documented(
    version: OcppVersion,
) -> None:
    async def scenario(server: CsmsServer) -> None:
        async with raw_station(server.url, "CS-MISC", version) as station:
            reply = await station.call("DataTransfer", {"vendorId": "com.example"})
            assert reply[2] == {"status": "UnknownVendorId"}
            reply = await station.call("SignCertificate", {"csr": "x"})
            assert reply[2] == {"status": "Rejected"}

    run_with_csms(scenario)


class RemoteStartable(ocpp.v16.ChargePoint):  # type: ignore[misc]
    """A 1.6 test station that accepts RemoteStartTransaction."""

    @on("RemoteStartTransaction")  # type: ignore[untyped-decorator]
    def on_remote_start(self, id_tag: str, **_: Any) -> Any:
        return ocpp.v16.call_result.RemoteStartTransaction(status="Accepted")


def test_csms_can_call_a_connected_station() -> None:
    async def scenario(server: CsmsServer) -> None:
        async with websockets.connect(
            f"{server.url}/CS-RS", subprotocols=[Subprotocol("ocpp1.6")], open_timeout=TIMEOUT_S
        ) as ws:
            station = RemoteStartable("CS-RS", ws, response_timeout=TIMEOUT_S)
            task = asyncio.create_task(station.start())
            try:
                await boot(station, OcppVersion.V16)  # the session exists once this is answered
                session = server.session("CS-RS")
                assert session is not None and server.session("nobody") is None
                request = ocpp.v16.call.RemoteStartTransaction(id_tag="FS7", connector_id=1)
                result = await session.call(request, suppress=False)
                assert result.status == "Accepted"
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                    await task

    run_with_csms(scenario)
