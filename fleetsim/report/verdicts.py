"""Evaluate SLOs against a run's summary, and keep the verdicts in ``slo.json``.

A CI gate must never pass silently: an SLO naming an action that made no call in
the run (a typo, a version not in the fleet) fails with reason "no samples", and
one naming a summary key the run did not write fails with "not in summary.json".

Patterns over several actions (``*/Heartbeat.p95``, ``actions.p99``) are exact when
the run's histograms are given (they are merged). Without them the percentile is
bounded conservatively from the per-action values — the largest for ``>``, ``>=``,
``==``, ``!=`` and the smallest for ``<``, ``<=`` — which never lets a breach pass.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson

from fleetsim.exceptions import ResultsError
from fleetsim.report.histograms import Histogram, latency_ms, merge
from fleetsim.report.results import HEADLINE, ActionStats, RunSummary, parse_summary, read_json
from fleetsim.report.slo import Kind, Slo, parse_slo
from fleetsim.report.units import format_value

__all__ = ["Verdict", "evaluate", "read_slo_json", "write_slo_json"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of one SLO; ``observed`` and ``threshold`` are in ``unit``.

    ``unit`` is ``"ms"`` for latencies, ``"%"`` for rates (0.1 means 0.1 %), ``""``
    for plain numbers and booleans. ``observed`` is None when nothing was measured.
    """

    expression: str
    passed: bool
    observed: float | bool | None
    threshold: float | bool
    unit: str
    reason: str


def evaluate(slos: Iterable[Slo | str], summary: RunSummary | Mapping[str, Any], *,
             histograms: Mapping[str, Histogram] | None = None,
             figure_histograms: Mapping[str, Mapping[str, Histogram]] | None = None,
             ) -> list[Verdict]:
    """One verdict per SLO, in order. ``summary`` is ``summary.json`` (parsed or as a dict);
    ``histograms`` the headline figure's, ``figure_histograms`` every figure's
    (:func:`~fleetsim.report.histograms.load_figure_histograms`).

    Raises SloError for a malformed expression, ResultsError for a malformed summary.
    """
    run = summary if isinstance(summary, RunSummary) else parse_summary(summary)
    figures = figure_histograms or {}
    if histograms is None:  # the headline's, or an older run's one due → answer figure
        histograms = figures.get(HEADLINE) or figures.get("response")
    out = []
    for s in slos:
        slo = parse_slo(s) if isinstance(s, str) else s
        hists = histograms if slo.figure is None else figures.get(slo.figure)
        out.append(_verdict(slo, run, hists or {}))
    return out


def _verdict(slo: Slo, run: RunSummary, histograms: Mapping[str, Histogram]) -> Verdict:
    threshold = _shown(slo.threshold, slo.kind)
    observed, note = _observe(slo, run, histograms)
    if observed is None:
        return Verdict(slo.expression, False, None, threshold, slo.kind.unit, note)
    shown, unit = _shown(observed, slo.kind), slo.kind.unit
    failed = slo.holds(observed)
    verb = slo.operator if failed else f"not {slo.operator}"
    reason = (f"observed {format_value(shown, unit)}, {verb} "
              f"{format_value(threshold, unit)}{note}")
    return Verdict(slo.expression, not failed, shown, threshold, unit, reason)


def _shown(value: float | bool, kind: Kind) -> float | bool:
    """Internal value → the unit a verdict reports (rates become %)."""
    if kind is Kind.RATE and not isinstance(value, bool):
        return value * 100.0
    return value


def _observe(slo: Slo, run: RunSummary,
             histograms: Mapping[str, Histogram]) -> tuple[float | bool | None, str]:
    """(observed value in the SLO's internal unit, note) or (None, why nothing)."""
    if not slo.is_action:
        return _section_value(slo, run)
    version, _, action = slo.subject.partition("/")
    matched = [a for a in run.actions.values()
               if version in ("*", a.version) and action in ("*", a.action)]
    calls = sum(a.calls for a in matched)
    if calls == 0:
        return None, f"no samples: no calls of {slo.subject} in this run"
    if slo.metric == "count":
        return float(calls), ""
    if slo.metric == "errors":
        return float(sum(a.errors for a in matched)), ""
    if slo.metric == "error_rate":
        return sum(a.errors for a in matched) / calls, ""
    value, note = _latency(slo, matched, histograms)
    if math.isnan(value):
        return None, f"no samples: no latency recorded for {slo.subject}"
    return value, note


def _latency(slo: Slo, matched: list[ActionStats],
             histograms: Mapping[str, Histogram]) -> tuple[float, str]:
    fig = slo.figure
    if len(matched) == 1:
        return matched[0].latency(fig)[slo.metric], ""
    if all(a.key in histograms for a in matched):
        return latency_ms(merge(histograms[a.key] for a in matched), slo.metric), ""
    counted = [(a.latency(fig)[slo.metric], a.count) for a in matched
               if a.count and not math.isnan(a.latency(fig)[slo.metric])]
    if not counted:
        return math.nan, ""
    values = [v for v, _ in counted]
    if slo.metric == "mean":
        return sum(v * n for v, n in counted) / sum(n for _, n in counted), ""
    if slo.metric == "max":
        return max(values), ""
    bound = min if slo.operator in ("<", "<=") else max
    return bound(values), f" (conservative bound over {len(values)} actions)"


def _section_value(slo: Slo, run: RunSummary) -> tuple[float | bool | None, str]:
    section: Mapping[str, float | bool] = {
        "generator": run.generator, "stations": run.stations, "messages": run.messages,
        "sessions": run.sessions, "errors": {**run.errors_by_kind, **run.errors},
    }[slo.subject]
    if slo.metric in section:
        return section[slo.metric], ""
    if slo.subject == "errors" and slo.metric != "total":
        return 0.0, ""  # an error kind that never happened
    return None, f"not in summary.json: {slo.subject}.{slo.metric}"


def write_slo_json(verdicts: Iterable[Verdict], path: Path) -> Path:
    """Write ``{"passed": bool, "verdicts": [...]}`` to ``path`` (the report reads it)."""
    items = list(verdicts)
    doc = {"passed": all(v.passed for v in items), "verdicts": [asdict(v) for v in items]}
    path.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    return path


def read_slo_json(path: Path) -> list[Verdict]:
    """Verdicts written by :func:`write_slo_json`; ResultsError naming the file if garbled."""
    doc = read_json(path)
    items = doc.get("verdicts") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise ResultsError(f"{path}: expected an object with a 'verdicts' list")
    verdicts = []
    for i, item in enumerate(items):
        try:
            verdict = Verdict(**item)
        except TypeError:
            verdict = None
        if verdict is None or not isinstance(verdict.passed, bool) or not isinstance(
                verdict.expression, str) or not isinstance(verdict.reason, str):
            raise ResultsError(f"{path}: verdicts[{i}]: expected the fields of a verdict")
        verdicts.append(verdict)
    return verdicts
