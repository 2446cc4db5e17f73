"""Baseline comparison: regressions are found, noise is not."""

from __future__ import annotations

import argparse
import io
from pathlib import Path
from typing import Any

import pytest

from fleetsim.report import (
    Outcome,
    Tolerance,
    compare_command,
    compare_summaries,
    exitcodes,
    format_table,
    parse_summary,
)

from .conftest import DEFAULT_ACTIONS, ActionSpec, MakeResults


def _summary(**actions: tuple[int, int, float]) -> Any:
    """actions: key with '__' for '/' and '_' for '.' → (count, errors, p99 [ms])."""
    doc = {key.replace("__", "/").replace("_", "."): {
        "count": n, "errors": e, "p50_ms": p99 / 4, "p95_ms": p99 / 2, "p99_ms": p99}
        for key, (n, e, p99) in actions.items()}
    return parse_summary({"scenario": "unit", "actions": doc})


def _outcomes(base: Any, cur: Any, **tolerance: Any) -> dict[tuple[str, str], Outcome]:
    c = compare_summaries(base, cur, Tolerance(**tolerance))
    return {(r.action, r.metric): r.outcome for r in c.rows}


def test_real_regression_is_detected() -> None:
    got = _outcomes(_summary(v2_0_1__TransactionEvent=(1000, 0, 100.0)),
                    _summary(v2_0_1__TransactionEvent=(1000, 0, 130.0)))
    assert got[("v2.0.1/TransactionEvent", "p99")] is Outcome.REGRESSION
    assert got[("v2.0.1/TransactionEvent", "p95")] is Outcome.REGRESSION  # 50 → 65 ms


def test_small_absolute_change_is_noise() -> None:
    # p99 0.3 → 0.4 ms is +33 % but only 0.1 ms: below the 1 ms floor.
    got = _outcomes(_summary(a__Heartbeat=(5000, 0, 0.3)), _summary(a__Heartbeat=(5000, 0, 0.4)))
    assert got[("a/Heartbeat", "p99")] is Outcome.OK
    got = _outcomes(_summary(a__Heartbeat=(5000, 0, 0.3)), _summary(a__Heartbeat=(5000, 0, 0.4)),
                    floor_ms=0.05)
    assert got[("a/Heartbeat", "p99")] is Outcome.REGRESSION


def test_small_relative_change_is_noise() -> None:
    got = _outcomes(_summary(a__X=(5000, 0, 100.0)), _summary(a__X=(5000, 0, 108.0)))
    assert got[("a/X", "p99")] is Outcome.OK  # +8 ms but only +8 % < 10 %


def test_improvement_is_not_a_regression() -> None:
    got = _outcomes(_summary(a__X=(5000, 0, 100.0)), _summary(a__X=(5000, 0, 50.0)))
    assert got[("a/X", "p99")] is Outcome.IMPROVED


def test_low_counts_are_insufficient_data() -> None:
    got = _outcomes(_summary(a__Boot=(50, 0, 10.0)), _summary(a__Boot=(5000, 5000, 900.0)))
    assert set(got.values()) == {Outcome.INSUFFICIENT}
    assert not compare_summaries(_summary(a__Boot=(50, 0, 10.0)), _summary(a__Boot=(5000, 0, 900.0)),
                                 Tolerance()).regressions


def test_tail_percentiles_need_calls_above_them() -> None:
    # 400 calls leave 4 above p99: too few to judge (min_tail 10), but p50 is judged.
    got = _outcomes(_summary(a__X=(400, 0, 100.0)), _summary(a__X=(400, 0, 200.0)))
    assert got[("a/X", "p99")] is Outcome.INSUFFICIENT
    assert got[("a/X", "p50")] is Outcome.REGRESSION
    got = _outcomes(_summary(a__X=(400, 0, 100.0)), _summary(a__X=(400, 0, 200.0)), min_tail=4)
    assert got[("a/X", "p99")] is Outcome.REGRESSION


def test_error_rate_needs_relative_and_absolute_rise() -> None:
    base = _summary(a__X=(10000, 10, 5.0))  # 0.1 %
    assert _outcomes(base, _summary(a__X=(10000, 15, 5.0)))[("a/X", "error_rate")] is Outcome.OK
    assert _outcomes(base, _summary(a__X=(10000, 30, 5.0)))[("a/X", "error_rate")] is Outcome.REGRESSION
    from_zero = _outcomes(_summary(a__X=(10000, 0, 5.0)), _summary(a__X=(10000, 50, 5.0)))
    assert from_zero[("a/X", "error_rate")] is Outcome.REGRESSION


def test_actions_in_only_one_run_are_listed() -> None:
    c = compare_summaries(_summary(a__Old=(500, 0, 1.0), a__Both=(500, 0, 1.0)),
                          _summary(a__New=(500, 0, 1.0), a__Both=(500, 0, 1.0)), Tolerance())
    assert c.only_baseline == ("a/Old",) and c.only_current == ("a/New",)
    assert not c.regressions
    table = format_table(c)
    assert "only in baseline: a/Old" in table and "only in current: a/New" in table


def test_table_is_aligned() -> None:
    c = compare_summaries(_summary(a__X=(5000, 0, 100.0)), _summary(a__X=(5000, 0, 150.0)),
                          Tolerance(percentiles=("p99",)))
    lines = format_table(c).splitlines()
    assert lines[0].split() == ["action", "metric", "baseline", "current", "change", "calls",
                                "(base/cur)", "verdict"]
    assert "+50.0%" in lines[2] and "REGRESSION" in lines[2]
    assert lines[3].split()[1] == "error_rate"
    assert lines[-1].startswith("1 regression(s)")


def test_an_interrupted_or_saturated_run_is_flagged_above_the_verdicts() -> None:
    base = _summary(a__X=(5000, 0, 100.0))
    cur = parse_summary({"scenario": "unit", "completed": False, "interrupted": True,
                         "failure": "interrupted by the user after 12.0 s of the planned 60 s",
                         "generator": {"valid": False},
                         "actions": {"a/X": {"count": 5000, "errors": 0, "p50_ms": 25.0,
                                             "p95_ms": 50.0, "p99_ms": 100.0}}})
    c = compare_summaries(base, cur, Tolerance(percentiles=("p99",)))
    assert c.regressions == ()  # caveats warn; they do not decide
    assert len(c.caveats) == 2
    lines = format_table(c).splitlines()
    assert lines[0] == ("WARNING: the current run did not complete (interrupted by the user "
                        "after 12.0 s of the planned 60 s): its figures cover only the part "
                        "that ran")
    assert lines[1].startswith("WARNING: the current run's figures are suspect (its load generator "
                               "was saturated)")
    assert lines[2].split()[0] == "action"
    assert compare_summaries(base, base, Tolerance()).caveats == ()


def _ns(baseline: Path, current: Path, *extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    compare_command.add_arguments(parser)
    return parser.parse_args([str(baseline), str(current), *extra])


def test_compare_command_on_folders(make_results: MakeResults) -> None:
    base = make_results("base")
    same = make_results("same")  # same seed: identical samples
    slower = make_results("slower", actions={
        **DEFAULT_ACTIONS, "2.0.1/TransactionEvent": ActionSpec(1500, 3, 12.0)})
    out = io.StringIO()
    assert compare_command.run(_ns(base, same), out=out) == exitcodes.OK
    assert (same / "plots" / "compare.png").stat().st_size > 10_000
    out = io.StringIO()
    assert compare_command.run(_ns(base, slower, "--percentiles", "p50,p99.9",
                                   "--out", str(slower / "cmp")), out=out) == exitcodes.SLO_FAILED
    text = out.getvalue()
    assert "2.0.1/TransactionEvent  p50" in text and "REGRESSION" in text
    assert (slower / "cmp" / "compare.png").is_file()


@pytest.mark.parametrize("args", [["--max-regression", "10"], ["--percentiles", "p98"],
                                  ["--error-floor", "x"]])
def test_compare_command_rejects_bad_options(tmp_path: Path, args: list[str],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        _ns(tmp_path, tmp_path, *args)
    assert info.value.code == exitcodes.USAGE
    assert "error" in capsys.readouterr().err


def _figures(service_p99: float, response_p99: float, n: int = 5000) -> Any:
    def fig(p99: float) -> dict[str, float]:
        return {"count": n, "p50_ms": p99 / 4, "p95_ms": p99 / 2, "p99_ms": p99}
    entry = {"count": n, "calls": n, "errors": 0, "figure": "service", **fig(service_p99),
             "service": fig(service_p99), "response": fig(response_p99)}
    return parse_summary({"scenario": "unit", "actions": {"2.0.1/Authorize": entry}})


def test_compare_judges_each_figure_apart() -> None:
    """A stall the CSMS caused shows in the response tail even when service barely moved."""
    got = _outcomes(_figures(50.0, 60.0), _figures(52.0, 900.0))
    assert got[("2.0.1/Authorize", "p99")] is Outcome.OK
    assert got[("2.0.1/Authorize", "response.p99")] is Outcome.REGRESSION
    got = _outcomes(_figures(50.0, 60.0), _figures(90.0, 100.0),
                    percentiles=("service.p99", "queued.p99"))
    assert got[("2.0.1/Authorize", "service.p99")] is Outcome.REGRESSION
    assert got[("2.0.1/Authorize", "queued.p99")] is Outcome.INSUFFICIENT  # not in the run


def test_an_older_run_reads_as_the_response_figure() -> None:
    old = _summary(a__X=(5000, 0, 100.0))
    assert old.actions["a/X"].latency("response")["p99"] == 100.0
