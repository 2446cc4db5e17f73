"""Local authorization changes the traffic: cache, local list, pre- and offline
authorization (1.6 §3.5, 2.0.1 C10-C15), driven through the station core."""

from __future__ import annotations

from typing import Any

import pytest

from fleetsim.scenario.model import OcppVersion
from fleetsim.station import StationConfig
from tests.station.harness import Exchange, make, session

VERSIONS = [OcppVersion.V16, OcppVersion.V201, OcppVersion.V21]
pytestmark = pytest.mark.parametrize("v", VERSIONS)
TAG = "04A1B2C3"


def booted(v: OcppVersion, sessions: tuple[Any, ...], **cfg: Any) -> Exchange:
    config = StationConfig(meter_interval_s=600, heartbeat_interval_s=3600, **cfg)
    ex = Exchange(make(v, sessions, config=config))
    ex.open()
    return ex


def started(v: OcppVersion, ex: Exchange) -> int:
    if v is OcppVersion.V16:
        return len(ex.of("StartTransaction"))
    return sum(1 for p in ex.of("TransactionEvent") if p["triggerReason"] == "Authorized")


def set_setting(v: OcppVersion, ex: Exchange, key: str, comp: str, var: str, value: str) -> None:
    if v is OcppVersion.V16:
        assert ex.csms("ChangeConfiguration", {"key": key, "value": value}) == {
            "status": "Accepted"}
    else:
        r = ex.csms("SetVariables", {"setVariableData": [{
            "component": {"name": comp}, "variable": {"name": var}, "attributeValue": value}]})
        assert r["setVariableResult"][0]["attributeStatus"] == "Accepted"


def send_list(v: OcppVersion, ex: Exchange, status: str) -> None:
    if v is OcppVersion.V16:
        r = ex.csms("SendLocalList", {"listVersion": 1, "updateType": "Full",
                                      "localAuthorizationList": [
                                          {"idTag": TAG, "idTagInfo": {"status": status}}]})
    else:
        r = ex.csms("SendLocalList", {"versionNumber": 1, "updateType": "Full",
                                      "localAuthorizationList": [{
                                          "idToken": {"idToken": TAG, "type": "ISO14443"},
                                          "idTokenInfo": {"status": status}}]})
    assert r == {"status": "Accepted"}


def test_a_listed_token_is_not_authorized_again_once_pre_authorize_is_on(
        v: OcppVersion) -> None:
    ex = booted(v, (session(100, 200), session(300, 400)))
    send_list(v, ex, "Accepted")
    ex.run_until(250)
    assert len(ex.of("Authorize")) == 1  # LocalPreAuthorize is off by default
    set_setting(v, ex, "LocalPreAuthorize", "AuthCtrlr", "LocalPreAuthorize", "true")
    ex.run_until(450)
    assert len(ex.of("Authorize")) == 1  # the second session started from the list
    assert started(v, ex) == 2


def test_the_cache_saves_authorize_until_cleared(v: OcppVersion) -> None:
    ex = booted(v, (session(100, 200), session(300, 400), session(500, 600)),
                local_pre_authorize=True, auth_cache=True)
    ex.run_until(450)
    assert len(ex.of("Authorize")) == 1 and started(v, ex) == 2
    assert ex.csms("ClearCache", {}) == {"status": "Accepted"}
    ex.run_until(650)
    assert len(ex.of("Authorize")) == 2 and started(v, ex) == 3


def test_offline_a_blocked_token_in_the_list_is_refused_locally(v: OcppVersion) -> None:
    ex = booted(v, (session(100, 200), session(300, 400, tag="04FFFFFF")))
    send_list(v, ex, "Blocked")
    ex.st.on_close(ex.now)  # the CSMS is gone
    ex.run_until(450)
    assert ex.st.rec.faults["session_not_authorized"] == 1  # the Blocked one
    assert not ex.of("Authorize")
    charged = {s["id_tag"] for s in ex.st.finished_sessions if s["energy_kwh"] > 0}
    assert charged == {"04FFFFFF"}  # the unknown token charged (offline, as before)


def _master_csms(v: OcppVersion) -> Any:
    """The harness CSMS, answering cards starting with GRP as master passes (C16)."""
    from tests.station.harness import default_answer

    plain = default_answer(v)

    def answer(action: str, payload: dict[str, Any]) -> Any:
        if action == "Authorize" and payload["idToken"]["idToken"].startswith("GRP"):
            return {"idTokenInfo": {"status": "Accepted",
                                    "groupIdToken": {"idToken": "GRP", "type": "Central"}}}
        return plain(action, payload)
    return answer


def test_master_pass_stops_every_transaction_and_starts_none(v: OcppVersion) -> None:
    from fleetsim.station import masterpass

    if v is OcppVersion.V16:
        pytest.skip("1.6 has no MasterPassGroupId")
    cfg = StationConfig(meter_interval_s=600, heartbeat_interval_s=3600, auth_cache=True)
    sessions = (session(100, 5000, connector=1), session(200, 5000, connector=2, tag="GRP-CARD"))
    ex = Exchange(make(v, sessions, connectors=2, config=cfg), _master_csms(v))
    ex.open()
    assert not masterpass.present(ex.st, ex.now)  # no group configured: nothing happens
    r = ex.csms("SetVariables", {"setVariableData": [{
        "component": {"name": "AuthCtrlr"}, "variable": {"name": "MasterPassGroupId"},
        "attributeValue": "GRP"}]})
    assert r["setVariableResult"][0]["attributeStatus"] == "Accepted"
    ex.run_until(300)
    # the car plugged in with the master pass card never charges (C16: no start)
    assert started(v, ex) == 1
    ended = [p for p in ex.of("TransactionEvent") if p["eventType"] == "Ended"]
    assert [e["transactionInfo"]["stoppedReason"] for e in ended] == ["DeAuthorized"]
    assert "GRP-CARD" not in ex.st.extra["auth"].get("entries", {})  # never cached
    # the technician's card stops the running one
    assert masterpass.present(ex.st, ex.now) and masterpass.card(ex.st).startswith("GRP")
    ex.st.on_timer(ex.now)  # as when incidents.py draws the visit: the Authorize goes out
    ex.pump()
    ended = [p for p in ex.of("TransactionEvent") if p["eventType"] == "Ended"]
    assert [(e["triggerReason"], e["transactionInfo"]["stoppedReason"]) for e in ended][1:] \
        == [("StopAuthorized", "MasterPass")]
    assert all(c.tx is None for c in ex.st.connectors)
    assert not masterpass.present(ex.st, ex.now)  # nothing left to stop: no Authorize
