"""``timeseries.csv``: one row per wall-clock interval, read into numpy columns.

Columns: ``t_s`` (wall seconds since run start, at the interval's end), ``sim_time``
(ISO 8601 UTC, simulated clock), ``connected``, ``booted`` (stations, at the
interval's end), ``sent``, ``received``, ``errors`` (counts *in* the interval),
``plugged``, ``charging`` (vehicles), ``power_kw`` (fleet power), then for each
action key K seen in the run ``K.count``, ``K.p50_ms``, ``K.p95_ms``, ``K.p99_ms``
(empty when the interval had no sample). Optional: ``offline_queued`` (transaction
messages queued offline fleet-wide, at the interval's end) and ``injected`` (faults
injected in the interval); absent (older runs) they read as zeros. Empty cells read
as NaN (NaT for time); other columns are ignored.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import numpy as np

from fleetsim.exceptions import ResultsError
from fleetsim.report.results import TIMESERIES, read_text

__all__ = ["BASE_COLUMNS", "ActionSeries", "TimeSeries", "load_timeseries", "parse_timeseries"]

BASE_COLUMNS: Final = ("t_s", "sim_time", "connected", "booted", "sent", "received", "errors",
                       "plugged", "charging", "power_kw")
_ACTION_SUFFIXES: Final = ("count", "p50_ms", "p95_ms", "p99_ms")
OPTIONAL_COLUMNS: Final = ("offline_queued", "injected")


@dataclass(frozen=True, slots=True)
class ActionSeries:
    """One action's columns: calls per interval and latency percentiles [ms] (NaN: none)."""

    key: str
    count: np.ndarray
    p50_ms: np.ndarray
    p95_ms: np.ndarray
    p99_ms: np.ndarray


@dataclass(frozen=True, slots=True)
class TimeSeries:
    """All columns as read-only float arrays of equal length; ``sim_time`` is datetime64[ms]."""

    t_s: np.ndarray
    sim_time: np.ndarray
    connected: np.ndarray
    booted: np.ndarray
    sent: np.ndarray
    received: np.ndarray
    errors: np.ndarray
    plugged: np.ndarray
    charging: np.ndarray
    power_kw: np.ndarray
    actions: Mapping[str, ActionSeries]
    offline_queued: np.ndarray
    injected: np.ndarray

    def __len__(self) -> int:
        return len(self.t_s)

    def interval_s(self) -> np.ndarray:
        """Seconds each row's counts are spread over, for rates: the row's interval, but at
        least the typical (median) step. So the first row, a clock glitch, or the short
        final interval of a run's drain (60 ms holding 100 messages) reads as a rate per
        typical interval instead of a spike of thousands per second."""
        steps = np.diff(self.t_s)
        positive = steps[steps > 0]
        typical = float(np.median(positive)) if len(positive) else 1.0
        widths = np.concatenate(([typical], steps)) if len(self.t_s) else np.empty(0)
        return np.maximum(widths, typical)


def load_timeseries(results_dir: Path) -> TimeSeries:
    """Read ``results_dir/timeseries.csv``; ResultsError naming file, line and column."""
    path = Path(results_dir) / TIMESERIES
    text = read_text(path)
    return parse_timeseries(text, file=str(path))


def parse_timeseries(text: str, *, file: str = TIMESERIES) -> TimeSeries:
    """Parse CSV text in the format above."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise ResultsError(f"{file}: empty (expected a header line)")
    header, body = rows[0], rows[1:]
    missing = [c for c in BASE_COLUMNS if c not in header]
    if missing:
        raise ResultsError(f"{file}: header lacks column {missing[0]!r}")
    for line, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise ResultsError(f"{file}: line {line}: {len(row)} cells, header has {len(header)}")
    cells = dict(zip(header, zip(*body, strict=True), strict=True)) if body else {
        name: () for name in header}
    wanted = [name for name in header if name in BASE_COLUMNS or name in OPTIONAL_COLUMNS
              or name.rpartition(".")[2] in _ACTION_SUFFIXES]  # others are not plotted
    numbers = {name: _floats(cells[name], file, name) for name in wanted if name != "sim_time"}
    zeros = np.zeros(len(body))
    zeros.setflags(write=False)
    return TimeSeries(
        t_s=numbers["t_s"],
        sim_time=_times(cells["sim_time"], file),
        connected=numbers["connected"],
        booted=numbers["booted"],
        sent=numbers["sent"],
        received=numbers["received"],
        errors=numbers["errors"],
        plugged=numbers["plugged"],
        charging=numbers["charging"],
        power_kw=numbers["power_kw"],
        actions=_actions(header, numbers, len(body)),
        offline_queued=numbers.get("offline_queued", zeros),
        injected=numbers.get("injected", zeros),
    )


def _actions(header: list[str], numbers: Mapping[str, np.ndarray], n: int) -> dict[str, ActionSeries]:
    keys = [name.removesuffix(".count") for name in header if name.endswith(".count")]
    nan = np.full(n, np.nan)
    nan.setflags(write=False)
    return {key: ActionSeries(key, *(numbers.get(f"{key}.{s}", nan) for s in _ACTION_SUFFIXES))
            for key in keys}


def _floats(cells: tuple[str, ...], file: str, column: str) -> np.ndarray:
    values = np.empty(len(cells))
    for i, cell in enumerate(cells):
        try:
            values[i] = float(cell) if cell.strip() else np.nan
        except ValueError:
            raise ResultsError(f"{file}: line {i + 2}: column {column!r}: not a number: "
                               f"{cell[:30]!r}") from None
    values.setflags(write=False)
    return values


def _times(cells: tuple[str, ...], file: str) -> np.ndarray:
    values = np.full(len(cells), np.datetime64("NaT"), dtype="datetime64[ms]")
    for i, cell in enumerate(cells):
        if not cell.strip():
            continue
        try:
            moment = datetime.fromisoformat(cell.strip())
        except ValueError:
            raise ResultsError(f"{file}: line {i + 2}: column 'sim_time': not an ISO 8601 time: "
                               f"{cell[:30]!r}") from None
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        values[i] = np.datetime64(moment, "ms")
    values.setflags(write=False)
    return values
