"""The same run with and without permessage-deflate against the embedded CSMS.

Compression changes the bytes on the wire, not what happens: both runs reconcile
with the CSMS ledger, and the summary reports the bytes per direction and action.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fleetsim.reconcile.check import reconcile
from fleetsim.run.standalone import run_scenario
from fleetsim.scenario import parse_scenario


def _run(tmp: Path, compression: str) -> tuple[dict[str, Any], Any]:
    s = parse_scenario({
        "name": f"deflate-{compression}", "seed": 11, "duration": "4s",
        "stations": {"count": 6, "id_prefix": "ZC", "connect_rate": 200,
                     "versions": {"1.6": 1, "2.0.1": 1, "2.1": 1}},
        "csms": {"target": "embedded", "heartbeat_interval": "600s",
                 "compression": compression},
        "clock": {"time_factor": 600, "start": "2026-01-05T07:00:00Z", "intervals": "simulated"},
        "ocpp": {"meter_interval": "60s"},
        "drivers": {"model": "uniform",
                    "overrides": {"uniform": {"sessions_per_day": 24, "dwell_h": [0.5, 1]}}},
    }, file=f"{compression}.yaml")
    out = run_scenario(s, out_dir=tmp / compression, progress=False)
    return json.loads((out.path / "summary.json").read_text()), reconcile(out.path)


def test_deflate_saves_bytes_and_changes_nothing_else(tmp_path: Path) -> None:
    plain, plain_rec = _run(tmp_path, "off")
    packed, packed_rec = _run(tmp_path, "deflate")
    assert plain_rec.ok and packed_rec.ok, (plain_rec.differences, packed_rec.differences)
    assert plain_rec.transactions_stations > 0 and packed_rec.transactions_stations > 0
    assert plain["errors"]["total"] == packed["errors"]["total"] == 0
    off, on = plain["wire"], packed["wire"]
    assert off["compression"] == "off" and on["compression"] == "deflate"
    assert off["sent"]["saved"] < 0 and off["received"]["saved"] < 0  # framing only
    assert on["sent"]["saved"] > 0.5 and on["received"]["saved"] > 0  # answers are tiny
    by_action = on["sent_by_action"]
    tx = by_action["TransactionEvent"]
    assert tx["frames"] > 0 and tx["wire"] < tx["payload"]
    assert sum(a["payload"] for a in by_action.values()) == on["sent"]["payload"]
