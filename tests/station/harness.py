"""Drive a station core message by message, no sockets: a scripted CSMS and a fake clock."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import orjson

from fleetsim.drivers.session import Evse, Session, StationPlan, Vehicle
from fleetsim.metrics.recorder import Recorder
from fleetsim.scenario.fleet import StationSpec
from fleetsim.scenario.model import OcppVersion
from fleetsim.station import STATION_CLASSES, Clock, StationConfig, StationCore
from fleetsim.station.schemas import validate

Answer = Callable[[str, dict[str, Any]], Any]
EVSE = Evse(max_power_w=11_000, phases=3, voltage_v=230)
CAR = Vehicle(name="mid_bev", battery_kwh=60, ac_phases=3, ac_max_a=16)


def session(arrival_s: float, departure_s: float, *, kwh: float = 10.0, connector: int = 1,
            tag: str = "04A1B2C3") -> Session:
    return Session(station_index=0, connector_id=connector, arrival_s=arrival_s,
                   departure_s=departure_s, energy_kwh=kwh, id_tag=tag, vehicle=CAR,
                   soc_start=0.3)


def make(version: OcppVersion, sessions: tuple[Session, ...] = (), *, connectors: int = 1,
         config: StationConfig | None = None, evse: Evse = EVSE,
         clock: Clock | None = None) -> StationCore:
    spec = StationSpec(index=0, station_id="T000001", version=version, connectors=connectors,
                       archetype="test", seed=1)
    plan = StationPlan(station_index=0, archetype="test", evse=evse, sessions=sessions)
    cls = STATION_CLASSES[version]
    if hasattr(cls, "tx_ids"):  # predictable 2.x transaction ids (stations have slots)
        counter = itertools.count(1)
        cls = type(cls.__name__, (cls,), {"__slots__": (),
                                          "tx_ids": staticmethod(lambda: f"tx-{next(counter)}")})
    clock = clock or Clock(wall0=0.0, epoch_unix=1_767_571_200.0)
    return cls(spec, plan, clock=clock, recorder=Recorder(),
               config=config or StationConfig(meter_interval_s=60, heartbeat_interval_s=300),
               ids=(str(i) for i in itertools.count(1)))


def default_answer(version: OcppVersion) -> Answer:
    tx = itertools.count(100)

    def answer(action: str, payload: dict[str, Any]) -> Any:
        if action == "BootNotification":
            return {"status": "Accepted", "currentTime": "2026-01-05T00:00:00.000Z",
                    "interval": 300}
        if action == "Heartbeat":
            return {"currentTime": "2026-01-05T00:00:00.000Z"}
        if action == "Authorize":
            return ({"idTagInfo": {"status": "Accepted"}} if version is OcppVersion.V16
                    else {"idTokenInfo": {"status": "Accepted"}})
        if action == "StartTransaction":
            return {"transactionId": next(tx), "idTagInfo": {"status": "Accepted"}}
        return {}
    return answer


class Exchange:
    """Runs a station against ``answer``; every sent CALL is schema-checked and logged."""

    def __init__(self, st: StationCore, answer: Answer | None = None, rtt: float = 0.001) -> None:
        self.st, self.rtt = st, rtt
        self.answer = answer or default_answer(st.spec.version)
        self.sent: list[tuple[float, str, dict[str, Any]]] = []
        self.unconfirmed: list[tuple[float, list[Any]]] = []  # 2.1 SEND and CALLRESULTERROR
        self.ids: list[str] = []
        self.now = 0.0

    def open(self) -> None:
        self.st.on_open(self.now)
        self.pump()

    def pump(self) -> None:
        while self.st.out:
            frames, self.st.out = list(self.st.out), []
            for raw in frames:
                msg = orjson.loads(raw)
                if msg[0] in (5, 6):  # 2.1 CALLRESULTERROR / SEND: never answered
                    if msg[0] == 6:
                        validate(self.st.spec.version, msg[2], msg[3])
                    self.unconfirmed.append((self.now, msg))
                    continue
                assert msg[0] == 2
                _, msg_id, action, payload = msg
                validate(self.st.spec.version, action, payload)
                self.sent.append((self.now, action, payload))
                self.ids.append(msg_id)
                self.now += self.rtt
                reply = self.answer(action, payload)
                frame = reply if isinstance(reply, bytes) else orjson.dumps([3, msg_id, reply])
                self.st.on_frame(frame, self.now)

    def run_until(self, t: float) -> None:
        while True:
            w = self.st.next_wake()
            if w > t:
                break
            self.now = max(self.now, w)
            self.st.on_timer(self.now)
            self.pump()
        self.now = max(self.now, t)

    def csms(self, action: str, payload: dict[str, Any]) -> Any:
        """The CSMS sends a CALL: returns the station's reply frame (schema-checked), then
        pumps whatever the station sends after it."""
        self.calls = getattr(self, "calls", 0) + 1
        mid = f"csms-{self.calls}"
        validate(self.st.spec.version, action, payload)  # the test's own CALL must be valid
        self.st.on_frame(orjson.dumps([2, mid, action, payload]), self.now)
        frames, self.st.out = list(self.st.out), []
        assert frames, f"no reply to {action}"
        reply = orjson.loads(frames[0])
        assert reply[0] in (3, 4) and reply[1] == mid, f"the reply must come first: {reply}"
        if reply[0] == 3:
            validate(self.st.spec.version, action, reply[2], response=True)
        self.st.out = frames[1:]
        self.pump()
        return reply[2] if reply[0] == 3 else reply

    def reconnect_if_asked(self) -> bool:
        """Play the engine's part after a reset: close, reconnect, boot."""
        if self.st.reconnect_after is None:
            return False
        self.st.reconnect_after = None
        self.st.on_close(self.now)
        self.now += 0.5
        self.open()
        return True

    def actions(self) -> list[str]:
        return [a for _, a, _ in self.sent]

    def of(self, action: str) -> list[dict[str, Any]]:
        return [p for _, a, p in self.sent if a == action]
