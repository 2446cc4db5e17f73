"""Regenerate a run's plots and ``report.html`` from its results folder alone."""

from __future__ import annotations

from pathlib import Path

from fleetsim.exceptions import ResultsError
from fleetsim.report.html import write_html
from fleetsim.report.plots import write_plots

__all__ = ["render"]


def render(results_dir: Path) -> list[Path]:
    """Write ``plots/*.png`` then ``report.html`` (which inlines them) into ``results_dir``.

    Reads only files in ``results_dir``; an existing ``slo.json`` is shown in the
    report. Returns the paths written, the report last. Raises ResultsError naming
    the file when one is missing or garbled.
    """
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise ResultsError(f"{results_dir}: not a directory (expected a results folder)")
    plots = write_plots(results_dir)
    return [*plots, write_html(results_dir)]
