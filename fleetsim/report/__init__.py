"""Offline reporting on a results folder: plots, report.html, SLO gates, run comparison.

Reads only files under ``results/<run>/``; matplotlib is imported lazily by the
plotting functions, so importing this package stays light.
"""

from fleetsim.report import exitcodes
from fleetsim.report.compare import (
    Comparison,
    MetricDelta,
    Outcome,
    Tolerance,
    compare_runs,
    compare_summaries,
    format_table,
)
from fleetsim.report.histograms import load_histograms, merge
from fleetsim.report.html import render_html, write_html
from fleetsim.report.junit import write_junit
from fleetsim.report.plots import COMPARE_PLOT, PLOT_FILES, write_plots
from fleetsim.report.render import render
from fleetsim.report.results import ActionStats, RunSummary, load_summary, parse_summary
from fleetsim.report.sessions import SessionsDigest, load_sessions
from fleetsim.report.slo import Slo, SloError, parse_slo, parse_slos
from fleetsim.report.timeseries import TimeSeries, load_timeseries
from fleetsim.report.verdicts import Verdict, evaluate, read_slo_json, write_slo_json

__all__ = [
    "COMPARE_PLOT",
    "PLOT_FILES",
    "ActionStats",
    "Comparison",
    "MetricDelta",
    "Outcome",
    "RunSummary",
    "SessionsDigest",
    "Slo",
    "SloError",
    "TimeSeries",
    "Tolerance",
    "Verdict",
    "compare_runs",
    "compare_summaries",
    "evaluate",
    "exitcodes",
    "format_table",
    "load_histograms",
    "load_sessions",
    "load_summary",
    "load_timeseries",
    "merge",
    "parse_slo",
    "parse_slos",
    "parse_summary",
    "read_slo_json",
    "render",
    "render_html",
    "write_html",
    "write_junit",
    "write_plots",
    "write_slo_json",
]
