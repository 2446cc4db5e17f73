"""A few real stations on the engine, in this test's event loop, against a real CSMS."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

from fleetsim.drivers.session import Evse, Session, StationPlan
from fleetsim.metrics.recorder import Recorder
from fleetsim.scenario.fleet import StationSpec
from fleetsim.scenario.model import OcppVersion
from fleetsim.station import STATION_CLASSES, Clock, StationConfig, StationCore
from fleetsim.transport import Engine, EngineOptions
from tests.station.harness import CAR

VERSIONS = (OcppVersion.V16, OcppVersion.V201, OcppVersion.V21)
EVSE = Evse(max_power_w=11_000, phases=3, voltage_v=230)


def sess(arrival_s: float, departure_s: float, *, kwh: float = 50.0, tag: str = "FS0A0B0C0D",
         index: int = 0) -> Session:
    return Session(station_index=index, connector_id=1, arrival_s=arrival_s,
                   departure_s=departure_s, energy_kwh=kwh, id_tag=tag, vehicle=CAR,
                   soc_start=0.2)


class Fleet:
    """Stations ``P<n>`` of the given versions, each with its own planned sessions."""

    def __init__(self, url: str, versions: Sequence[OcppVersion],
                 sessions: Callable[[int], tuple[Session, ...]] = lambda i: (), *,
                 factor: float = 60.0, config: StationConfig | None = None,
                 ids: Sequence[str] | None = None, **options: Any) -> None:
        self.rec = Recorder()
        self.clock = Clock.start(epoch=None, factor=factor, wall_timestamps=False,
                                 monotonic=time.monotonic(), unix=time.time())
        # the test asks for a chatty fleet: 60 s readings every 60 s of *simulated* time
        cfg = config or StationConfig(meter_interval_s=60, heartbeat_interval_s=3600,
                                      call_timeout_wall_s=3, interval_factor=factor)
        self.ids = list(ids or [f"P{i:03d}" for i in range(len(versions))])
        self.stations: list[StationCore] = []
        for i, (v, sid) in enumerate(zip(versions, self.ids, strict=True)):
            spec = StationSpec(index=i, station_id=sid, version=v, connectors=1,
                               archetype="test", seed=1)
            plan = StationPlan(station_index=i, archetype="test", evse=EVSE, sessions=sessions(i))
            self.stations.append(STATION_CLASSES[v](spec, plan, clock=self.clock, recorder=self.rec,
                                                    config=cfg))
        self.sessions: list[dict[str, Any]] = []
        opts = {"connect_rate_per_s": 1000, "connect_timeout_s": 3, "backoff_base_s": 0.05,
                "backoff_cap_s": 0.2, "stop_grace_s": 3, **options}
        self.engine = Engine(self.stations, [f"{url}/{sid}" for sid in self.ids], recorder=self.rec,
                             on_sessions=self.sessions.extend, options=EngineOptions(**opts))
        self.stop = asyncio.Event()
        self.task: asyncio.Task[Any] | None = None

    def start(self) -> Fleet:
        self.task = asyncio.get_running_loop().create_task(self.engine.run(600, self.stop))
        return self

    async def finish(self) -> Any:
        self.stop.set()
        assert self.task is not None
        return await asyncio.wait_for(self.task, 20)

    def sim_iso(self) -> str:
        return self.clock.iso(time.monotonic())


async def wait_for(cond: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Wait until ``cond()`` holds (checked every 20 ms); fail naming ``what`` after timeout."""
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        await asyncio.sleep(0.02)
