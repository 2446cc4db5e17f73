"""``fleetsim report``: arguments, --fail-on gates, and errors naming the file."""

from __future__ import annotations

import argparse
import io
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fleetsim.exceptions import ResultsError
from fleetsim.report import command, exitcodes
from fleetsim.report.slo import SloError

from .conftest import ActionSpec, MakeResults

# One action keeps each render (the whole command runs) well under a second.
ONE_ACTION = {"2.0.1/TransactionEvent": ActionSpec(300, 1, 4.0)}


def _ns(*args: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="fleetsim report")
    command.add_arguments(parser)
    return parser.parse_args(list(args))


def test_exit_codes_are_stable() -> None:
    assert (exitcodes.OK, exitcodes.USAGE, exitcodes.SLO_FAILED, exitcodes.RUN_INCOMPLETE) == (
        0, 2, 3, 4)


def test_missing_summary_is_a_results_error_naming_the_file(make_results: MakeResults) -> None:
    folder = make_results()
    (folder / "summary.json").unlink()
    with pytest.raises(ResultsError, match=r"summary\.json: missing") as info:
        command.run(_ns(str(folder)), out=io.StringIO())
    assert "\n" not in str(info.value)


def test_not_a_folder(tmp_path: Path) -> None:
    with pytest.raises(ResultsError, match="not a directory"):
        command.run(_ns(str(tmp_path / "nope")), out=io.StringIO())


def test_report_without_slos_exits_ok(make_results: MakeResults) -> None:
    folder = make_results(actions=ONE_ACTION)
    out = io.StringIO()
    assert command.run(_ns(str(folder)), out=out) == exitcodes.OK
    assert "report.html" in out.getvalue()
    assert not (folder / "junit.xml").exists() and not (folder / "slo.json").exists()


def test_fail_on_writes_verdicts_and_exits_3(make_results: MakeResults) -> None:
    folder = make_results(actions=ONE_ACTION)
    out = io.StringIO()
    code = command.run(_ns(str(folder), "--fail-on", "2.0.1/TransactionEvent.p50 > 1ms",
                           "--fail-on", "error_rate > 5%"), out=out)
    assert code == exitcodes.SLO_FAILED
    text = out.getvalue()
    assert "FAIL  2.0.1/TransactionEvent.p50 > 1ms" in text and "PASS  error_rate > 5%" in text
    cases = ET.parse(folder / "junit.xml").getroot().findall("testcase")
    assert [c.find("failure") is not None for c in cases] == [True, False]
    assert "1 of 2 SLO(s) failed" in (folder / "report.html").read_text(encoding="utf-8")


def test_fail_on_passing_exits_ok(make_results: MakeResults) -> None:
    folder = make_results(actions=ONE_ACTION)
    assert command.run(_ns(str(folder), "--fail-on", "*/*.p99 > 10s"),
                       out=io.StringIO()) == exitcodes.OK


def test_bad_slo_is_reported_before_anything_is_written(make_results: MakeResults) -> None:
    folder = make_results()
    with pytest.raises(SloError, match="p98"):
        command.run(_ns(str(folder), "--fail-on", "*/Heartbeat.p98 > 1s"), out=io.StringIO())
    assert not (folder / "plots").exists()
