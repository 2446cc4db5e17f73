"""What a real station does when the CSMS is not (yet) on its side.

- a car arriving before the first boot waits for it (or charges locally only with
  AllowOfflineTxForUnknownId);
- an Authorize answered with CALLERROR does not start charging (same exception);
- a 1.6 StartTransaction that never got a transactionId is a session the CSMS never
  acknowledged, and says so;
- every refusal keeps the idTag and the status, and is a session row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from fleetsim.run.results import ResultsFolder
from fleetsim.run.worker_folder import WorkerFolder, read_lines
from fleetsim.scenario.model import OcppVersion
from fleetsim.station import StationConfig
from fleetsim.station.schemas import validate
from tests.station.harness import Exchange, default_answer, make, session

V16, V201 = OcppVersion.V16, OcppVersion.V201
UNKNOWN_OK = StationConfig(meter_interval_s=60, heartbeat_interval_s=300,
                           offline_tx_unknown_id=True)


class Refusing(Exchange):
    """Answers ``errors`` actions with a CALLERROR, leaves ``silent`` ones unanswered."""

    def __init__(self, st: Any, *, errors: dict[str, tuple[str, str]] | None = None,
                 silent: tuple[str, ...] = ()) -> None:
        super().__init__(st)
        self.errors, self.silent = errors or {}, silent

    def pump(self) -> None:
        while self.st.out:
            frames, self.st.out = list(self.st.out), []
            for raw in frames:
                _, msg_id, action, payload = orjson.loads(raw)
                validate(self.st.spec.version, action, payload)
                self.sent.append((self.now, action, payload))
                self.now += self.rtt
                if action in self.silent:
                    continue
                if action in self.errors:
                    code, text = self.errors[action]
                    frame = orjson.dumps([4, msg_id, code, text, {}])
                else:
                    frame = orjson.dumps([3, msg_id, self.answer(action, payload)])
                self.st.on_frame(frame, self.now)


def _rows(st: Any, tmp_path: Path) -> list[dict[str, str]]:
    import csv

    tmp_path.mkdir(parents=True, exist_ok=True)
    engine = WorkerFolder(tmp_path / "workers" / "engine")  # the way every run writes them
    engine.sessions(st.finished_sessions)
    engine.close()
    folder = ResultsFolder(tmp_path, scenario_raw={}, epoch_unix=0.0)
    folder.add_sessions(read_lines(engine.path / "sessions.jsonl"))
    folder.close_streams()
    with (tmp_path / "sessions.csv").open() as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("version", [V16, V201])
def test_a_car_before_the_first_boot_waits_for_it(version: OcppVersion) -> None:
    st = make(version, (session(10, 3600),))
    ex = Exchange(st)
    ex.run_until(100)  # the car arrived at 10 s; the station is still not connected
    assert st.connectors[0].busy and st.connectors[0].tx is None
    ex.open()  # connects and boots at 100 s: only now is the idTag authorised
    actions = ex.actions()
    assert actions.index("BootNotification") < actions.index("Authorize")
    assert min(t for t, a, _ in ex.sent if a == "Authorize") >= 100
    assert st.connectors[0].charging


def test_a_car_before_the_first_boot_charges_locally_only_if_configured() -> None:
    st = make(V16, (session(10, 3600),), config=UNKNOWN_OK)
    ex = Exchange(st)
    ex.run_until(100)
    assert st.connectors[0].tx is not None  # started locally, its StartTransaction queued
    ex.open()
    assert "Authorize" not in ex.actions() and ex.of("StartTransaction")


def test_a_car_that_leaves_before_the_boot_is_an_unserved_row(tmp_path: Path) -> None:
    st = make(V16, (session(10, 50),))
    ex = Exchange(st)
    ex.run_until(100)
    ex.open()
    assert "Authorize" not in ex.actions() and not ex.of("StartTransaction")
    [row] = _rows(st, tmp_path)
    assert row["refused"] == "NotBooted" and row["csms_acknowledged"] == "false"


@pytest.mark.parametrize("version", [V16, V201])
def test_authorize_callerror_does_not_start_charging(version: OcppVersion,
                                                     tmp_path: Path) -> None:
    st = make(version, (session(10, 3600, tag="04A1B2C3"),))
    ex = Refusing(st, errors={"Authorize": ("NotImplemented", "No handler for Authorize")})
    ex.open()
    ex.run_until(4000)
    assert not st.connectors[0].charging
    if version is V16:
        assert not ex.of("StartTransaction")
    else:  # the transaction opened at plug-in ends DeAuthorized, never Charging
        states = [p.get("transactionInfo", {}).get("chargingState")
                  for p in ex.of("TransactionEvent")]
        assert "Charging" not in states
        assert ex.of("TransactionEvent")[-1]["transactionInfo"]["stoppedReason"] == "DeAuthorized"
    said = st.rec.said.summary()
    prefix = "1.6/" if version is V16 else "2.0.1/"
    assert said["callerrors"][0] == {"action": f"{prefix}Authorize", "code": "NotImplemented",
                                     "description": "No handler for Authorize", "count": 1}
    assert said["refused_id_tags"] == [{"action": f"{prefix}Authorize",
                                        "status": "CALLERROR:NotImplemented",
                                        "id_tag": "04A1B2C3", "count": 1}]
    [row] = _rows(st, tmp_path)
    assert row["refused"] == "CALLERROR:NotImplemented"


def test_authorize_callerror_charges_with_offline_tx_for_unknown_id() -> None:
    st = make(V16, (session(10, 3600),), config=UNKNOWN_OK)
    ex = Refusing(st, errors={"Authorize": ("NotImplemented", "")})
    ex.open()
    ex.run_until(100)
    assert st.connectors[0].charging and ex.of("StartTransaction")


def test_an_invalid_idtag_is_kept_with_its_status(tmp_path: Path) -> None:
    st = make(V16, (session(10, 3600, tag="DEADBEEF"),))
    answer = default_answer(V16)

    def refuse(action: str, payload: dict[str, Any]) -> Any:
        if action == "Authorize":
            return {"idTagInfo": {"status": "Invalid"}}
        return answer(action, payload)

    ex = Exchange(st, refuse)
    ex.open()
    ex.run_until(4000)
    assert not ex.of("StartTransaction")
    assert st.rec.said.summary()["refusals"] == {"1.6/Authorize Invalid": 1}
    rows = _rows(st, tmp_path)
    assert len(rows) == 1 and rows[0]["refused"] == "Invalid" and rows[0]["id_tag"] == "DEADBEEF"
    assert rows[0]["transaction_id"] == "" and rows[0]["csms_acknowledged"] == "false"


def test_a_start_without_transaction_id_is_not_acknowledged(tmp_path: Path) -> None:
    st = make(V16, (session(10, 600), session(1000, 1600)),
              config=StationConfig(meter_interval_s=60, heartbeat_interval_s=300,
                                   call_timeout_wall_s=1e6))
    ex = Refusing(st, silent=("StartTransaction",))
    ex.open()
    ex.run_until(700)  # the car left; the CSMS never answered its StartTransaction
    [row] = _rows(st, tmp_path)
    assert row["transaction_id"] == "" and row["csms_acknowledged"] == "false"


def test_acknowledged_sessions_say_so(tmp_path: Path) -> None:
    for version in (V16, V201):
        st = make(version, (session(10, 600),))
        ex = Exchange(st)
        ex.open()
        ex.run_until(700)
        [row] = _rows(st, tmp_path / version.value)
        assert row["csms_acknowledged"] == "true" and row["refused"] == ""
