"""Security profiles 1, 2 and 3 through the DEFAULT ``fleetsim run`` path (Locust workers).

The results folder holds the scenario with passwords masked (``***``). The
workers must still send the real per-station password: a capture CSMS asserts
the exact ``Authorization`` header, the embedded CSMS must boot every station
under each profile, and the masked value must be nowhere in what was sent while
the real one is nowhere on disk.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from fleetsim.bench.ack_server import canned_result
from fleetsim.security.certs import mint
from tests.locust_adapter.procs import fleetsim_async

STATIONS = 3
SUBPROTOCOLS = ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"]
IDS = [f"SP{i:06d}" for i in range(STATIONS)]
PASSWORD = "s3cret-{station_id}"


def _scenario(csms: dict[str, Any]) -> dict[str, Any]:
    return {"name": "secure", "seed": 3, "duration": "8s",
            "stations": {"count": STATIONS, "id_prefix": "SP", "connect_rate": 50,
                         "versions": {"1.6": 1, "2.0.1": 1, "2.1": 1}},
            "csms": {"heartbeat_interval": "60s", "password": PASSWORD, **csms},
            "clock": {"time_factor": 60}}


async def _fleetsim_run(tmp: Path, scenario: dict[str, Any], *extra: str) -> tuple[int, str]:
    path = tmp / "s.yaml"
    path.write_text(yaml.safe_dump(scenario))
    # a loaded box may start the engine late and leave a station unbooted: that is not
    # what these tests judge (a wrong password would be http_401 on every connect)
    return await fleetsim_async("run", str(path), "--workers", "1", "--quiet",
                                "--out", str(tmp / "run"), "--expect-errors", "unbooted", *extra,
                                timeout_s=120)


def _basic(station_id: str) -> str:
    pair = f"{station_id}:{PASSWORD.format(station_id=station_id)}".encode()
    return "Basic " + base64.b64encode(pair).decode()


def _no_secret_on_disk(run: Path) -> None:
    for f in run.rglob("*"):
        if f.is_file() and f.suffix != ".sqlite":
            assert b"s3cret-SP" not in f.read_bytes(), f


async def test_basic_auth_capture_server_gets_the_exact_header(tmp_path: Path) -> None:
    """A CSMS demanding Basic auth on every connect (401 otherwise) and recording it."""
    seen: dict[str, set[str]] = {}

    def check(ws: ServerConnection, request: Request) -> Response | None:
        sid = request.path.rstrip("/").rsplit("/", 1)[-1]
        seen.setdefault(sid, set()).add(request.headers.get("Authorization", ""))
        if request.headers.get("Authorization") != _basic(sid):
            return Response(401, "Unauthorized", Headers({"Content-Length": "0"}))
        return None

    async def answer(ws: ServerConnection) -> None:
        async for raw in ws:
            msg = orjson.loads(raw)
            if msg[0] == 2:
                await ws.send(orjson.dumps([3, msg[1], canned_result(ws.subprotocol or "",
                                                                     msg[2])]).decode())

    async with serve(answer, "127.0.0.1", 0, subprotocols=SUBPROTOCOLS,  # type: ignore[arg-type]
                     process_request=check) as server:
        port = server.sockets[0].getsockname()[1]
        code, out = await _fleetsim_run(tmp_path, _scenario({"target": f"ws://127.0.0.1:{port}"}))
    assert seen, out[-2000:]
    assert all(sid in IDS and headers == {_basic(sid)} for sid, headers in seen.items()), seen
    assert code == 0, out[-2000:]
    assert "***" in (tmp_path / "run" / "scenario.yaml").read_text()
    _no_secret_on_disk(tmp_path / "run")


@pytest.mark.parametrize("profile", [1, 3])  # 3 = TLS + client certificate + Basic here
async def test_profiles_against_the_embedded_csms(tmp_path: Path, profile: int) -> None:
    csms: dict[str, Any] = {"target": "embedded"}
    if profile >= 2:
        mint(tmp_path / "certs", IDS)
        csms["tls"] = {"certs": str(tmp_path / "certs"), "mutual": profile == 3}
    code, out = await _fleetsim_run(tmp_path, _scenario(csms))
    assert code == 0, out[-3000:]
    summary = orjson.loads((tmp_path / "run" / "summary.json").read_bytes())
    st = summary["stations"]
    assert st["booted"] >= 1 and st["booted"] == st["connected_max"], out[-3000:]
    assert not [k for k in summary["errors"]["by_kind"] if k.startswith(("http_", "tls"))]
    _no_secret_on_disk(tmp_path / "run")


def test_a_masked_scenario_never_drives_stations(tmp_path: Path) -> None:
    """Locust pointed at a results folder's scenario.yaml refuses, naming the masked key."""
    from tests.locust_adapter.procs import locust, run

    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(_scenario({"target": "ws://127.0.0.1:9", "password": "***"})))
    proc = run(locust("--fleetsim-scenario", str(path), "--users", "1", "--run-time", "1s"),
               timeout=60, log=tmp_path / "locust.log")
    log = (tmp_path / "locust.log").read_text(errors="replace")
    assert proc.returncode == 2, log[-2000:]
    assert "csms.password is masked" in log
