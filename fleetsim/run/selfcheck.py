"""The station-pipe self-check: did calls wait behind their own station's calls?

OCPP-J allows one CALL in flight per station, so a station is a single pipe. A real
station at real intervals keeps it almost idle; compressed intervals (with ``clock.intervals:
simulated`` at ``time_factor: 600`` a 60 s heartbeat goes every 0.1 s) or short ones
multiply every station's message rate, and then calls queue behind their own station's
earlier calls. That wait is the
simulator's, not the CSMS's.

The check fires when **both**:

- more than :data:`WAITED_SHARE_LIMIT` (5 %) of the calls waited more than 1 ms behind their
  own station's earlier calls (``queued_by.own_calls``), and
- the per-station offered load keeps one pipe more than :data:`UTILISATION_LIMIT` (10 %)
  busy at the *median* service time: ``utilisation = calls/s per station × service p50``.

The second condition tells load from a stall: a CSMS that stalls makes calls queue behind
the stalled one too — the response figure shows that, and it is the CSMS's doing — but
it does not raise the median service time, so it does not flag the generator. At 10 %
utilisation a pipe adds about 5 % of the service time as queueing (M/D/1: ρ/(2(1−ρ))).
"""

from __future__ import annotations

from typing import Any

from fleetsim.metrics.histogram import merge_all
from fleetsim.metrics.recorder import Recorder

__all__ = ["UTILISATION_LIMIT", "WAITED_SHARE_LIMIT", "pipe_check"]

WAITED_SHARE_LIMIT = 0.05
UTILISATION_LIMIT = 0.10
MIN_CALLS = 100  # fewer calls than this judge nothing


def pipe_check(rec: Recorder, *, stations: int, wall_s: float,
               time_factor: float) -> dict[str, Any]:
    """``summary.json``'s ``pipes`` section; ``saturated`` and ``warning`` when it fires."""
    sent = sum(a.sent for a in rec.actions.values())
    waited = sum(int(a.queued_by.get("own_calls", (0,))[0]) for a in rec.actions.values())
    own_s = sum(float(a.queued_by.get("own_calls", (0, 0.0))[1]) for a in rec.actions.values())
    service = merge_all(a.service for a in rec.actions.values())
    s50_ms = service.percentile_ms(50)
    per_station_s = sent / stations / wall_s if stations and wall_s > 0 else 0.0
    utilisation = per_station_s * s50_ms / 1000.0
    share = waited / sent if sent else 0.0
    out: dict[str, Any] = {
        "calls": sent, "waited_own_calls": waited, "waited_own_share": round(share, 4),
        "waited_own_mean_ms": round(own_s / waited * 1000, 3) if waited else 0.0,
        "offered_per_station_per_s": round(per_station_s, 4),
        "service_p50_ms": round(s50_ms, 3),
        "pipe_capacity_per_s": round(1000.0 / s50_ms, 1) if s50_ms > 0 else None,
        "utilisation": round(utilisation, 4),
        "limits": {"waited_own_share": WAITED_SHARE_LIMIT, "utilisation": UTILISATION_LIMIT},
        "saturated": False,
    }
    if sent < MIN_CALLS or share <= WAITED_SHARE_LIMIT or utilisation <= UTILISATION_LIMIT:
        return out
    scale = utilisation / UTILISATION_LIMIT
    honest_tf = time_factor / scale
    out["saturated"] = True
    out["honest_time_factor"] = round(honest_tf, 3)
    out["warning"] = (
        f"station pipes saturated: {share:.0%} of calls waited behind their own station's "
        f"earlier calls (mean {out['waited_own_mean_ms']:.1f} ms). Each station offered "
        f"{per_station_s:.2f} calls/s; one pipe carries {1000.0 / s50_ms:.1f} calls/s at the "
        f"measured service p50 {s50_ms:.1f} ms, so it was {utilisation:.0%} busy "
        f"(limit {UTILISATION_LIMIT:.0%}). The response and queued figures include the "
        f"simulator's own queueing; read the service figure. Fix: protocol intervals "
        f"{scale:.1f}x longer (meter, heartbeat; with clock.intervals: simulated, "
        f"time_factor <= {honest_tf:.3g}, now {time_factor:g}), or more stations at less "
        "compression")
    return out
