"""The Fleet tab in Locust's web UI, ``/fleet/data`` and ``/metrics``, from exact figures.

Every engine child sends a cumulative snapshot each second (:mod:`fleetsim.live`).
A worker attaches its engine's latest one to Locust's own worker report
(``events.report_to_master``, every 3 s); the master keeps each engine's latest
(``events.worker_report``) on a :class:`Board` and merges them exactly. A local
run feeds the board straight from its bridge. The master (or local runner) then
serves, through Locust's documented extension points:

- two tabs, *Fleet* (stations by state, sessions, power, errors by kind, engine
  health) and *Fleet latency* (per action: calls, errors, the exact p50/p90/p99/p99.9/max
  of the service figure — the CSMS's — and the response and queued p99 beside them),
  filled through ``extended_tabs``/``extended_tables`` and the ``extended_stats`` of
  ``/stats/requests``, which the UI polls every 2 s;
- ``/fleet/data`` (the same figures as JSON) and ``/metrics`` on the web UI's port;
- with ``--fleetsim-metrics-port P``, a Prometheus endpoint on its own port.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from locust.env import Environment

if TYPE_CHECKING:  # a worker only forwards its engine's snapshot: no board, no numpy
    from fleetsim.live.figures import Board, LiveFigures

__all__ = ["LIVE_KEY", "FleetView", "fleet_rows"]

LIVE_KEY = "fleetsim_live"  # our field in Locust's worker reports
log = logging.getLogger(__name__)

_FLEET = [{"key": "section", "title": "Section"}, {"key": "item", "title": "Item"},
          {"key": "value", "title": "Value"}]
_LATENCY = [{"key": "name", "title": "Version/Action"}, {"key": "calls", "title": "Calls"},
            {"key": "sent", "title": "Sent"},
            {"key": "answered", "title": "Answered"}, {"key": "errors", "title": "Errors"},
            {"key": "p50", "title": "p50 (ms)"}, {"key": "p90", "title": "p90 (ms)"},
            {"key": "p99", "title": "p99 (ms)"}, {"key": "p999", "title": "p99.9 (ms)"},
            {"key": "max", "title": "Max (ms)"},
            {"key": "responsep99", "title": "Response p99 (ms, due→answer)"},
            {"key": "queuedp99", "title": "Queued p99 (ms, station's wait)"}]


def fleet_rows(f: LiveFigures) -> list[dict[str, Any]]:
    """The Fleet tab's rows: (section, item, value)."""
    from fleetsim.live.figures import STATES

    rows: list[dict[str, Any]] = [{"section": "stations", "item": s, "value": f.stations[s]}
                                  for s in STATES]
    rows += [{"section": "sessions", "item": k, "value": v} for k, v in f.sessions.items()]
    rows += [{"section": "fleet", "item": "plugged vehicles", "value": f.plugged},
             {"section": "fleet", "item": "power kW", "value": f.power_kw},
             {"section": "fleet", "item": "offline queue depth", "value": f.offline_queued}]
    rows += [{"section": "errors", "item": k, "value": n}
             for k, n in sorted(f.errors_by_kind().items())]
    rows += [{"section": "faults", "item": k, "value": n} for k, n in sorted(f.faults.items())]
    for e in f.engines:
        state = "stale" if e.stale else ("valid" if e.valid else "INVALID (loop lag)")
        rows.append({"section": "engine", "item": e.tag,
                     "value": f"{state}; loop lag p99 {e.loop_lag_p99_ms:.1f} ms, "
                              f"max {e.loop_lag_max_ms:.1f} ms; CPU {e.cpu_percent:.0f} %; "
                              f"report {e.age_s:.0f} s ago"})
    return rows


class FleetView:
    """fleetsim's live figures on one Locust process (master, worker or local)."""

    def __init__(self, environment: Environment, *, is_worker: bool, is_master: bool) -> None:
        self.env = environment
        self.bridge_live: Any = None  # a worker: () -> its engine's latest snapshot
        self.server: Any = None
        ev: Any = environment.events
        if is_worker:  # 100,000 stations take six workers: numpy (14 MiB) stays out of them
            ev.report_to_master.add_listener(self._on_report_to_master)
            return
        from fleetsim.live.figures import Board

        self.board: Board = Board()
        if is_master:
            ev.worker_report.add_listener(self._on_worker_report)
        port = getattr(environment.parsed_options, "fleetsim_metrics_port", None)
        if port is not None:
            from fleetsim.live.prometheus import MetricsServer

            self.server = MetricsServer(self.board, port=int(port))
            log.info("fleetsim: Prometheus metrics on port %d", self.server.port)
            ev.quit.add_listener(lambda **_: self.close())

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None

    # ------------------------------------------------------------------ feeding the board
    def _on_report_to_master(self, client_id: str, data: dict[str, Any], **_: Any) -> None:
        snap = self.bridge_live() if self.bridge_live is not None else None
        if snap is not None:
            data[LIVE_KEY] = snap

    def _on_worker_report(self, client_id: str, data: dict[str, Any], **_: Any) -> None:
        snap = data.get(LIVE_KEY)
        if snap is not None:
            self.board.update(snap)

    # ------------------------------------------------------------------ the web UI
    def attach(self, web_ui: Any) -> None:
        """Add the tabs and routes to Locust's web UI (master or local)."""
        from flask import Response, request

        web_ui.template_args["extended_tabs"] = [
            *(web_ui.template_args.get("extended_tabs") or []),
            {"title": "Fleet", "key": "fleet"}, {"title": "Fleet latency", "key": "fleetlatency"}]
        web_ui.template_args["extended_tables"] = [
            *(web_ui.template_args.get("extended_tables") or []),
            {"key": "fleet", "structure": _FLEET}, {"key": "fleetlatency", "structure": _LATENCY}]
        board = self.board

        def extend_stats(response: Any) -> Any:
            if request.path != "/stats/requests" or not response.is_json:
                return response
            f = board.figures()
            body = response.get_json()
            body["extended_stats"] = [*(body.get("extended_stats") or []),
                                      {"key": "fleet", "data": fleet_rows(f)},
                                      {"key": "fleetlatency", "data": f.table()}]
            response.set_data(json.dumps(body))
            return response

        def fleet_data() -> Any:
            return Response(json.dumps(board.figures().to_json()), mimetype="application/json")

        def metrics() -> Any:
            from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

            from fleetsim.live.prometheus import registry_for

            return Response(generate_latest(registry_for(board)), mimetype=CONTENT_TYPE_LATEST)

        app: Any = web_ui.app  # flask's decorators are untyped
        app.after_request(extend_stats)
        app.add_url_rule("/fleet/data", "fleet_data", fleet_data)
        app.add_url_rule("/metrics", "fleet_metrics", metrics)
