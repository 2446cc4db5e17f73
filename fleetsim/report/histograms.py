"""Latency histograms of ``histograms.json``: decode, merge, percentiles and CDF.

The file holds one HdrHistogram per action key, in integer microseconds, each
``HdrHistogram.encode()`` output as a string: ``actions`` the headline figure (``headline``:
``service``, sent → answer), ``response`` and ``queued`` the other two figures, ``connect``
one per OCPP version (connect + handshake), ``boot`` the boot recovery. Older files have
``actions`` only, measured due → answer (the ``response`` figure). Histograms are mergeable, so
percentiles over several actions (or several runs) are exact to the histogram's
precision (3 significant figures), unlike any combination of per-action
percentiles from ``summary.json``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

import numpy as np
from hdrh.histogram import HdrHistogram

from fleetsim.exceptions import ResultsError
from fleetsim.report.results import HISTOGRAMS, LATENCY_METRICS, read_json

__all__ = [
    "FORMAT",
    "HIGHEST_US",
    "LOWEST_US",
    "SIGNIFICANT_FIGURES",
    "cdf_ms",
    "latency_ms",
    "load_figure_histograms",
    "load_histograms",
    "merge",
    "parse_histograms",
]

FORMAT: Final = "hdrhistogram-v2-base64"
LOWEST_US: Final = 1
HIGHEST_US: Final = 3_600_000_000
SIGNIFICANT_FIGURES: Final = 3

#: ``HdrHistogram`` has no type hints; this alias documents what a value is.
Histogram = Any


def load_histograms(results_dir: Path) -> dict[str, Histogram]:
    """Decode ``results_dir/histograms.json`` → {action key: HdrHistogram [us]}."""
    path = Path(results_dir) / HISTOGRAMS
    return parse_histograms(read_json(path), file=str(path))


def load_figure_histograms(results_dir: Path) -> dict[str, dict[str, Histogram]]:
    """Decode every figure of ``histograms.json`` → {figure: {action key: HdrHistogram}}
    (``service``, ``response``, ``queued``; an older file gives ``response`` only)."""
    path = Path(results_dir) / HISTOGRAMS
    doc = read_json(path)
    head = parse_histograms(doc, file=str(path))
    headline = doc.get("headline") if isinstance(doc, Mapping) else None
    out = {str(headline or "response"): head}
    for figure in ("response", "queued"):
        if isinstance(doc, Mapping) and figure in doc:
            out[figure] = parse_histograms(doc, file=str(path), section=figure)
    return out


def parse_histograms(doc: object, *, file: str = HISTOGRAMS,
                     section: str = "actions") -> dict[str, Histogram]:
    """Validate and decode one section (``actions``: the headline figure) of a
    ``histograms.json`` document; ResultsError naming the key."""
    if not isinstance(doc, Mapping):
        raise ResultsError(f"{file}: expected a JSON object at the top level")
    if doc.get("format") != FORMAT:
        raise ResultsError(f"{file}: format: expected {FORMAT!r}, got {doc.get('format')!r}")
    if doc.get("unit", "us") != "us":
        raise ResultsError(f"{file}: unit: expected 'us', got {doc.get('unit')!r}")
    actions = doc.get(section)
    if not isinstance(actions, Mapping):
        raise ResultsError(f"{file}: {section}: expected an object of encoded histograms")
    decoded = {}
    for key, encoded in actions.items():
        if not isinstance(encoded, str):
            raise ResultsError(f"{file}: {section}.{key}: expected a base64 string")
        try:
            decoded[key] = HdrHistogram.decode(encoded)
        # hdrh raises whatever its layers raise (binascii.Error, zlib.error,
        # HdrLengthException, struct.error, ...): all mean "garbled".
        except Exception as exc:
            raise ResultsError(
                f"{file}: {section}.{key}: not a decodable HdrHistogram ({exc})") from None
    return decoded


def merge(histograms: Iterable[Histogram]) -> Histogram:
    """A new histogram holding every sample of ``histograms`` (which are left unchanged)."""
    total = HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_FIGURES)
    for h in histograms:
        total.add(h)
    return total


def latency_ms(histogram: Histogram, metric: str) -> float:
    """``metric`` (p50, p90, p95, p99, p999, max, mean) of ``histogram`` in ms; NaN if empty."""
    if metric not in LATENCY_METRICS:
        raise ValueError(f"unknown latency metric {metric!r}")
    if histogram.get_total_count() == 0:
        return math.nan
    percentile = LATENCY_METRICS[metric]
    if percentile is not None:
        return float(histogram.get_value_at_percentile(percentile)) / 1000.0
    if metric == "max":
        return float(histogram.get_max_value()) / 1000.0
    return float(histogram.get_mean_value()) / 1000.0


def cdf_ms(histogram: Histogram) -> tuple[np.ndarray, np.ndarray]:
    """(latency [ms], fraction of samples at or below it), one point per recorded bucket."""
    values, cumulative = [], []
    for item in histogram.get_recorded_iterator():
        values.append(item.value_iterated_to)
        cumulative.append(item.total_count_to_this_value)
    total = histogram.get_total_count()
    if not total:
        return np.empty(0), np.empty(0)
    return np.asarray(values, dtype=float) / 1000.0, np.asarray(cumulative, dtype=float) / total
