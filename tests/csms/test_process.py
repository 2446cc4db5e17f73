"""EmbeddedCsms: a real child process — start, stop, crash, restart on the same port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from ocpp.v16 import call

from fleetsim.csms import EmbeddedCsms, Ledger
from fleetsim.csms.versions import OcppVersion
from fleetsim.exceptions import FleetsimError

from .clients import boot, ocpp_station, run

V16 = OcppVersion.V16


def wait_until(predicate: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    """Poll ``predicate`` (every 20 ms, without sleeping the whole time) until true or timeout."""
    deadline = time.monotonic() + timeout_s
    event = threading.Event()
    while not predicate():
        if time.monotonic() > deadline:
            return False
        event.wait(0.02)
    return True


async def charge(url: str, station_id: str) -> int:
    """Boot, then start a transaction; return its id."""
    async with ocpp_station(url, station_id, V16) as cp:
        assert (await boot(cp, V16)).interval == 30
        result = await cp.call(
            call.StartTransaction(
                connector_id=1, id_tag="FS1", meter_start=0, timestamp="2026-01-01T10:00:00Z"
            ),
            suppress=False,
        )
        return int(result.transaction_id)


def test_start_stop_restart_and_crash_on_the_same_port(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    with EmbeddedCsms(db=db, heartbeat_interval_s=30, log_file=tmp_path / "csms.log") as csms:
        port, first_pid = csms.port, csms.pid
        assert csms.url == f"ws://127.0.0.1:{port}" and csms.db_path == db
        first = run(charge(csms.url, "P-1"))
        csms.restart()  # SIGTERM: the ledger is flushed, then a new process on the same port
        assert (csms.port, csms.running) == (port, True) and csms.pid != first_pid
        second = run(charge(csms.url, "P-1"))
        assert second > first
        # A reader sees the running CSMS's ledger once its next batch is committed.
        live = Ledger.open_readonly(db)
        assert wait_until(lambda: str(second) in {t.transaction_id for t in live.transactions()})
        live.close()
        csms.kill()  # a crash: the last flush interval may be lost, ids must not repeat
        assert not csms.running
        csms.start()
        assert csms.port == port
        third = run(charge(csms.url, "P-2"))
        assert third > second
        assert csms.stop() == 0  # a clean SIGTERM exit
    ledger = Ledger.open_readonly(db)
    tx_ids = {t.transaction_id for t in ledger.transactions()}
    assert {str(first), str(third)} <= tx_ids
    boots = {s.station_id: s.boots for s in ledger.stations()}
    assert boots["P-2"] == 1 and boots["P-1"] >= 1


def test_memory_ledger_and_facts_before_start() -> None:
    csms = EmbeddedCsms()
    with pytest.raises(FleetsimError, match="not been started"):
        _ = csms.url
    assert csms.db_path is None and csms.pid is None
    assert csms.stop() is None
    with csms:
        assert csms.running
    assert not csms.running


def test_child_dying_at_start_raises_with_its_stderr(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(FleetsimError, match=f"code 2.*cannot listen on 127.0.0.1:{port}"):
            EmbeddedCsms(port=port).start()
    with pytest.raises(FleetsimError, match="cannot open ledger"):
        EmbeddedCsms(db=tmp_path / "no" / "such" / "dir.db").start()
