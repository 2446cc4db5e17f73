"""One CSMS serving 2.0.1 and 1.6 on two ports, with a trailing slash and a /<org>/<id>
path: each station reaches the port of its version, on the path the template makes."""

from __future__ import annotations

import asyncio
import time

import orjson
from websockets.asyncio.server import ServerConnection, serve

from fleetsim.bench.ack_server import canned_result
from fleetsim.drivers.registry import plan_fleet
from fleetsim.metrics.recorder import Recorder
from fleetsim.scenario import build_fleet, parse_scenario
from fleetsim.scenario.model import OcppVersion
from fleetsim.station import STATION_CLASSES, Clock, StationConfig
from fleetsim.transport import Engine, EngineOptions


async def test_two_versions_on_two_ports() -> None:
    seen: dict[str, list[tuple[str, str]]] = {"1.6": [], "2.0.1": []}

    def handler_for(version: str):  # type: ignore[no-untyped-def]
        async def handler(ws: ServerConnection) -> None:
            assert ws.request is not None
            seen[version].append((ws.subprotocol or "", ws.request.path))
            async for raw in ws:
                msg = orjson.loads(raw)
                if msg[0] == 2:
                    await ws.send(orjson.dumps([3, msg[1], canned_result(
                        ws.subprotocol or "", msg[2])]).decode())
        return handler

    async with serve(handler_for("1.6"), "127.0.0.1", 0, subprotocols=["ocpp1.6"]) as a, \
            serve(handler_for("2.0.1"), "127.0.0.1", 0, subprotocols=["ocpp2.0.1"]) as b:  # type: ignore[list-item]
        pa, pb = (x.sockets[0].getsockname()[1] for x in (a, b))
        s = parse_scenario({
            "stations": {"count": 10, "versions": {"1.6": 1, "2.0.1": 1}},
            "csms": {"target": {"1.6": f"ws://127.0.0.1:{pa}/", "2.0.1": f"ws://127.0.0.1:{pb}"},
                     "url_template": "{url}/acme/{station_id}/"}})
        specs = build_fleet(s)
        plans = plan_fleet(s, specs, horizon_s=3600)
        clock = Clock.start(epoch=None, factor=60, wall_timestamps=False,
                            monotonic=time.monotonic(), unix=time.time())
        rec = Recorder()
        cfg = StationConfig(heartbeat_interval_s=3600)
        stations = [STATION_CLASSES[sp.version](sp, pl, clock=clock, recorder=rec, config=cfg)
                    for sp, pl in zip(specs, plans, strict=True)]
        engine = Engine(stations, [s.csms.url_for(sp.version, sp.station_id) for sp in specs],
                        recorder=rec, options=EngineOptions(connect_rate_per_s=1000,
                                                            stop_grace_s=2))
        report = await asyncio.wait_for(engine.run(1.5), 30)
    assert report.booted == 10
    for version, port_hits in seen.items():
        ids = {sp.station_id for sp in specs if sp.version is OcppVersion(version)}
        assert {p for _, p in port_hits} == {f"/acme/{i}/" for i in ids}
        assert {sub for sub, _ in port_hits} == {f"ocpp{version}"}
