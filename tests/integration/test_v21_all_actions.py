"""OCPP 2.1 end to end: every one of the 12 station → CSMS actions new in 2.1 is sent and
answered in one short strict run against the embedded CSMS, and the money flows land in
its ledger: tariffs priced by the stations, terminal payments settled, web payments
started, battery swaps, priority charging, dynamic schedules pulled and pushed."""

from __future__ import annotations

import json
from pathlib import Path

import orjson

from fleetsim.csms.ledger import Ledger
from fleetsim.csms.versions import STATION_ACTIONS, OcppVersion
from fleetsim.run.standalone import run_scenario
from fleetsim.scenario import parse_scenario

NEW_21 = STATION_ACTIONS[OcppVersion.V21] - STATION_ACTIONS[OcppVersion.V201] \
    | {"NotifyPeriodicEventStream"}


def test_every_new_21_station_action_is_sent_and_answered(tmp_path: Path) -> None:
    assert len(NEW_21) == 12
    every = "10m"  # repeated: under a loaded box stations may connect late
    s = parse_scenario({
        "name": "v21all", "seed": 11, "duration": "8s",
        "stations": {"count": 6, "id_prefix": "VA", "id_digits": 2, "connect_rate": 200,
                     "connectors": 2,
                     "versions": {"2.1": 1}},
        "csms": {"target": "embedded", "heartbeat_interval": "3600s"},
        "clock": {"time_factor": 600, "start": "2026-01-07T17:00:00Z", "intervals": "simulated"},
        "ocpp": {"meter_interval": "300s", "strict": True, "v2x_share": 0.5,
                 "event_stream_interval": "300s", "adhoc_share": 1.0, "priority_share": 0.5,
                 "chain_status_interval": "1h"},
        "drivers": {"mix": {"uniform": 4, "battery_swap": 2},
                    "overrides": {"uniform": {"sessions_per_day": 400, "dwell_h": [0.5, 1]}}},
        "csms_commands": [
            *({"action": "SetDefaultTariff", when: t, "price_kwh": 0.4, "fixed": 1,
               "idle_min": 0.1, "tax_pct": 21, "tariff_id": "evening"}
              for when, t in (("at", "+1m"), ("every", every))),
            {"action": "SetChargingProfile", "every": every, "limit": "11kW",
             "purpose": "priority"},
            {"action": "SetChargingProfile", "every": every, "limit": "7kW", "kind": "dynamic",
             "update_interval": "1s"},
            {"action": "UpdateDynamicSchedule", "every": "15m", "limit": "5kW"},
            {"action": "ChangeTransactionTariff", "every": "20m", "price_kwh": 0.6,
             "tariff_id": "peak"},
            {"action": "UsePriorityCharging", "every": "20m"},
            {"action": "NotifyWebPaymentStarted", "every": "5m", "timeout": "60s"},
            {"action": "GetTariffs", "every": "30m"},
            {"action": "ClearTariffs", "every": "30m", "tariff_id": "none"},
            {"action": "RequestBatterySwap", "every": "20m"},
            {"action": "GetDERControl", "every": every},
            # active longer than the Gets' interval: a Get always finds one (a 5 m control
            # was found only by a Get landing after the Set at the same tick; flaky loaded)
            {"action": "SetDERControl", "every": "20m", "control": "HVMustTrip", "x": 95,
             "duration": "15m"},
        ],
    }, file="v21all.yaml")
    out = run_scenario(s, out_dir=tmp_path / "run", progress=False)
    summary = json.loads((out.path / "summary.json").read_text())
    assert summary["conformance"] == {}  # strict: every CSMS message valid

    ledger = Ledger.open_readonly(out.path / "csms.sqlite")
    try:
        counts = {m.action: m for m in ledger.message_counts() if m.action in NEW_21}
        errors = {a: sum(m.errors for m in ledger.message_counts() if m.action == a)
                  for a in NEW_21}
        totals = ledger.action_totals()
        outcomes = ledger.command_outcomes()
        events = {k: [orjson.loads(e[2]) for e in ledger.events(kind=k)]
                  for k in ("cost", "settlement", "battery_swap", "priority_charging")}
    finally:
        ledger.close()
    # each of the 12 arrived, valid, and (but the SEND) was answered with a CALLRESULT
    assert set(counts) == NEW_21, NEW_21 - set(counts)
    assert not {a: n for a, n in errors.items() if n}, errors
    answered = summary["actions"]
    for action in NEW_21 - {"NotifyPeriodicEventStream"}:
        assert answered[f"2.1/{action}"]["count"] >= 1, action
        assert answered[f"2.1/{action}"].get("errors", 0) == 0, answered[f"2.1/{action}"]
    assert totals["NotifyPeriodicEventStream"] == \
        summary["unconfirmed"]["sends"]["2.1/NotifyPeriodicEventStream"]["count"]
    # what the CSMS asked, each answered with a spec status
    ok = {"SetDefaultTariff": {"Accepted"}, "GetTariffs": {"Accepted"},
          "ClearTariffs": {"ok"}, "ChangeTransactionTariff": {"Accepted", "TxNotFound"},
          "UsePriorityCharging": {"Accepted", "Rejected"}, "SetChargingProfile": {"Accepted"},
          # Rejected: an update that reached a station before its dynamic profile
          "UpdateDynamicSchedule": {"Accepted", "Rejected"}, "NotifyWebPaymentStarted": {"ok"},
          "RequestStartTransaction": {"Accepted", "Rejected"},
          "RequestBatterySwap": {"Accepted", "Rejected"}, "GetDERControl": {"Accepted", "NotFound"},
          "SetDERControl": {"Accepted"}}
    bad = {k: n for k, n in outcomes.items() if k[1] not in ok.get(k[0], set())}
    assert not bad, bad
    assert ("RequestBatterySwap", "Accepted") in outcomes
    assert ("UpdateDynamicSchedule", "Accepted") in outcomes
    assert ("UsePriorityCharging", "Accepted") in outcomes
    assert ("RequestStartTransaction", "Accepted") in outcomes  # a web payment started a session
    # the ledger holds the costs: every priced Ended transaction, and each settlement
    ended = [e for e in events["cost"] if e["eventType"] == "Ended"]
    assert ended and all(e["currency"] == "EUR" and e["inclTax"] >= e["exclTax"] >= 0
                         for e in ended)
    evening = [e for e in ended if e["tariffId"] == "evening" and e["energyWh"] > 0]
    assert evening and all(e["inclTax"] > e["exclTax"] > 1.0 for e in evening)  # fee, tax
    assert any(e["tariffId"] == "peak" for e in ended)  # ChangeTransactionTariff
    assert events["settlement"] and all(x["status"] == "Settled" and x["amount"] >= 1.0
                                        for x in events["settlement"])
    assert any(x["vatNumber"] for x in events["settlement"])  # validated, then on the receipt
    assert {e["eventType"] for e in events["battery_swap"]} == {"BatteryIn", "BatteryOut"}
    assert events["priority_charging"]
