"""The rest of issue 14 in one short run: stations of every version against the embedded
CSMS over real WebSockets on 127.0.0.1.

2.1 (and 2.0.1) Plug & Charge, a local EMS's limit and its end, a master pass card
stopping the transactions, and a reconnect after a long outage (a Reset keeps each
station away longer than ``outage_event_s``). Every frame both ways is schema-checked
(the CSMS is ``ocpp``'s; the stations run strict). Then the per-action reconciliation:
for each of these flows the CALLs the CSMS counted equal the CALLs the stations sent
and saw answered, and the CSMS recorded one event per CALL.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

import pytest

from fleetsim.csms import CsmsConfig, serve
from fleetsim.station import StationConfig, ems, masterpass
from fleetsim.station.security import OUTAGE_EVENT
from tests.integration.fleet import VERSIONS, Fleet, sess, wait_for
from tests.integration.test_protocol_depth import csms_call

CFG = StationConfig(heartbeat_interval_s=3600, meter_interval_s=3600, call_timeout_wall_s=3,
                    iso15118_share=1.0, pnc_share=1.0, master_pass_group="FSMASTER",
                    outage_event_s=0.2, strict=True)  # a reset's 0.5 s away is "long"
# action → the ledger event the embedded CSMS records for each such CALL (None: counted only)
FLOWS: dict[str, str | None] = {
    "NotifyChargingLimit": "charging_limit", "ClearedChargingLimit": "charging_limit_cleared",
    "GetCertificateStatus": "ocsp", "NotifyEVChargingNeeds": None,
    "NotifyEVChargingSchedule": None, "Authorize": None,
    "SecurityEventNotification": "security_event"}


def _poke(fleet: Fleet, i: int, fn: Callable[..., Any], *args: Any) -> None:
    """Run ``fn(t, *args)`` on station ``i`` now, on the engine's own timer path."""
    fleet.stations[i].at(time.monotonic(), fn, *args)
    fleet.engine.runners[i].reschedule()


def _events(server: Any, kind: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for sid, _k, detail, _at in server.ledger.events(kind=kind):
        out.setdefault(sid, []).append(detail)
    return out


async def test_ems_limit_master_pass_pnc_21_outage_event_and_per_action_counts(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ems, "HOLD_S", 120.0)  # 2 s of wall time at factor 60
    server = await serve(CsmsConfig(port=0, heartbeat_interval_s=3600))
    fleet = Fleet(server.url, VERSIONS, lambda i: (sess(60, 90_000, index=i),), config=CFG,
                  connect_timeout_s=15)
    v2 = [1, 2]  # 2.0.1 and 2.1
    try:
        fleet.start()
        await wait_for(lambda: all(st.connectors[0].charging for st in fleet.stations), 15,
                       "every car charging (2.x by Plug & Charge)")
        for i in v2:
            _poke(fleet, i, lambda t, st: ems.impose(st, t, random.Random(0)), fleet.stations[i])
        await wait_for(lambda: all(fleet.stations[i].connectors[0].limit_w == 5500 for i in v2),
                       5, "the EMS limit applied")
        for i in v2:
            _poke(fleet, i, lambda t, st: masterpass.present(st, t), fleet.stations[i])
        await wait_for(lambda: all(fleet.stations[i].connectors[0].tx is None for i in v2), 5,
                       "the master pass stopping the 2.x transactions")
        await wait_for(lambda: len(_events(server, "charging_limit_cleared")) == 2, 10,
                       "the EMS lifting its limits")
        for st, sid in zip(fleet.stations, fleet.ids, strict=True):
            kind = "Soft" if st.version_prefix == "1.6/" else "Immediate"
            assert (await csms_call(server, sid, "Reset", {"type": kind})).status == "Accepted"
        await wait_for(lambda: all(OUTAGE_EVENT in v for v in _events(
            server, "security_event").values()) and len(_events(server, "security_event")) == 3,
            10, "a long-outage security event from every station")
        await wait_for(lambda: all(st.booted and st.idle for st in fleet.stations), 10, "idle")
        server.ledger.flush()

        # what the CSMS recorded
        sids = fleet.ids
        assert _events(server, "charging_limit") == {sids[i]: ["EMS evse 1 5500.0 W"] for i in v2}
        assert _events(server, "master_pass_authorize") == {
            sids[i]: [masterpass.card(fleet.stations[i])] for i in v2}
        stopped = {t.station_id: t.stop_reason for t in server.ledger.transactions()}
        assert [stopped[sids[i]] for i in v2] == ["MasterPass", "MasterPass"]
        assert [e.startswith("FSEMA") for e in _events(server, "pnc_authorize")[sids[2]]] == [
            True]  # 2.1 Plug & Charge, its payloads valid against the 2.1 schemas
        assert not fleet.rec.conformance, fleet.rec.conformance  # strict: answers valid
        assert not fleet.rec.faults, fleet.rec.faults

        # per-action reconciliation: CSMS counts == stations' sent == answered, per version
        csms: dict[tuple[str, str], int] = {}
        for m in server.ledger.message_counts():
            assert m.errors == 0, m
            csms[(m.station_id, m.action)] = m.count
        version = {sid: st.version_prefix for st, sid in zip(fleet.stations, sids, strict=True)}
        for action, event in FLOWS.items():
            for sid, prefix in version.items():
                stats = fleet.rec.actions.get(f"{prefix}{action}")
                sent = 0 if stats is None else stats.sent
                answered = 0 if stats is None else stats.answered
                got = csms.get((sid, action), 0)
                assert sent == answered == got, (sid, action, sent, answered, got)
                if event is not None:
                    assert len(_events(server, event).get(sid, [])) == got, (sid, action)
        assert all(csms.get((sids[i], a)) for i in v2 for a in FLOWS)  # each flow ran on 2.x
    finally:
        await fleet.finish()
        await server.close()
