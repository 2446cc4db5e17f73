"""Reading a results folder: garbled files raise ResultsError naming file and place."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest

from fleetsim.exceptions import ResultsError
from fleetsim.report import load_histograms, load_sessions, load_summary, load_timeseries

from .conftest import DEFAULT_ACTIONS, MakeResults


def test_synthetic_folder_reads_back(make_results: MakeResults) -> None:
    folder = make_results()
    summary = load_summary(folder)
    assert set(summary.actions) == set(DEFAULT_ACTIONS)
    te = summary.actions["2.0.1/TransactionEvent"]
    assert (te.version, te.action, te.count, te.errors) == ("2.0.1", "TransactionEvent", 1500, 3)
    assert te.error_rate == pytest.approx(0.002)
    hists = load_histograms(folder)
    assert hists["2.0.1/TransactionEvent"].get_total_count() == 1500
    ts = load_timeseries(folder)
    assert len(ts) == 60 and set(ts.actions) == set(DEFAULT_ACTIONS)
    assert int(np.nansum(ts.actions["1.6/MeterValues"].count)) == 2000
    assert ts.sim_time.dtype == np.dtype("datetime64[ms]")
    assert np.all(ts.interval_s() == 1.0)
    sessions = load_sessions(folder)
    assert sessions.sessions == 25 and set(sessions.by_archetype) == {"residential_ac", "dc_fast"}


@pytest.mark.parametrize(("name", "content", "message"), [
    ("summary.json", "{not json", r"summary\.json: not valid JSON"),
    ("summary.json", "[1, 2]", r"summary\.json: \(top level\): expected an object"),
    ("summary.json", '{"scenario": "x"}', r"summary\.json: actions: missing"),
    ("summary.json", '{"scenario": "x", "actions": {"Heartbeat": {}}}', r"actions\.Heartbeat: action keys"),
    ("summary.json", '{"scenario": "x", "actions": {}, "generator": {"valid": "yes", "cpu_percent": "hi"}}',
     r"generator\.valid: expected true or false"),
    ("summary.json", '{"scenario": "x", "actions": {}, "generator": {"cpu_percent": "hi"}}',
     r"generator\.cpu_percent: expected a number"),
    ("histograms.json", '{"format": "other"}', r"histograms\.json: format"),
    ("histograms.json", '{"format": "hdrhistogram-v2-base64", "actions": {"1.6/X": "AAAA"}}',
     r"histograms\.json: actions\.1\.6/X: not a decodable HdrHistogram"),
    ("timeseries.csv", "", r"timeseries\.csv: empty"),
    ("timeseries.csv", "t_s,sim_time\n1,2026-01-01T00:00:00Z\n", r"timeseries\.csv: header lacks column 'connected'"),
])
def test_garbled_files_name_the_file(make_results: MakeResults, name: str, content: str,
                                     message: str) -> None:
    folder = make_results()
    (folder / name).write_text(content)
    loader = {"summary.json": load_summary, "histograms.json": load_histograms,
              "timeseries.csv": load_timeseries}[name]
    with pytest.raises(ResultsError, match=message) as info:
        loader(folder)
    assert str(folder / name) in str(info.value) and "\n" not in str(info.value)


def _edit_line(path: Path, line: int, old: str, new: str) -> None:
    lines = path.read_text().splitlines()
    lines[line - 1] = lines[line - 1].replace(old, new, 1)
    path.write_text("\n".join(lines) + "\n")


def test_timeseries_cell_errors_name_line_and_column(make_results: MakeResults) -> None:
    folder = make_results()
    path = folder / "timeseries.csv"
    _edit_line(path, 3, ".000Z", ".000Z,extra")
    with pytest.raises(ResultsError, match=r"line 3: .* cells, header has"):
        load_timeseries(folder)
    folder = make_results("other")
    path = folder / "timeseries.csv"
    lines = path.read_text().splitlines()
    cells = lines[4].split(",")
    cells[4] = "lots"  # the 'sent' column
    lines[4] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ResultsError, match=r"line 5: column 'sent': not a number: 'lots'"):
        load_timeseries(folder)


def test_sessions_errors(make_results: MakeResults) -> None:
    folder = make_results()
    path = folder / "sessions.csv"
    path.write_text("station_id,connector_id\nFS1,1\n")
    with pytest.raises(ResultsError, match=r"sessions\.csv: header lacks column 'archetype'"):
        load_sessions(folder)


def test_empty_sessions_file_is_fine(make_results: MakeResults) -> None:
    folder = make_results(sessions=0)
    digest = load_sessions(folder)
    assert digest.sessions == 0 and digest.energy_kwh == 0.0


def test_summary_dict_from_the_run_is_accepted() -> None:
    from fleetsim.report import parse_summary

    doc = orjson.loads(orjson.dumps({"scenario": "s", "actions": {"1.6/Heartbeat": {
        "count": 3, "errors": 0, "p50_ms": None}}}))
    s = parse_summary(doc)
    assert s.generator_valid and np.isnan(s.actions["1.6/Heartbeat"].latency_ms["p50"])


def test_a_short_final_interval_is_not_a_rate_spike(make_results: MakeResults) -> None:
    folder = make_results()
    path = folder / "timeseries.csv"
    lines = path.read_text().splitlines()
    last = lines[-1].split(",")
    last[0] = "60.058"  # the run's drain: a 58 ms interval after t = 60 s
    path.write_text("\n".join([*lines, ",".join(last)]) + "\n")
    widths = load_timeseries(folder).interval_s()
    assert widths[-1] == 1.0 and np.all(widths == 1.0)
