"""``fleetsim run --metrics-port``: the exposition, parsed by prometheus_client's own parser,
agrees with the run's results folder (bucket for bucket) and its counters never go back."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from fleetsim.live.prometheus import BUCKETS_S, cumulative_buckets
from fleetsim.metrics.histogram import LatencyHistogram
from fleetsim.report.histograms import load_histograms
from tests.locust_adapter.procs import ROOT, free_port, wait_for

SCENARIO = ROOT / "scenarios" / "ci_smoke.yaml"


def finish(proc: subprocess.Popen[bytes], log: Any) -> None:
    """SIGTERM (it ends a hold or autoquit's wait; results are written then), wait up to
    120 s, kill what is left, close the log. The exit code is the SLOs' business."""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


def scrape(port: int) -> dict[str, Any]:
    """{family name: {label tuple: value}} of one scrape; None if nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return {}
    out: dict[str, Any] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def test_cumulative_buckets_read_the_hdr_histogram_exactly() -> None:
    h = LatencyHistogram()
    for ms in (0.5, 1.0, 3.0, 7.0, 150.0, 2500.0, 61000.0):
        h.record_s(ms / 1000)
    buckets, total = cumulative_buckets(h)
    le = dict(buckets)
    assert le["0.001"] == 2 and le["0.005"] == 3 and le["0.01"] == 4
    assert le["0.2"] == 5 and le["5.0"] == 6 and le["60.0"] == 6 and le["+Inf"] == 7
    assert [b for b, _ in buckets][:-1] == [repr(b) for b in BUCKETS_S]
    assert abs(total - 63.6615) < 63.6615e-3  # 0.1 % resolution


def test_endpoint_agrees_with_the_results_folder(tmp_path: Path) -> None:
    port = free_port()
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "fleetsim", "run", str(SCENARIO), "--workers", "0",
           "--stations", "30", "--duration", "6s", "--quiet", "--out", str(out),
           "--metrics-port", str(port), "--metrics-hold", "30s"]
    log = open(tmp_path / "run.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        first: dict[str, Any] = {}

        def calls_flow() -> bool:
            nonlocal first
            first = scrape(port)
            return sum(first.get("fleetsim_calls_sent_total", {}).values()) > 0

        wait_for(calls_flow, 60, "calls on /metrics")
        final: dict[str, Any] = {}

        def finished() -> bool:
            nonlocal final
            final = scrape(port)
            return final.get("fleetsim_engines_finished", {}).get((), 0) == 1

        wait_for(finished, 60, "the run's final figures on /metrics")
        # counters are monotonic between two scrapes, series by series
        for name in ("fleetsim_calls_sent_total", "fleetsim_calls_answered_total",
                     "fleetsim_calls_total", "fleetsim_call_latency_seconds_count"):
            for labels, v in first[name].items():
                assert final[name][labels] >= v, (name, labels)
    finally:
        finish(proc, log)
    summary = json.loads((out / "summary.json").read_text())
    hists = load_histograms(out)  # the headline figure: service
    assert hists
    for key, hdr in hists.items():
        version, action = key.split("/", 1)
        labels = (("action", action), ("version", version))
        service = tuple(sorted((*labels, ("figure", "service"))))
        buckets, total = cumulative_buckets(LatencyHistogram(hdr))
        for le, n in buckets:
            got = final["fleetsim_call_latency_seconds_bucket"][
                tuple(sorted((*service, ("le", le))))]
            assert got == n, (key, le)
        assert abs(final["fleetsim_call_latency_seconds_sum"][service] - total) < 1e-6
        a = summary["actions"][key]
        assert final["fleetsim_call_latency_seconds_count"][service] == a["count"]
        assert final["fleetsim_calls_sent_total"][labels] == a["sent"]
        assert final["fleetsim_calls_total"][labels] == a["calls"]
        errors = sum(v for lab, v in final.get("fleetsim_call_errors_total", {}).items()
                     if set(labels) <= set(lab))
        assert errors == a["errors"]
    assert not any("station" in k for fam in final.values() for lab in fam for k, _ in lab
                   if k != "state")  # never a station-id label
    booted = summary["stations"]["booted"]
    st = final["fleetsim_stations"]
    assert st[(("state", "booted"),)] + st[(("state", "charging"),)] + st[
        (("state", "offline"),)] <= booted
    assert final["fleetsim_sessions_finished_total"][()] == summary["sessions"]["completed"]


def test_dense_percentiles_equal_hdrh_exactly() -> None:
    from fleetsim.live.dense import DenseHist

    h = LatencyHistogram()
    for i in range(5000):
        h.record_s((i * 7919 % 100_003) / 1e4 + 0.0004)
    d = DenseHist.from_sparse(DenseHist.sparse(h))
    assert d.count == h.count
    for p in (0.0, 50.0, 90.0, 99.0, 99.9, 100.0):
        assert d.percentile_ms(p) == h.percentile_ms(p), p
    assert d.max_ms() == h.max_ms()
