"""junit.xml: one testsuite, one testcase per SLO, failures naming observed and threshold."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from fleetsim.report import Verdict, write_junit


def test_junit_structure(tmp_path: Path) -> None:
    verdicts = [
        Verdict("2.0.1/TransactionEvent.p99 > 500ms", False, 612.0, 500.0, "ms",
                "observed 612 ms, > 500 ms"),
        Verdict("error_rate > 1%", True, 0.1, 1.0, "%", "observed 0.1 %, not > 1 %"),
        Verdict("2.1/Nothing.p50 > 1ms", False, None, 1.0, "ms",
                "no samples: no calls of 2.1/Nothing in this run"),
        Verdict('generator.valid == false & <"quoted">', False, False, False, "", "observed false"),
    ]
    path = write_junit(verdicts, tmp_path / "junit.xml", timestamp="2026-11-21T12:00:00.000Z",
                       duration_s=45.2)
    root = ET.parse(path).getroot()
    assert root.tag == "testsuite" and root.get("name") == "fleetsim"
    assert (root.get("tests"), root.get("failures"), root.get("time")) == ("4", "3", "45.200")
    cases = root.findall("testcase")
    assert [c.get("name") for c in cases] == [v.expression for v in verdicts]
    failures = [c.find("failure") for c in cases]
    assert failures[1] is None
    first = failures[0]
    assert first is not None
    message = first.get("message") or ""
    assert "observed 612 ms" in message and "threshold 500 ms" in message
    assert first.get("type") == "SloViolated"
    no_samples = failures[2]
    assert no_samples is not None and no_samples.get("type") == "NoSamples"
    assert "no samples" in (no_samples.get("message") or "")
    assert "threshold 1 ms" in (no_samples.get("message") or "")
    assert path.read_bytes().startswith(b"<?xml")


def test_empty_suite_is_valid(tmp_path: Path) -> None:
    root = ET.parse(write_junit([], tmp_path / "junit.xml")).getroot()
    assert root.get("tests") == "0" and not root.findall("testcase")
