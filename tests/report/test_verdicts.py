"""Evaluating SLOs: pass, fail, no samples, wildcards, and the slo.json round trip."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest

from fleetsim.exceptions import ResultsError
from fleetsim.report import evaluate, load_histograms, load_summary, read_slo_json, write_slo_json
from fleetsim.report.slo import SloError

from .conftest import MakeResults


def _action(count: int, errors: int, p99: float, p50: float = 1.0) -> dict[str, Any]:
    return {"count": count, "errors": errors, "errors_by_kind": {"timeout": errors} if errors else {},
            "p50_ms": p50, "p90_ms": p99 / 2, "p95_ms": p99 / 1.5, "p99_ms": p99, "p999_ms": p99 * 2,
            "max_ms": p99 * 3, "mean_ms": p50 * 1.2}


SUMMARY: dict[str, Any] = {
    "scenario": "unit", "seed": 1, "duration_s": 10.0,
    "stations": {"planned": 300, "connected_max": 300, "booted": 290, "failed": 10},
    "actions": {
        "2.0.1/TransactionEvent": _action(1000, 2, 612.0),
        "2.0.1/Heartbeat": _action(500, 0, 40.0),
        "1.6/Heartbeat": _action(500, 0, 1500.0),
    },
    "errors": {"total": 3, "by_kind": {"timeout": 2, "connection_lost": 1}},
    "generator": {"loop_lag_p99_ms": 2.1, "cpu_percent": 95.0, "valid": False, "warnings": ["x"]},
}


def _one(expression: str, summary: dict[str, Any] | None = None) -> Any:
    (verdict,) = evaluate([expression], summary or SUMMARY)
    return verdict


def test_failing_latency_slo_reports_observed_and_threshold() -> None:
    v = _one("2.0.1/TransactionEvent.p99 > 500ms")
    assert not v.passed
    assert (v.observed, v.threshold, v.unit) == (612.0, 500.0, "ms")
    assert "612" in v.reason and "500" in v.reason


def test_passing_latency_slo() -> None:
    v = _one("2.0.1/TransactionEvent.p99 > 1s")
    assert v.passed
    assert v.observed == 612.0 and v.threshold == 1000.0
    assert "not >" in v.reason


def test_action_that_did_not_occur_fails_with_no_samples() -> None:
    for expression in ("2.0.1/TransactonEvent.p99 > 1s", "2.1/Heartbeat.errors > 0",
                       "1.6/Authorize.count < 1"):
        v = _one(expression)
        assert not v.passed
        assert v.observed is None
        assert "no samples" in v.reason


def test_error_rates_are_errors_over_calls() -> None:
    v = _one("error_rate > 0.1%")  # 2 errors / 2000 calls = 0.1 %: not above
    assert v.passed and v.observed == pytest.approx(0.1) and v.unit == "%"
    v = _one("2.0.1/TransactionEvent.error_rate > 0.1%")  # 2 / 1000 = 0.2 %
    assert not v.passed and v.observed == pytest.approx(0.2)


def test_wildcard_over_versions_without_histograms_is_a_conservative_bound() -> None:
    v = _one("*/Heartbeat.p99 > 1s")
    assert not v.passed and v.observed == 1500.0  # the worst version decides
    assert "bound" in v.reason
    v = _one("*/Heartbeat.p99 < 100ms")  # fail-when-below: the best one decides
    assert not v.passed and v.observed == 40.0
    assert _one("*/Heartbeat.count < 1001").observed == 1000.0
    assert _one("*/Heartbeat.max > 1s").observed == 4500.0
    assert _one("actions.count < 100").observed == 2000.0


def test_wildcard_with_histograms_merges_them(make_results: MakeResults) -> None:
    folder = make_results()
    summary, hists = load_summary(folder), load_histograms(folder)
    (v,) = evaluate(["actions.p50 > 1s"], summary, histograms=hists)
    lowest = min(a.latency_ms["p50"] for a in summary.actions.values())
    highest = max(a.latency_ms["p50"] for a in summary.actions.values())
    assert v.passed and isinstance(v.observed, float) and lowest < v.observed < highest
    assert "bound" not in v.reason


def test_sections() -> None:
    assert not _one("generator.valid == false").passed
    assert _one("generator.valid == false").observed is False
    assert not _one("stations.booted < 300").passed
    assert _one("stations.failed > 10").passed
    assert not _one("generator.cpu_percent > 90%").passed
    assert _one("errors.connection_lost > 1").passed
    assert _one("errors.CALLERROR:FormationViolation > 0").observed == 0.0  # never happened
    missing = _one("generator.late_sends > 0")
    assert not missing.passed and "not in summary.json" in missing.reason


def test_evaluate_rejects_bad_input() -> None:
    with pytest.raises(SloError):
        evaluate(["p99 > 1s"], SUMMARY)
    broken = copy.deepcopy(SUMMARY)
    broken["actions"]["2.0.1/Heartbeat"]["count"] = "many"
    with pytest.raises(ResultsError, match=r"actions\.2\.0\.1/Heartbeat\.count"):
        evaluate(["error_rate > 1%"], broken)


def test_slo_json_round_trip(tmp_path: Path) -> None:
    verdicts = evaluate(["2.0.1/TransactionEvent.p99 > 500ms", "generator.valid == false",
                         "2.1/Nothing.p50 > 1ms", "error_rate > 1%"], SUMMARY)
    path = write_slo_json(verdicts, tmp_path / "slo.json")
    assert orjson.loads(path.read_bytes())["passed"] is False
    assert read_slo_json(path) == verdicts


def test_garbled_slo_json_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "slo.json"
    path.write_text('{"verdicts": [{"expression": "x"}]}')
    with pytest.raises(ResultsError, match=r"slo\.json: verdicts\[0\]"):
        read_slo_json(path)


def test_an_action_without_latency_samples_never_looks_fast() -> None:
    # fleetsim.run writes 0.0 percentiles when nothing was answered (all timed out).
    summary = copy.deepcopy(SUMMARY)
    summary["actions"]["2.1/Authorize"] = {**_action(0, 40, 0.0, 0.0), "sent": 40}
    v = _one("2.1/Authorize.p99 > 500ms", summary)
    assert not v.passed and v.observed is None and "no latency recorded" in v.reason
    v = _one("2.1/Authorize.error_rate > 50%", summary)
    assert not v.passed and v.observed == pytest.approx(100.0)  # errors / sent
    assert _one("2.1/Authorize.count < 1", summary).observed == 40.0
