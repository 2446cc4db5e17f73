"""SLO verdicts as JUnit XML, the format every CI system shows as test results.

One ``<testsuite name="fleetsim">`` holds one ``<testcase>`` per SLO (named by
its expression). A failed SLO carries ``<failure message="...">`` naming the
observed and threshold values; the reason is also the failure's text.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

from fleetsim.report.units import format_value
from fleetsim.report.verdicts import Verdict

__all__ = ["failure_message", "write_junit"]


def failure_message(verdict: Verdict) -> str:
    """``observed 612 ms, threshold 500 ms (FAIL when p99 > 500ms)`` or the no-data reason."""
    if verdict.observed is None:
        return f"{verdict.reason}; threshold {format_value(verdict.threshold, verdict.unit)}"
    return (f"observed {format_value(verdict.observed, verdict.unit)}, threshold "
            f"{format_value(verdict.threshold, verdict.unit)} (fails when {verdict.expression})")


def write_junit(verdicts: Iterable[Verdict], path: Path, *, suite: str = "fleetsim",
                timestamp: str | None = None, duration_s: float | None = None) -> Path:
    """Write ``path``; ``timestamp`` (ISO 8601) and ``duration_s`` describe the run."""
    items = list(verdicts)
    root = ET.Element("testsuite", {
        "name": suite,
        "tests": str(len(items)),
        "failures": str(sum(not v.passed for v in items)),
        "errors": "0",
        "skipped": "0",
        "time": f"{duration_s or 0.0:.3f}",
    })
    if timestamp:
        root.set("timestamp", timestamp)
    for verdict in items:
        case = ET.SubElement(root, "testcase", {
            "classname": f"{suite}.slo", "name": verdict.expression, "time": "0"})
        if verdict.passed:
            ET.SubElement(case, "system-out").text = verdict.reason
        else:
            kind = "NoSamples" if verdict.observed is None else "SloViolated"
            failure = ET.SubElement(case, "failure",
                                    {"message": failure_message(verdict), "type": kind})
            failure.text = verdict.reason
    tree = ET.ElementTree(root)
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
    return path
