"""Background incidents at scenario rates: security events and hardwired faults.

Real fleets send SecurityEventNotification and NotifyEvent without any CSMS asking:
clock adjustments, malformed frames, tamper switches, connector faults. Each station
draws them as a Poisson process at ``ocpp.security_events_per_day`` and
``ocpp.notify_events_per_day`` (per station and simulated day); which kind, from
the mixes below. The draws come from a generator seeded by the station's seed and
id, made on the first arm, so stations of a fleet without these rates carry nothing.
Assumed mixes, tagged like ``drivers_models/``:

- ``SECURITY_MIX`` [A] SettingSystemTime 0.5 (NTP/CSMS time corrections),
  InvalidMessages 0.2, ReconfigurationOfSecurityParameters 0.2,
  TamperDetectionActivated 0.1;
- ``FAULT_MIX`` [A] a connector fault 0.7 (Connector.Problem on an EVSE), a tamper
  alarm 0.3 (ChargingStation.Problem); each is cleared ``CLEAR_S`` later (a second
  NotifyEvent with ``cleared``). 1.6 has no NotifyEvent: only security events there.
- external limits from a local EMS at ``ocpp.ems_limits_per_day`` (2.x; see
  :mod:`fleetsim.station.ems` for their [A] size and duration) and master pass stops
  at ``ocpp.master_pass_per_day`` (2.x; :mod:`fleetsim.station.masterpass`).

Rates around 1 security event and 2-5 device events per station-day are what CSMS
operators describe for 2.0.1 fleets [A]; ``scenarios/realistic_201.yaml`` uses them.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from fleetsim.station.lifecycle import extra

if TYPE_CHECKING:
    from fleetsim.station.core import StationCore

__all__ = ["CLEAR_S", "FAULT_MIX", "SECURITY_MIX", "arm"]

SECURITY_MIX = (("SettingSystemTime", 0.5), ("InvalidMessages", 0.2),
                ("ReconfigurationOfSecurityParameters", 0.2), ("TamperDetectionActivated", 0.1))
FAULT_MIX = (("connector", 0.7), ("tamper", 0.3))
CLEAR_S = 300.0  # a fault clears after this long [simulated s]
_DAY_S = 86_400.0


def _rng(st: StationCore) -> random.Random:
    ex = extra(st)
    rng: random.Random | None = ex.get("incidents")
    if rng is None:
        rng = ex["incidents"] = random.Random(f"{st.spec.seed}/{st.station_id}/incidents")
    return rng


def _pick(rng: random.Random, mix: tuple[tuple[str, float], ...]) -> str:
    x, acc = rng.random() * sum(w for _, w in mix), 0.0
    for name, w in mix:
        acc += w
        if x < acc:
            return name
    return mix[-1][0]


def arm(st: StationCore, t: float) -> None:
    """After a boot: schedule the next incident of each kind with a rate above zero."""
    if st.cfg.security_events_per_day > 0:
        _schedule(st, t, "security", st.cfg.security_events_per_day)
    if st.cfg.notify_events_per_day > 0 and st.version_prefix != "1.6/":
        _schedule(st, t, "fault", st.cfg.notify_events_per_day)
    if st.cfg.ems_limits_per_day > 0 and st.version_prefix != "1.6/":
        _schedule(st, t, "ems", st.cfg.ems_limits_per_day)
    if st.cfg.master_pass_per_day > 0 and st.version_prefix != "1.6/":
        _schedule(st, t, "master", st.cfg.master_pass_per_day)


def _schedule(st: StationCore, t: float, kind: str, per_day: float) -> None:
    gap_s = _rng(st).expovariate(per_day / _DAY_S)
    st.at(t + st.clock.interval_wall(gap_s), _fire, st, kind, per_day, name=f"incident_{kind}")


def _fire(t: float, st: StationCore, kind: str, per_day: float) -> None:
    if st.stopping:
        return
    if st.connected and st.booted:
        rng = _rng(st)
        if kind == "security":
            from fleetsim.station.security import security_event

            security_event(st, t, _pick(rng, SECURITY_MIX))
        elif kind == "ems":
            from fleetsim.station.ems import impose

            impose(st, t, rng)
        elif kind == "master":
            from fleetsim.station.masterpass import present

            present(st, t)
        else:
            _fault(st, t, _pick(rng, FAULT_MIX), rng)
    _schedule(st, t, kind, per_day)


def _fault(st: StationCore, t: float, what: str, rng: random.Random) -> None:
    from fleetsim.station.monitoring import hardwired_event

    if what == "connector":
        evse = 1 + int(rng.random() * len(st.connectors))
        component = {"name": "Connector", "evse": {"id": evse, "connectorId": 1}}
    else:
        component = {"name": "ChargingStation"}
    hardwired_event(st, t, component, "Problem", "true")
    st.at(t + st.clock.interval_wall(CLEAR_S), _clear, st, component)


def _clear(t: float, st: StationCore, component: dict[str, object]) -> None:
    if st.connected and not st.stopping:
        from fleetsim.station.monitoring import hardwired_event

        hardwired_event(st, t, component, "Problem", "false", cleared=True)
