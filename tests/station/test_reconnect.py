"""Coming back online: boot again or not, and which StatusNotifications follow.

Without a boot (``reconnect.boot_on_reconnect: false``) a station offline longer than
OfflineThreshold reports every connector, otherwise only those whose status changed
(2.0.1 OCPPCommCtrlr.OfflineThreshold); a reset always boots.
"""

from __future__ import annotations

import pytest

from fleetsim.scenario.model import OcppVersion
from fleetsim.scenario.reconnect import ReconnectConfig
from fleetsim.station import StationConfig
from tests.station.harness import Exchange, make, session

V = [OcppVersion.V16, OcppVersion.V201]


def station(v: OcppVersion, *, boot: bool, threshold_s: float = 600.0) -> Exchange:
    cfg = StationConfig(meter_interval_s=300, heartbeat_interval_s=600,
                        reconnect=ReconnectConfig(boot_on_reconnect=boot,
                                                  offline_threshold_s=threshold_s))
    return Exchange(make(v, (session(1000, 1500, connector=2),), connectors=2, config=cfg))


def reconnect(ex: Exchange, offline_s: float) -> list[str]:
    """Drop the link now, reconnect ``offline_s`` later; what the station sent then."""
    ex.st.on_close(ex.now)
    ex.run_until(ex.now + offline_s)
    n = len(ex.sent)
    ex.open()
    return ex.actions()[n:]


@pytest.mark.parametrize("v", V)
def test_default_boots_on_every_reconnect(v: OcppVersion) -> None:
    ex = station(v, boot=True)
    ex.open()
    ex.run_until(100)
    assert reconnect(ex, 10)[0] == "BootNotification"


@pytest.mark.parametrize("v", V)
def test_short_outage_without_boot_reports_only_changed_connectors(v: OcppVersion) -> None:
    ex = station(v, boot=False)
    ex.open()
    ex.run_until(900)
    sent = reconnect(ex, 200)  # a car plugged into connector 2 meanwhile (at 1000 s)
    assert "BootNotification" not in sent
    statuses = [p for p in ex.of("StatusNotification")][-sent.count("StatusNotification"):]
    assert sent.count("StatusNotification") == 1
    where = statuses[0].get("connectorId") if v is OcppVersion.V16 else statuses[0]["evseId"]
    assert where == 2
    assert ex.st.booted and ex.st.boots == 1
    n = len(ex.sent)
    ex.run_until(ex.now + 700)
    assert "Heartbeat" in ex.actions()[n:]  # the heartbeat resumed


@pytest.mark.parametrize("v", V)
def test_long_outage_without_boot_reports_every_connector(v: OcppVersion) -> None:
    ex = station(v, boot=False, threshold_s=60)
    ex.open()
    ex.run_until(100)
    sent = reconnect(ex, 120)
    assert "BootNotification" not in sent
    assert sent.count("StatusNotification") == (3 if v is OcppVersion.V16 else 2)  # + 1.6 conn 0


@pytest.mark.parametrize("v", V)
def test_a_reset_boots_even_without_boot_on_reconnect(v: OcppVersion) -> None:
    ex = station(v, boot=False)
    ex.open()
    ex.run_until(100)
    kind = "Soft" if v is OcppVersion.V16 else "Immediate"
    ex.csms("Reset", {"type": kind})
    ex.run_until(ex.now + 10)
    n = len(ex.sent)
    assert ex.reconnect_if_asked()
    assert ex.actions()[n] == "BootNotification"


def test_2x_retry_backoff_and_ping_interval_are_device_model_variables() -> None:
    ex = station(OcppVersion.V201, boot=True)
    ex.open()
    names = ("RetryBackOffWaitMinimum", "RetryBackOffRandomRange", "RetryBackOffRepeatTimes",
             "OfflineThreshold", "WebSocketPingInterval")
    get = [{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": n}} for n in names]
    got = ex.csms("GetVariables", {"getVariableData": get})["getVariableResult"]
    assert [r["attributeValue"] for r in got] == ["10", "10", "5", "600", "0"]
    sets = [{**g, "attributeValue": val} for g, val in zip(get[:3], ("3", "7", "2"), strict=True)]
    result = ex.csms("SetVariables", {"setVariableData": sets})["setVariableResult"]
    assert {r["attributeStatus"] for r in result} == {"Accepted"}
    b = ex.st.retry_backoff
    assert (b.wait_minimum_s, b.random_range_s, b.repeat_times) == (3.0, 7.0, 2)
