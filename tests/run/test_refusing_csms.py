"""A CSMS that refuses the way real ones do, through ``fleetsim run`` end to end.

It knows only an allow-list of idTags (Authorize ``Invalid`` otherwise) and answers
StatusNotification with ``NotImplemented`` / ``No handler for … registered``. The
run must keep what it said (summary.json → csms_said, the table), give every
refused session a row, fail loudly without any SLO (exit 3, one verdict line), and
pass once the CALLERROR is declared expected.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import orjson
import yaml
from websockets.asyncio.server import ServerConnection, serve

from fleetsim.bench.ack_server import canned_result
from tests.locust_adapter.procs import fleetsim_async

SUBPROTOCOLS = ["ocpp1.6", "ocpp2.0.1", "ocpp2.1"]
SCENARIO = {
    "name": "refusing", "seed": 5, "duration": "4s",
    "stations": {"count": 20, "id_prefix": "RF", "connectors": 2, "connect_rate": 200,
                 "versions": {"1.6": 1}},
    "clock": {"time_factor": 600, "start": "2026-01-05T07:00:00Z"},
    "drivers": {"model": "uniform",
                "overrides": {"uniform": {"sessions_per_day": 48, "dwell_h": [0.2, 1.0]}}},
}


def _allowed(tag: str) -> bool:
    return int(tag[-1], 16) % 2 == 0  # half the tags are on the CSMS's list


async def _refusing(ws: ServerConnection, *, boot: bool = True) -> None:
    async for raw in ws:
        msg = orjson.loads(raw)
        if msg[0] != 2:
            continue
        _, mid, action, payload = msg
        if action == "BootNotification" and not boot:
            continue  # never answered: the stations stay unbooted
        if action == "StatusNotification":  # sent at every boot, whatever the intervals
            reply: list[Any] = [4, mid, "NotImplemented",
                                "No handler for StatusNotification registered", {}]
        elif action == "Authorize":
            status = "Accepted" if _allowed(payload["idTag"]) else "Invalid"
            reply = [3, mid, {"idTagInfo": {"status": status}}]
        else:
            reply = [3, mid, canned_result(ws.subprotocol or "", action)]
        await ws.send(orjson.dumps(reply).decode())


async def _run(tmp: Path, handler: Any, *extra: str) -> tuple[int, str, Path]:
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "s.yaml").write_text(yaml.safe_dump(SCENARIO))
    async with serve(handler, "127.0.0.1", 0, subprotocols=SUBPROTOCOLS) as server:  # type: ignore[arg-type]
        port = server.sockets[0].getsockname()[1]
        code, out = await fleetsim_async(
            "run", str(tmp / "s.yaml"), "--workers", "0", "--quiet",
            "--csms", f"ws://127.0.0.1:{port}", "--out", str(tmp / "run"), *extra, timeout_s=300)
    return code, out, tmp / "run"


async def test_refusals_are_kept_and_fail_the_run_unless_expected(tmp_path: Path) -> None:
    code, out, run = await _run(tmp_path, _refusing)
    assert code == 3, out[-3000:]
    verdict = [line for line in out.splitlines() if line.startswith("FAIL  run errors:")]
    assert len(verdict) == 1 and "CALLERROR NotImplemented" in verdict[0], out[-3000:]
    assert "1.6/StatusNotification" in verdict[0]
    assert ('CSMS said: 1.6/StatusNotification NotImplemented "No handler for '
            'StatusNotification registered"') in out
    said = orjson.loads((run / "summary.json").read_bytes())["csms_said"]
    assert said["callerrors"][0]["description"] == "No handler for StatusNotification registered"
    refused = {r["id_tag"] for r in said["refused_id_tags"]}
    assert refused and not any(_allowed(t) for t in refused)
    with (run / "sessions.csv").open() as f:
        rows = list(csv.DictReader(f))
    bad = [r for r in rows if r["refused"]]
    good = [r for r in rows if not r["refused"]]
    assert bad and all(r["refused"] == "Invalid" and r["csms_acknowledged"] == "false"
                       and r["transaction_id"] == "" for r in bad)
    assert said["refusals"]["1.6/Authorize Invalid"] == len(bad)
    assert good and all(_allowed(r["id_tag"]) for r in good)
    assert all(r["csms_acknowledged"] == "true" for r in good if r["transaction_id"])
    # declaring the CALLERROR expected is unit-tested in tests/report/test_run_errors.py
    # (one more run here would cost a minute of CI on a busy box)
