"""``python -m fleetsim.csms``: the ready contract, clean signals, one-line errors, --processes."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from ocpp.v16 import call

from fleetsim.csms import Ledger
from fleetsim.csms.command import add_arguments, config_from_args
from fleetsim.csms.versions import OcppVersion

from .clients import boot, ocpp_station, run

ROOT = Path(__file__).resolve().parents[2]


def csms_process(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "fleetsim.csms", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # its own process group, as in a terminal
    )


def wait_ready(
    proc: subprocess.Popen[str], ready: Path, timeout_s: float = 20
) -> dict[str, object]:
    deadline = time.monotonic() + timeout_s
    while not ready.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "not ready in time"
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(0.02)
    info: dict[str, object] = json.loads(ready.read_text())
    return info


@contextlib.contextmanager
def listening_socket() -> Iterator[int]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ready_line_and_file_then_clean_stop(tmp_path: Path, signum: signal.Signals) -> None:
    ready = tmp_path / "ready.json"
    proc = csms_process("--port", "0", "--ready-file", str(ready), "--db", str(tmp_path / "l.db"))
    info = wait_ready(proc, ready)
    assert info["pid"] == proc.pid
    assert info["url"] == f"ws://127.0.0.1:{info['port']}"
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert out == f"fleetsim csms listening on {info['url']}\n"
    assert "Traceback" not in err
    assert not list(tmp_path.glob(".ready.json.*"))  # the temp file was renamed away


def test_port_in_use_is_one_line_and_exit_2() -> None:
    with listening_socket() as port:
        proc = csms_process("--port", str(port))
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 2 and out == ""
    assert err.strip().splitlines() == [
        f"fleetsim csms: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--db", "/nonexistent/dir/ledger.db"], "cannot open ledger /nonexistent/dir/ledger.db"),
        (["--tokens", "/nonexistent/tokens.txt"], "/nonexistent/tokens.txt: cannot read tokens"),
        (["--heartbeat-interval", "0"], "heartbeat interval must be >= 1 s"),
    ],
)
def test_startup_errors_are_one_line_and_exit_2(args: list[str], message: str) -> None:
    proc = csms_process("--port", "0", *args)
    _out, err = proc.communicate(timeout=20)
    assert proc.returncode == 2
    [line] = err.strip().splitlines()
    assert line.startswith("fleetsim csms: ") and message in line


def test_options_map_to_config(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("# accepted cards\nAA11\n\nBB22  # fleet card\n")
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    ns = parser.parse_args(
        [
            *("--tokens", str(tokens), "--token-prefix", "", "--reject", "A", "B"),
            *("--reject", "C", "--pending-first", "2", "--pending-interval", "5"),
        ]
    )
    config = config_from_args(ns)
    assert config.tokens == {"AA11", "BB22"} and config.token_prefix is None
    assert config.reject_ids == {"A", "B", "C"}
    assert (config.pending_first, config.pending_interval_s, config.port) == (2, 5, 9000)
    assert (config.db, config.heartbeat_interval_s) == (":memory:", 60)


def test_several_processes_share_the_port_and_the_ledger(tmp_path: Path) -> None:
    ready, db = tmp_path / "ready.json", tmp_path / "ledger.db"
    proc = csms_process(
        "--port", "0", "--processes", "2", "--ready-file", str(ready), "--db", str(db)
    )
    try:
        url = str(wait_ready(proc, ready)["url"])

        async def fleet() -> list[int]:
            ids = []
            for i in range(20):  # new connections are spread over both processes
                async with ocpp_station(url, f"MP-{i}", OcppVersion.V16) as cp:
                    await boot(cp, OcppVersion.V16)
                    result = await cp.call(
                        call.StartTransaction(
                            connector_id=1,
                            id_tag="FS",
                            meter_start=0,
                            timestamp="2026-01-01T10:00:00Z",
                        ),
                        suppress=False,
                    )
                    ids.append(result.transaction_id)
            return ids

        ids = run(fleet())
        assert len(set(ids)) == 20
        # Process i of 2 issues ids congruent to i+1 modulo 2: both served stations.
        assert {i % 2 for i in ids} == {0, 1}
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: every process of the group gets it
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert out.count("listening on") == 1
    ledger = Ledger.open_readonly(db)
    assert len(ledger.stations()) == 20 and len(ledger.transactions()) == 20
