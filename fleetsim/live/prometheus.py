"""A Prometheus/OpenMetrics endpoint over a :class:`Board`'s merged, exact figures.

``prometheus_client`` does the exposition format and the HTTP server (it is the
reference implementation; hand-rolling the text format would be a liability). A
custom collector renders the board at scrape time, so nothing is kept twice:

- ``fleetsim_call_latency_seconds{version,action,figure}``: a histogram whose buckets are
  cumulative counts read off the run's own HdrHistograms (1 ms … 60 s), one per figure:
  ``service`` (sent → answer, the CSMS's: summary.json's headline), ``response``
  (due → answer) and ``queued`` (due → sent, the station's own wait);
- ``fleetsim_calls_total`` (first attempts), ``fleetsim_calls_sent_total``, ``…_answered_total``, ``fleetsim_call_errors_total{kind}``,
  ``fleetsim_faults_total{kind}``, ``fleetsim_sessions_{started,finished}_total``;
- gauges: ``fleetsim_stations{state}``, ``fleetsim_plugged_vehicles``, ``fleetsim_power_kw``,
  ``fleetsim_offline_queue_depth``, ``fleetsim_engine_loop_lag_p99_seconds{engine}``,
  ``fleetsim_engine_cpu_percent{engine}``, ``fleetsim_engine_stale{engine}``.

Labels are bounded: version × action, error kind, state, engine (one per process) —
never a station id.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from fleetsim.live.dense import DenseHist
from fleetsim.live.figures import STATES, Board
from fleetsim.metrics.histogram import LatencyHistogram

__all__ = ["BUCKETS_S", "MetricsServer", "cumulative_buckets", "registry_for"]

BUCKETS_S = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0,
             30.0, 60.0)


def cumulative_buckets(h: LatencyHistogram | DenseHist) -> tuple[list[tuple[str, float]], float]:
    """Prometheus buckets (``le`` → calls at or below it) and the sum [s] of ``h``.

    A value counts under ``le`` when its HdrHistogram bucket starts at or below it
    (0.1 % resolution); the sum adds each bucket's value times its count.
    """
    d = h if isinstance(h, DenseHist) else DenseHist.from_sparse(DenseHist.sparse(h))
    below, total = d.cumulative(BUCKETS_S)
    return [*((repr(le), n) for le, n in zip(BUCKETS_S, below, strict=True)),
            ("+Inf", float(d.count))], total


class _BoardCollector(Collector):
    def __init__(self, board: Board) -> None:
        self.board = board

    def collect(self) -> Iterator[Metric]:
        f = self.board.figures()
        lat = HistogramMetricFamily(
            "fleetsim_call_latency_seconds",
            "CALL latency per OCPP version and action; figure: service (sent to answer, the "
            "CSMS's), response (due to answer), queued (due to sent, the station's wait)",
            labels=["version", "action", "figure"])
        sent = CounterMetricFamily("fleetsim_calls_sent", "CALL frames sent (retries too)",
                                   labels=["version", "action"])
        calls = CounterMetricFamily("fleetsim_calls", "calls made (first attempts)",
                                    labels=["version", "action"])
        answered = CounterMetricFamily("fleetsim_calls_answered", "CALLRESULTs received",
                                       labels=["version", "action"])
        errors = CounterMetricFamily("fleetsim_call_errors", "CALLs that failed, by kind",
                                     labels=["version", "action", "kind"])
        for key in sorted(f.actions):
            a = f.actions[key]
            labels = _split(key)
            for figure, h in (("service", a.service), ("response", a.response),
                              ("queued", a.queued)):
                buckets, total = cumulative_buckets(h)
                lat.add_metric([*labels, figure], buckets, total)
            sent.add_metric(labels, a.sent)
            calls.add_metric(labels, a.first)
            answered.add_metric(labels, a.answered)
            for kind, n in sorted(a.errors.items()):
                errors.add_metric([*labels, kind], n)
        yield from (lat, calls, sent, answered, errors)
        faults = CounterMetricFamily("fleetsim_faults", "station-level faults, by kind",
                                     labels=["kind"])
        for kind, n in sorted(f.faults.items()):
            faults.add_metric([kind], n)
        yield faults
        for name, doc in (("started", "sessions that began (vehicle plugged in)"),
                          ("finished", "sessions that ended")):
            yield CounterMetricFamily(f"fleetsim_sessions_{name}", doc, value=f.sessions[name])
        st = GaugeMetricFamily("fleetsim_stations", "stations by state", labels=["state"])
        for s in STATES:
            st.add_metric([s], f.stations.get(s, 0))
        yield st
        yield GaugeMetricFamily("fleetsim_plugged_vehicles", "vehicles plugged in",
                                value=f.plugged)
        yield GaugeMetricFamily("fleetsim_power_kw", "fleet charging power [kW]", value=f.power_kw)
        yield GaugeMetricFamily("fleetsim_offline_queue_depth",
                                "messages queued by stations while offline", value=f.offline_queued)
        yield GaugeMetricFamily("fleetsim_engines", "engine processes reporting",
                                value=len(f.engines))
        yield GaugeMetricFamily("fleetsim_engines_finished",
                                "engines whose final figures are in", value=f.finished)
        lag = GaugeMetricFamily("fleetsim_engine_loop_lag_p99_seconds",
                                "event-loop lag p99 per engine process", labels=["engine"])
        cpu = GaugeMetricFamily("fleetsim_engine_cpu_percent", "CPU per engine process",
                                labels=["engine"])
        stale = GaugeMetricFamily("fleetsim_engine_stale", "1 when an engine's report is late",
                                  labels=["engine"])
        for e in f.engines:
            lag.add_metric([e.tag], e.loop_lag_p99_ms / 1000.0)
            cpu.add_metric([e.tag], e.cpu_percent)
            stale.add_metric([e.tag], 1.0 if e.stale else 0.0)
        yield from (lag, cpu, stale)


def _split(key: str) -> list[str]:
    version, _, action = key.partition("/")
    return [version, action or key]


def registry_for(board: Board) -> CollectorRegistry:
    """The registry holding only ``board``'s collector (no process/platform defaults);
    made once per board: registering runs a full collect to learn the names."""
    if board.registry is None:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_BoardCollector(board))
        board.registry = registry
    out: CollectorRegistry = board.registry
    return out


class MetricsServer:
    """``/metrics`` for ``board`` on ``addr:port`` (port 0 picks a free one)."""

    def __init__(self, board: Board, *, port: int, addr: str = "0.0.0.0") -> None:
        self.registry = registry_for(board)
        self._server: Any
        self._server, self._thread = start_http_server(port, addr=addr, registry=self.registry)
        self.port = int(self._server.server_port)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5.0)
