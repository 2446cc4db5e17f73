"""Write a run's results folder: the files `fleetsim report` and researchers read.

``results/<scenario>-<UTC stamp>/`` holds ``scenario.yaml`` (as run),
``intervals.jsonl`` (raw per-second intervals with mergeable histograms),
``timeseries.csv``, ``sessions.csv``, ``messages.csv`` (the station-side ledger: CALLs
per station and action), ``histograms.json`` and ``summary.json``. Every engine streams
its own figures to ``workers/<tag>/`` as the run goes (so an interrupted or killed run
keeps its data); :func:`fleetsim.run.merge.merge_run` fills this folder from them.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson
import yaml

from fleetsim.exceptions import OutputPathError
from fleetsim.metrics.histogram import HIGHEST_US, LOWEST_US, SIGNIFICANT_FIGURES
from fleetsim.metrics.recorder import RESPONSE_KEY, IntervalStats, Recorder
from fleetsim.run.storm import storm_figures
from fleetsim.security.secrets import mask_secrets
from fleetsim.station.clock import iso_ms

__all__ = ["MESSAGE_COLUMNS", "SESSION_COLUMNS", "ResultsFolder", "generator_health",
           "new_run_dir", "run_dir"]

SESSION_COLUMNS = ("station_id", "connector_id", "archetype", "id_tag", "transaction_id",
                   "arrival", "departure", "started", "stopped", "energy_kwh", "wanted_kwh",
                   "meter_start_wh", "meter_stop_wh", "stop_reason", "vehicle",
                   "export_start_wh", "export_stop_wh",  # export: 2.1 V2X sessions only
                   "csms_acknowledged", "refused")
MESSAGE_COLUMNS = ("station_id", "ocpp_version", "action", "sent", "answered", "callerror",
                   "unanswered")
LAG_P99_LIMIT_MS = 20.0
CPU_LIMIT_PERCENT = 90.0
BUSY_MACHINE_CPU_PERCENT = 50.0  # loop lag with the engine below this: others took the cores


def new_run_dir(base: str | Path, scenario_name: str, now: datetime | None = None) -> Path:
    """A fresh ``<base>/<scenario>-<YYYYmmddTHHMMSSZ>`` (suffixed if it exists)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    path = Path(base) / f"{scenario_name}-{stamp}"
    n = 1
    while path.exists():
        n += 1
        path = Path(base) / f"{scenario_name}-{stamp}-{n}"
    path.mkdir(parents=True)
    return path


def run_dir(out_dir: str | Path | None, base: str | Path, scenario_name: str) -> Path:
    """``out_dir`` (created if missing) when given, else a :func:`new_run_dir` under ``base``.

    A folder that holds a run's engine folders already is refused: the results are
    merged from every ``workers/*`` in it, so a second run there added the first run's
    engines to its figures."""
    if out_dir is None:
        return new_run_dir(base, scenario_name)
    path = Path(out_dir)
    refuse_a_run_folder(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def refuse_a_run_folder(path: Path) -> None:
    """Raise :class:`OutputPathError` if ``path`` holds a run's engine folders."""
    engines = path / "workers"
    if engines.is_dir() and any(engines.iterdir()):
        raise OutputPathError(f"--out {path}: it holds a previous run's results ({engines}); "
                              f"give a new or empty folder")


def generator_health(rec: Recorder, cpu_percent: float) -> dict[str, Any]:
    """Was the load generator itself the bottleneck? (loop lag p99 > 20 ms or CPU ≥ 90 %).

    Loop lag while the engine's own CPU stayed under 50 % means other processes took the
    cores (``busy_machine``): the timings are just as suspect, but the fix is a quieter
    machine, not more workers."""
    lag = rec.loop_lag
    sent = sum(a.sent for a in rec.actions.values())
    first = sum(a.first for a in rec.actions.values())
    answered = sum(a.answered for a in rec.actions.values())
    by_kind: dict[str, int] = {}
    for a in rec.actions.values():
        for k, n in a.errors.items():
            kind = "call_errors" if k.startswith("CALLERROR") else k
            by_kind[kind] = by_kind.get(kind, 0) + n
    warnings = []
    busy = False
    lag99 = lag.percentile_ms(99)
    if lag99 > LAG_P99_LIMIT_MS and cpu_percent < BUSY_MACHINE_CPU_PERCENT:
        busy = True
        warnings.append(f"event-loop lag p99 {lag99:.1f} ms > {LAG_P99_LIMIT_MS:.0f} ms while "
                        f"the engine itself used only {cpu_percent:.0f} % CPU: other processes "
                        "took the cores (a busy machine, not a saturated generator); run on a "
                        "quieter machine")
    elif lag99 > LAG_P99_LIMIT_MS:
        warnings.append(f"event-loop lag p99 {lag99:.1f} ms > "
                        f"{LAG_P99_LIMIT_MS:.0f} ms at engine CPU {cpu_percent:.0f} %: the "
                        "generator was saturated; add workers or machines")
    if cpu_percent >= CPU_LIMIT_PERCENT:
        warnings.append(f"generator CPU {cpu_percent:.0f} % >= {CPU_LIMIT_PERCENT:.0f} %: "
                        "add workers or machines")
    return {
        "valid": not warnings, "warnings": warnings, "busy_machine": busy,
        "loop_lag_p50_ms": round(lag.percentile_ms(50), 3),
        "loop_lag_p99_ms": round(lag.percentile_ms(99), 3),
        "loop_lag_max_ms": round(lag.max_ms(), 3),
        "cpu_percent": round(cpu_percent, 1),
        "late_sends": rec.late_sends,
        "late_send_p99_ms": round(rec.send_slip.percentile_ms(99), 3),
        # every CALL attempt ends one way: sent = answered + final errors + retried attempts
        "calls_sent": sent, "calls_first": first, "calls_retried": sent - first,
        "calls_answered": answered,
        "calls_callerror": by_kind.get("call_errors", 0),
        "calls_timed_out": by_kind.get("timeout", 0),
        "calls_interrupted": by_kind.get("interrupted", 0) + by_kind.get("connection_lost", 0),
    }


class ResultsFolder:
    """The run's folder: ``scenario.yaml`` at the start; the merge adds the engines'
    intervals, sessions and messages, then :meth:`write_final` the rest."""

    def __init__(self, path: Path, *, scenario_raw: Mapping[str, Any], epoch_unix: float) -> None:
        self.path = path
        self.epoch_unix = epoch_unix
        (path / "scenario.yaml").write_text(
            # passwords masked: results are shared, the scenario file is not
            yaml.safe_dump(mask_secrets(scenario_raw), sort_keys=False, allow_unicode=True),
            encoding="utf-8")
        self._intervals: IO[bytes] = open(path / "intervals.jsonl", "wb")  # noqa: SIM115
        self._sessions_file: IO[str] = open(path / "sessions.csv", "w", newline="",  # noqa: SIM115
                                            encoding="utf-8")
        self._sessions = csv.writer(self._sessions_file)
        self._sessions.writerow(SESSION_COLUMNS)
        self._messages_file: IO[str] = open(path / "messages.csv", "w", newline="",  # noqa: SIM115
                                            encoding="utf-8")
        self._messages = csv.writer(self._messages_file)
        self._messages.writerow(MESSAGE_COLUMNS)
        self.session_count = 0
        self.session_energy_kwh = 0.0

    def add_interval_wire(self, wire: Mapping[str, Any]) -> None:
        self._intervals.write(orjson.dumps(wire) + b"\n")

    def add_sessions(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Finished sessions as an engine's folder holds them (``sessions.jsonl``)."""
        iso = self._iso
        for r in rows:
            tx_id = r.get("transaction_id")
            ack = bool(r.get("csms_acknowledged"))  # ``refused``: the idTag status it refused
            self._sessions.writerow((
                r["station_id"], r["connector_id"], r["archetype"], r["id_tag"],
                "" if tx_id is None else tx_id, iso(r["arrival_s"]), iso(r["departure_s"]),
                iso(r["started_s"]), iso(r["stopped_s"]), r["energy_kwh"], r["wanted_kwh"],
                r["meter_start_wh"], r["meter_stop_wh"], r["stop_reason"], r["vehicle"],
                r.get("export_start_wh", ""), r.get("export_stop_wh", ""),
                "true" if ack else "false", r.get("refused", "")))
            self.session_count += 1
            self.session_energy_kwh += float(r["energy_kwh"])

    def add_messages(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """A retired station's CALLs per action; ``unanswered``: timed out or cut off."""
        for r in rows:
            sent, answered, err = int(r["sent"]), int(r["answered"]), int(r["callerror"])
            self._messages.writerow((r["station_id"], r["ocpp_version"], r["action"], sent,
                                     answered, err, sent - answered - err))

    def _iso(self, sim_s: float) -> str:
        return iso_ms(self.epoch_unix + sim_s)

    def close_streams(self) -> None:
        self._intervals.close()
        self._sessions_file.close()
        self._messages_file.close()

    # ------------------------------------------------------------------ final files
    def write_final(self, summary: dict[str, Any], rec: Recorder, *,
                    stop_at_s: float = float("inf")) -> dict[str, Any]:
        """Write the final files; returns the summary as written (sessions, storm added).
        ``stop_at_s``: when the run's stop began (its closes are no event's storm)."""
        self.close_streams()
        merged = self._merge_intervals()
        self._write_timeseries(merged)
        events = summary.get("faults_injected", {}).get("events", [])
        storms = storm_figures(merged, events, until_s=stop_at_s) if events else []
        if storms:  # the headline is the biggest event; every event's figures beside it
            summary = {**summary, "storm": max(storms, key=lambda f: f["disconnected"]),
                       "storm_events": storms}
        hists = {"format": "hdrhistogram-v2-base64", "unit": "us", "lowest_us": LOWEST_US,
                 "highest_us": HIGHEST_US, "significant_figures": SIGNIFICANT_FIGURES,
                 "headline": "service",
                 "actions": {k: a.service.encode() for k, a in sorted(rec.actions.items())},
                 "response": {k: a.response.encode() for k, a in sorted(rec.actions.items())},
                 "queued": {k: a.queued.encode() for k, a in sorted(rec.actions.items())},
                 "connect": {v: h.encode() for v, h in sorted(rec.connect.items())},
                 "boot": rec.boot.encode(), "loop_lag": rec.loop_lag.encode()}
        (self.path / "histograms.json").write_text(json.dumps(hists, indent=1), encoding="utf-8")
        summary = {**summary, "sessions": {**summary.get("sessions", {}),
                                           "completed": self.session_count,
                                           "energy_kwh": round(self.session_energy_kwh, 3)}}
        (self.path / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
        return summary

    def _merge_intervals(self) -> list[IntervalStats]:
        by_index: dict[int, IntervalStats] = {}
        with open(self.path / "intervals.jsonl", "rb") as f:
            for line in f:
                if not line.strip():
                    continue
                st = IntervalStats.from_wire(orjson.loads(line))
                mine = by_index.get(st.index)
                if mine is None:
                    by_index[st.index] = st
                else:
                    mine.add(st)
        return [by_index[i] for i in sorted(by_index)]

    def _write_timeseries(self, intervals: list[IntervalStats]) -> None:
        keys = sorted({k for st in intervals for k in st.hists if not k.startswith("~")})
        head = ["t_s", "sim_time", "connected", "booted", "sent", "received", "errors", "faults",
                "plugged", "charging", "power_kw", "cpu_percent", "offline_queued", "injected",
                "timeouts", "waited_own", "response_p50_ms", "response_p99_ms"]
        for k in keys:
            head += [f"{k}.count", f"{k}.p50_ms", f"{k}.p95_ms", f"{k}.p99_ms"]
        with open(self.path / "timeseries.csv", "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(head)
            for st in intervals:
                g, c = st.gauges, st.counts
                row: list[Any] = [
                    round(st.t_s, 3), self._iso(g.get("sim_time_s", 0.0)),
                    int(g.get("connected", 0)), int(g.get("booted", 0)), c.get("sent", 0),
                    c.get("received", 0), c.get("errors", 0), c.get("faults", 0),
                    int(g.get("plugged", 0)), int(g.get("charging", 0)),
                    round(g.get("power_kw", 0.0), 3), round(g.get("cpu_percent", 0.0), 1),
                    int(g.get("offline_queued", 0)), c.get("injected", 0),
                    c.get("timeouts", 0), c.get("waited_own", 0)]
                resp = st.hists.get(RESPONSE_KEY)
                row += ([round(resp.percentile_ms(50), 3), round(resp.percentile_ms(99), 3)]
                        if resp is not None and resp.count else ["", ""])
                for k in keys:
                    h = st.hists.get(k)
                    if h is None or not h.count:
                        row += [0, "", "", ""]
                    else:
                        row += [h.count, round(h.percentile_ms(50), 3),
                                round(h.percentile_ms(95), 3), round(h.percentile_ms(99), 3)]
                w.writerow(row)
