"""Monitoring end to end: the embedded CSMS sets a monitor over a real WebSocket, the
station's charging trips it, and the CSMS receives and records the NotifyEvent."""

from __future__ import annotations

from fleetsim.csms import CsmsConfig, serve
from fleetsim.scenario.model import OcppVersion
from fleetsim.station import StationConfig
from tests.integration.fleet import Fleet, sess, wait_for
from tests.integration.test_protocol_depth import csms_call

V2 = (OcppVersion.V201, OcppVersion.V21)


async def test_monitor_set_tripped_and_recorded() -> None:
    server = await serve(CsmsConfig(port=0, heartbeat_interval_s=3600))
    # factor 60: a session from 0:03 to 0:20 simulated is 3 s to 20 s of wall time
    fleet = Fleet(server.url, V2, lambda i: (sess(180, 1200, kwh=50, index=i),), factor=60.0,
                  config=StationConfig(meter_interval_s=600, heartbeat_interval_s=3600,
                                       call_timeout_wall_s=3), connect_timeout_s=15)
    try:
        fleet.start()
        await wait_for(lambda: all(st.booted for st in fleet.stations), 5, "every boot")
        for sid in fleet.ids:
            r = await csms_call(server, sid, "SetVariableMonitoring", {"setMonitoringData": [{
                "type": "UpperThreshold", "value": 1000.0, "severity": 3,
                "component": {"name": "EVSE", "evse": {"id": 1}},
                "variable": {"name": "Power"}}]})
            assert r.set_monitoring_result[0]["status"] == "Accepted"

        def recorded() -> dict[str, list[str]]:
            out: dict[str, list[str]] = {}
            for sid, _k, detail, _at in server.ledger.events(kind="notify_event"):
                out.setdefault(sid, []).append(detail)
            return out
        tripped = {sid: ["EVSE.Power:Alerting"] for sid in fleet.ids}
        await wait_for(lambda: recorded() == tripped, 15, "the threshold tripped everywhere")
        counts = {(m.station_id, m.action): m.count for m in server.ledger.message_counts()}
        assert all(counts[(sid, "NotifyEvent")] == 1 for sid in fleet.ids)
        assert not fleet.rec.faults, fleet.rec.faults
    finally:
        await fleet.finish()
        await server.close()
