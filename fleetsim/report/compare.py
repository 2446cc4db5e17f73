"""Compare two runs action by action: latency percentiles and error rates, noise-aware.

A latency is a regression only if it rose by more than ``max_regression`` (relative)
AND by more than ``floor_ms`` (absolute), so 0.3 → 0.4 ms is noise, not a
regression. An error rate regresses if it rose by more than ``max_regression``
relative AND by more than ``error_floor`` (absolute, 0.001 = 0.1 percentage point).
Actions with fewer than ``min_count`` calls in either run are "insufficient data", and so
is a percentile with fewer than ``min_tail`` calls above it (p99 of 400 calls rests on 4
samples and moves ±20 % between identical runs; ``max`` rests on one and is never judged
unless ``min_tail`` is 1);
actions present in only one run are listed, never judged. Percentiles come from
the merged-precision histograms when both runs have one for the action, else
from ``summary.json``. A metric is a latency of the headline figure (``p99``: service,
sent → answer), or of a named figure (``response.p99``: due → answer, which shows a CSMS
stall in full; ``queued.p99``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from fleetsim.report.histograms import Histogram, latency_ms, load_figure_histograms
from fleetsim.report.results import (
    FIGURES,
    HEADLINE,
    HISTOGRAMS,
    LATENCY_METRICS,
    RunSummary,
    load_summary,
)
from fleetsim.report.units import format_ms, format_rate

__all__ = [
    "Comparison",
    "MetricDelta",
    "Outcome",
    "Tolerance",
    "compare_runs",
    "compare_summaries",
    "format_table",
    "split_metric",
]


class Outcome(Enum):
    """The verdict on one metric of one action."""

    OK = "ok"
    REGRESSION = "REGRESSION"
    IMPROVED = "improved"
    INSUFFICIENT = "insufficient data"
    ONLY_BASELINE = "only in baseline"
    ONLY_CURRENT = "only in current"

    @property
    def is_failure(self) -> bool:
        return self is Outcome.REGRESSION


@dataclass(frozen=True, slots=True)
class Tolerance:
    """How much change is noise. Rates and ``max_regression`` are fractions (0.1 = 10 %)."""

    max_regression: float = 0.10
    min_count: int = 100
    min_tail: int = 10
    floor_ms: float = 1.0
    error_floor: float = 0.001
    percentiles: tuple[str, ...] = ("p50", "p95", "p99", "response.p99")

    def __post_init__(self) -> None:
        unknown = [p for p in self.percentiles if split_metric(p)[1] not in LATENCY_METRICS]
        if unknown:
            raise ValueError(f"unknown percentile {unknown[0]!r} (use {', '.join(LATENCY_METRICS)}"
                             f", optionally after a figure: {', '.join(FIGURES)}, e.g. "
                             "response.p99)")


def split_metric(metric: str) -> tuple[str | None, str]:
    """``"response.p99"`` → ("response", "p99"); ``"p99"`` → (None, "p99") (the headline)."""
    head, dot, rest = metric.partition(".")
    if dot and head in FIGURES:
        return head, "p999" if rest == "p99.9" else rest
    return None, "p999" if metric == "p99.9" else metric


@dataclass(frozen=True, slots=True)
class MetricDelta:
    """One row: ``metric`` of ``action``; latencies in ms, ``error_rate`` a fraction."""

    action: str
    metric: str
    baseline: float | None
    current: float | None
    baseline_count: int
    current_count: int
    outcome: Outcome

    @property
    def change(self) -> float:
        """Relative change (0.25 = +25 %); inf from zero, NaN when a side is missing."""
        if self.baseline is None or self.current is None:
            return math.nan
        if self.baseline == 0:
            return 0.0 if self.current == 0 else math.inf
        return (self.current - self.baseline) / self.baseline


@dataclass(frozen=True, slots=True)
class Comparison:
    """Every row of a comparison, in action order then metric order."""

    baseline_name: str
    current_name: str
    metrics: tuple[str, ...]
    rows: tuple[MetricDelta, ...]
    tolerance: Tolerance = field(default_factory=Tolerance)
    caveats: tuple[str, ...] = ()
    """Why a run's numbers may not be comparable: it stopped early, or its generator
    was saturated (printed above the verdicts; they do not change them)."""

    @property
    def regressions(self) -> tuple[MetricDelta, ...]:
        return tuple(r for r in self.rows if r.outcome.is_failure)

    @property
    def only_baseline(self) -> tuple[str, ...]:
        return tuple(sorted({r.action for r in self.rows if r.outcome is Outcome.ONLY_BASELINE}))

    @property
    def only_current(self) -> tuple[str, ...]:
        return tuple(sorted({r.action for r in self.rows if r.outcome is Outcome.ONLY_CURRENT}))


def compare_runs(baseline_dir: Path, current_dir: Path, tolerance: Tolerance) -> Comparison:
    """Compare two results folders (summary.json, and histograms.json where present)."""
    runs = []
    for folder in (Path(baseline_dir), Path(current_dir)):
        hist = load_figure_histograms(folder) if (folder / HISTOGRAMS).exists() else {}
        runs.append((load_summary(folder), hist))
    (base, base_h), (cur, cur_h) = runs
    return compare_summaries(base, cur, tolerance, baseline_histograms=base_h,
                             current_histograms=cur_h, names=(Path(baseline_dir).name,
                                                              Path(current_dir).name))


def compare_summaries(baseline: RunSummary, current: RunSummary, tolerance: Tolerance, *,
                      baseline_histograms: Mapping[str, Mapping[str, Histogram]] | None = None,
                      current_histograms: Mapping[str, Mapping[str, Histogram]] | None = None,
                      names: tuple[str, str] = ("baseline", "current")) -> Comparison:
    """Pure comparison of two parsed summaries; histograms ({figure: {key: histogram}},
    as :func:`load_figure_histograms` reads them) refine the percentiles."""
    base_fh, cur_fh = baseline_histograms or {}, current_histograms or {}
    metrics = (*tolerance.percentiles, "error_rate")
    rows = []
    for key in sorted(set(baseline.actions) | set(current.actions)):
        b, c = baseline.actions.get(key), current.actions.get(key)
        for metric in metrics:
            if b is None or c is None:
                only = Outcome.ONLY_CURRENT if b is None else Outcome.ONLY_BASELINE
                rows.append(MetricDelta(key, metric, None, None, b.count if b else 0,
                                        c.count if c else 0, only))
                continue
            figure, latency = split_metric(metric)
            base_h = base_fh.get(figure or HEADLINE, {})
            cur_h = cur_fh.get(figure or HEADLINE, {})
            exact = key in base_h and key in cur_h
            if metric == "error_rate":
                bv, cv = b.error_rate, c.error_rate
            elif exact:
                bv, cv = latency_ms(base_h[key], latency), latency_ms(cur_h[key], latency)
            else:
                bv, cv = b.latency(figure)[latency], c.latency(figure)[latency]
            if (min(b.count, c.count) < _min_calls(latency, tolerance)
                    or math.isnan(bv) or math.isnan(cv)):
                outcome = Outcome.INSUFFICIENT
            elif metric == "error_rate":
                outcome = _judge(bv, cv, tolerance.max_regression, tolerance.error_floor)
            else:
                outcome = _judge(bv, cv, tolerance.max_regression, tolerance.floor_ms)
            rows.append(MetricDelta(key, metric, _known(bv), _known(cv), b.count, c.count,
                                    outcome))
    caveats = tuple(c for name, run in zip(("baseline", "current"), (baseline, current),
                                           strict=True) for c in _caveats(name, run))
    return Comparison(names[0], names[1], metrics, tuple(rows), tolerance, caveats)


def _caveats(name: str, run: RunSummary) -> list[str]:
    out = []
    if not run.completed:
        out.append(f"the {name} run did not complete ({run.failure or 'no reason recorded'}): "
                   "its figures cover only the part that ran")
    if not run.generator_valid:
        why = "; ".join(run.generator_warnings) or "its load generator was saturated"
        out.append(f"the {name} run's figures are suspect ({why}): its response latencies "
                   "may overstate the CSMS's")
    return out


def _min_calls(metric: str, tolerance: Tolerance) -> float:
    """Calls needed to judge ``metric``: min_count, and min_tail calls above a percentile."""
    if metric in ("error_rate", "mean"):
        return tolerance.min_count
    percentile = LATENCY_METRICS[metric]
    above = 1.0 - percentile / 100.0 if percentile is not None else 0.0
    tail = tolerance.min_tail / above if above > 0 else (0 if tolerance.min_tail <= 1 else math.inf)
    return max(tolerance.min_count, tail)


def _judge(baseline: float, current: float, relative: float, floor: float) -> Outcome:
    """Regression/improvement only when both the relative and the absolute change exceed
    their thresholds."""
    delta = current - baseline
    scale = baseline if baseline > 0 else 0.0
    if delta > floor and (scale == 0.0 or delta / scale > relative):
        return Outcome.REGRESSION
    if -delta > floor and scale > 0.0 and -delta / scale > relative:
        return Outcome.IMPROVED
    return Outcome.OK


def _known(value: float) -> float | None:
    return None if math.isnan(value) else value


def format_table(comparison: Comparison) -> str:
    """An aligned text table of every row, then one line of totals."""
    header = ("action", "metric", "baseline", "current", "change", "calls (base/cur)", "verdict")
    lines: list[Sequence[str]] = [header]
    for r in comparison.rows:
        show = format_rate if r.metric == "error_rate" else format_ms
        lines.append((
            r.action, r.metric,
            "-" if r.baseline is None else show(r.baseline),
            "-" if r.current is None else show(r.current),
            _percent(r.change), f"{r.baseline_count}/{r.current_count}", r.outcome.value))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    right = {2, 3, 4, 5}
    text = ["  ".join(cell.rjust(w) if i in right else cell.ljust(w)
                      for i, (cell, w) in enumerate(zip(line, widths, strict=True))).rstrip()
            for line in lines]
    text.insert(1, "  ".join("-" * w for w in widths))
    counts = {o: sum(r.outcome is o for r in comparison.rows) for o in Outcome}
    total = (f"{counts[Outcome.REGRESSION]} regression(s), {counts[Outcome.IMPROVED]} improved, "
             f"{counts[Outcome.INSUFFICIENT]} with insufficient data")
    for label, actions in (("only in baseline", comparison.only_baseline),
                           ("only in current", comparison.only_current)):
        if actions:
            total += f"; {label}: {', '.join(actions)}"
    warnings = [f"WARNING: {c}" for c in comparison.caveats]
    return "\n".join([*warnings, *text, "", total])


def _percent(change: float) -> str:
    if math.isnan(change):
        return "-"
    if math.isinf(change):
        return "new"
    return f"{change * 100:+.1f}%"
