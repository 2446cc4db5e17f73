"""The ``faults:`` and ``reconnect:`` sections: syntax, defaults, errors naming the key."""

from __future__ import annotations

from typing import Any

import pytest

from fleetsim.exceptions import ScenarioError
from fleetsim.scenario import parse_scenario, with_overrides
from fleetsim.scenario.faults import DisconnectMode
from fleetsim.scenario.reconnect import V16Mode

BASE: dict[str, Any] = {"stations": {"count": 10}}


def test_faults_of_every_kind_parse() -> None:
    s = parse_scenario({**BASE, "faults": [
        {"disconnect": {"at": "30s", "share": "50%", "mode": "dirty"}},
        {"disconnect": {"every": "60s", "share": 0.05, "mode": "clean"}},
        {"disconnect": {"at": "17:00", "share": "20%", "mode": "pong_timeout"}},
        {"action": "MeterValues", "drop": "2%"},
        {"action": "TransactionEvent", "delay": "500ms"},
        {"action": "StatusNotification", "duplicate": "1%"},
        {"latency": {"ms": 300, "jitter_ms": 50, "share": "100%"}},
        {"csms_restart": {"at": "20s", "down_for": "5s"}}]})
    f = s.faults
    assert [d.mode for d in f.disconnects] == [DisconnectMode.DIRTY, DisconnectMode.CLEAN,
                                               DisconnectMode.PONG_TIMEOUT]
    assert f.disconnects[0].when.at_s == 30 and f.disconnects[1].when.every_s == 60
    assert f.disconnects[2].when.daily_at_s == 17 * 3600
    assert [(m.action, m.drop, m.delay_s, m.duplicate) for m in f.messages] == [
        ("MeterValues", 0.02, 0, 0), ("TransactionEvent", 0, 0.5, 0),
        ("StatusNotification", 0, 0, 0.01)]
    assert f.latency is not None and (f.latency.ms, f.latency.jitter_ms) == (300, 50)
    assert f.csms_restarts[0].down_for_s == 5 and f.csms_restarts[0].mode == "kill"
    assert s.reconnect.ping_interval_s == 10  # pong_timeout needs the station's pings


def test_reconnect_defaults_and_settings() -> None:
    d = parse_scenario(BASE).reconnect
    assert (d.v16_mode, d.v16_wait_s, d.v2.wait_minimum_s, d.boot_on_reconnect) == (
        V16Mode.JITTERED, 10, 10, True)
    r = parse_scenario({**BASE, "reconnect": {
        "v16": {"mode": "fixed", "wait": "30s"},
        "v2": {"wait_minimum": "10s", "random_range": "15s", "repeat_times": 5},
        "boot_on_reconnect": False, "offline_threshold": "2m", "ping_interval": "20s"}}).reconnect
    assert (r.v16_mode, r.v16_wait_s, r.v16_jitter_s) == (V16Mode.FIXED, 30, 0)
    assert (r.v2.random_range_s, r.v2.repeat_times, r.offline_threshold_s) == (15, 5, 120)
    assert not r.boot_on_reconnect and r.ping_interval_s == 20


@pytest.mark.parametrize(("extra", "where"), [
    ({"faults": {"disconnect": {}}}, "faults"),
    ({"faults": [{"disconnect": {"at": "1s", "mode": "polite"}}]}, "faults[0].disconnect.mode"),
    ({"faults": [{"disconnect": {"at": "25:00"}}]}, "faults[0].disconnect.at"),
    ({"faults": [{"action": "MeterValues", "drop": "200%"}]}, "faults[0].drop"),
    ({"csms": {"target": "ws://x:1"}, "faults": [{"csms_restart": {"at": "1s"}}]},
     "faults[0].csms_restart"),
    ({"reconnect": {"v2": {"wait_minimum": "soon"}}}, "reconnect.v2.wait_minimum"),
    ({"reconnect": {"boot_on_reconect": True}}, "reconnect.boot_on_reconect"),
    ({"reconnect": {"ping_interval": "0s"},
      "faults": [{"disconnect": {"at": "1s", "mode": "pong_timeout"}}]}, "reconnect.ping_interval"),
])
def test_errors_name_the_key(extra: dict[str, Any], where: str) -> None:
    with pytest.raises(ScenarioError, match=rf"{where.replace('[', '.').replace(']', '.')}"):
        parse_scenario({**BASE, **extra}, file="s.yaml")


def test_a_csms_under_test_drops_the_restart_faults() -> None:
    s = parse_scenario({**BASE, "faults": [{"csms_restart": {"at": "5s"}},
                                           {"action": "Heartbeat", "drop": "1%"}]})
    o = with_overrides(s, csms_url="ws://127.0.0.1:9000")
    assert o.faults.csms_restarts == () and len(o.faults.messages) == 1
    parse_scenario(dict(o.raw))  # what an engine child parses again stays valid
