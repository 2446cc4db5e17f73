"""The results folder's names and its ``summary.json``, read into frozen dataclasses.

``summary.json`` is written by the run; the report only reads it. Every problem
raises :class:`ResultsError` with one line naming the file and the key path, e.g.
``results/x/summary.json: actions.2.0.1/Heartbeat.count: expected a number, got 'ten'``.

Action keys are ``"<version>/<Action>"`` (``"2.0.1/TransactionEvent"``). An action's
``count`` is its number of latency samples; ``calls`` (else ``sent``, else ``count``) the
calls made (first attempts), answered or not; ``errors`` how many of those finally failed
(CALLERROR, timeout, ...), so ``error_rate = errors / calls``. Without samples the
latencies are NaN whatever the file says (a CSMS that never answers must not look fast).

Each action has three latency figures (:data:`FIGURES`): ``service`` (sent → answer, the
CSMS's time), ``response`` (due → answer, coordinated omission corrected) and ``queued``
(due → sent). The top-level ``*_ms`` repeat the headline figure (``figure``: service).
Runs written before the figures existed have only top-level ``*_ms``, measured due →
answer: they read as the ``response`` figure and as the headline.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import orjson

from fleetsim.exceptions import ResultsError

__all__ = [
    "FIGURES",
    "HEADLINE",
    "HISTOGRAMS",
    "JUNIT",
    "LATENCY_METRICS",
    "PLOTS",
    "REPORT",
    "SCENARIO",
    "SESSIONS",
    "SLO_JSON",
    "SUMMARY",
    "TIMESERIES",
    "ActionStats",
    "RunSummary",
    "StormFigures",
    "load_summary",
    "parse_summary",
    "read_json",
    "read_text",
]

SUMMARY: Final = "summary.json"
HISTOGRAMS: Final = "histograms.json"
TIMESERIES: Final = "timeseries.csv"
SESSIONS: Final = "sessions.csv"
SCENARIO: Final = "scenario.yaml"
SLO_JSON: Final = "slo.json"
JUNIT: Final = "junit.xml"
REPORT: Final = "report.html"
PLOTS: Final = "plots"

#: Latency metrics of an action → the percentile they stand for (None: max and mean).
LATENCY_METRICS: Final[Mapping[str, float | None]] = {
    "p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0, "p999": 99.9, "max": None, "mean": None,
}


#: The latency figures of an action, and the one the top-level ``*_ms`` repeat.
FIGURES: Final = ("service", "response", "queued")
HEADLINE: Final = "service"


@dataclass(frozen=True, slots=True)
class ActionStats:
    """One ``"<version>/<Action>"`` entry of ``summary.json``; latencies in ms (NaN: none).

    ``latency_ms`` is the headline figure; ``figures`` each figure the run wrote."""

    key: str
    count: int
    calls: int
    errors: int
    errors_by_kind: Mapping[str, int]
    latency_ms: Mapping[str, float]
    figures: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    censored: int = 0    # timeouts among the samples, counted at the time they were given up
    waited_own: int = 0  # calls that queued > 1 ms behind their own station's earlier calls

    def latency(self, figure: str | None = None) -> Mapping[str, float]:
        """``figure``'s latencies (None: the headline); NaN when the run did not write it."""
        if figure is None:
            return self.latency_ms
        return self.figures.get(figure) or dict.fromkeys(LATENCY_METRICS, math.nan)

    @property
    def version(self) -> str:
        return self.key.partition("/")[0]

    @property
    def action(self) -> str:
        return self.key.partition("/")[2]

    @property
    def error_rate(self) -> float:
        """``errors / calls`` as a fraction; NaN without calls."""
        return self.errors / self.calls if self.calls else math.nan


@dataclass(frozen=True, slots=True)
class StormFigures:
    """How fast the fleet came back after one injected fault (``storm`` in summary.json);
    times in seconds after the event, NaN when not reached within its window."""

    event: str
    event_at_s: float
    disconnected: int
    connected_before: float
    t_99_connected_s: float
    t_100_connected_s: float
    t_all_accepted_s: float
    offline_replay: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class RunSummary:
    """``summary.json`` as read. Sections the run did not write are empty mappings;
    ``completed`` is False (with a ``failure`` reason) when the run stopped early."""

    scenario: str
    completed: bool
    failure: str | None
    seed: int | None
    started_at: str
    duration_s: float
    time_factor: float
    fleetsim_version: str
    scenario_file: str
    versions: Mapping[str, int]
    stations: Mapping[str, float]
    messages: Mapping[str, float]
    actions: Mapping[str, ActionStats]
    errors: Mapping[str, float]
    errors_by_kind: Mapping[str, int]
    generator: Mapping[str, float | bool]
    generator_warnings: tuple[str, ...]
    sessions: Mapping[str, float]
    faults_injected: Mapping[str, int] = field(default_factory=dict)  # by kind
    fault_events: tuple[Mapping[str, Any], ...] = ()  # kind, at_s, stations, …
    storm: StormFigures | None = None  # the biggest event's figures
    storm_events: tuple[StormFigures, ...] = ()
    pipes: Mapping[str, Any] = field(default_factory=dict)  # the station-pipe self-check
    connect: Mapping[str, Mapping[str, float]] = field(default_factory=dict)  # by version
    boot: Mapping[str, Any] = field(default_factory=dict)  # boot recovery
    # what the CSMS said when it refused (summary.json → csms_said): callerrors (action,
    # code, description, count), refusals ("<action> <status>" → count), refused_id_tags
    csms_said: Mapping[str, Any] = field(default_factory=dict)

    @property
    def generator_valid(self) -> bool:
        """False when the load generator itself was the bottleneck (numbers are suspect)."""
        return bool(self.generator.get("valid", True))


def read_text(path: Path) -> str:
    """One UTF-8 file of the folder; ResultsError naming it when missing or unreadable."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResultsError(f"{path}: missing (not a fleetsim results folder?)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{path}: cannot read: {exc}") from None


def read_json(path: Path) -> Any:
    """Parse one JSON file; ResultsError naming it when missing or not JSON."""
    try:
        return orjson.loads(read_text(path))
    except orjson.JSONDecodeError as exc:
        raise ResultsError(f"{path}: not valid JSON: {exc}") from None


def load_summary(results_dir: Path) -> RunSummary:
    """Read ``results_dir/summary.json``; ResultsError naming the file on any problem."""
    path = Path(results_dir) / SUMMARY
    return parse_summary(read_json(path), file=str(path))


def parse_summary(doc: object, *, file: str = SUMMARY) -> RunSummary:
    """Validate a summary document (as loaded from JSON, or the run's own dict)."""
    fields = _Fields(file)
    root = fields.mapping(doc, "")
    actions_doc = fields.mapping(root.get("actions"), "actions")
    actions = {key: _action(fields, key, value) for key, value in actions_doc.items()}
    errors = fields.mapping(root.get("errors", {}), "errors")
    generator = fields.mapping(root.get("generator", {}), "generator")
    warnings = generator.get("warnings", [])
    if not isinstance(warnings, list) or not all(isinstance(w, str) for w in warnings):
        raise fields.error("generator.warnings", "expected a list of strings", warnings)
    if not isinstance(generator.get("valid", True), bool):
        raise fields.error("generator.valid", "expected true or false", generator.get("valid"))
    seed = root.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise fields.error("seed", "expected an integer", seed)
    failure = root.get("failure")
    if failure is not None and not isinstance(failure, str):
        raise fields.error("failure", "expected a string or null", failure)
    return RunSummary(
        scenario=fields.string(root.get("scenario"), "scenario"),
        completed=bool(root.get("completed", True)),
        failure=failure,
        seed=seed,
        started_at=str(root.get("started_at", "")),
        duration_s=fields.number(root.get("duration_s", math.nan), "duration_s"),
        time_factor=fields.number(root.get("time_factor", 1), "time_factor"),
        fleetsim_version=str(root.get("fleetsim_version", "")),
        scenario_file=str(root.get("scenario_file", "")),
        versions={k: int(fields.number(v, f"versions.{k}"))
                  for k, v in fields.mapping(root.get("versions", {}), "versions").items()},
        stations=fields.numbers(root.get("stations", {}), "stations"),
        messages=fields.numbers(root.get("messages", {}), "messages"),
        actions=actions,
        errors=fields.numbers({k: v for k, v in errors.items() if k != "by_kind"}, "errors"),
        errors_by_kind=fields.counts(errors.get("by_kind", {}), "errors.by_kind"),
        generator={k: (v if isinstance(v, bool) else fields.number(v, f"generator.{k}"))
                   for k, v in generator.items()
                   if k not in ("warnings", "after_ramp")},  # after_ramp: a section of its own
        generator_warnings=tuple(warnings),
        sessions=fields.numbers(root.get("sessions", {}), "sessions"),
        pipes=fields.mapping(root.get("pipes", {}), "pipes"),
        connect={v: fields.numbers(c, f"connect.{v}")
                 for v, c in fields.mapping(root.get("connect", {}), "connect").items()},
        boot=fields.mapping(root.get("boot", {}), "boot"),
        **_faults(fields, root),
        csms_said=fields.mapping(root.get("csms_said", {}), "csms_said"),
    )


def _faults(fields: _Fields, root: Mapping[str, Any]) -> dict[str, Any]:
    """``faults_injected``, ``storm`` and ``storm_events`` (absent in runs without faults)."""
    doc = fields.mapping(root.get("faults_injected", {}), "faults_injected")
    events = doc.get("events", [])
    if not isinstance(events, list):
        raise fields.error("faults_injected.events", "expected a list", events)
    parsed_events = []
    for i, e in enumerate(events):
        where = f"faults_injected.events[{i}]"
        m = fields.mapping(e, where)
        parsed_events.append({"kind": fields.string(m.get("kind"), f"{where}.kind"),
                              **fields.numbers({k: v for k, v in m.items() if k != "kind"},
                                               where)})
    storms = root.get("storm_events", [])
    if not isinstance(storms, list):
        raise fields.error("storm_events", "expected a list", storms)
    storm = root.get("storm")
    return {
        "faults_injected": fields.counts(doc.get("by_kind", {}), "faults_injected.by_kind"),
        "fault_events": tuple(parsed_events),
        "storm": None if storm is None else _storm(fields, storm, "storm"),
        "storm_events": tuple(_storm(fields, x, f"storm_events[{i}]")
                              for i, x in enumerate(storms)),
    }


def _storm(fields: _Fields, value: object, where: str) -> StormFigures:
    m = fields.mapping(value, where)

    def seconds(key: str) -> float:  # null: never reached in the event's window
        v = m.get(key)
        return math.nan if v is None else fields.number(v, f"{where}.{key}")

    replay = fields.mapping(m.get("offline_replay", {}), f"{where}.offline_replay")
    return StormFigures(
        event=fields.string(m.get("event", ""), f"{where}.event"),
        event_at_s=fields.number(m.get("event_at_s"), f"{where}.event_at_s"),
        disconnected=int(fields.number(m.get("disconnected", 0), f"{where}.disconnected")),
        connected_before=fields.number(m.get("connected_before", 0), f"{where}.connected_before"),
        t_99_connected_s=seconds("t_99_connected_s"),
        t_100_connected_s=seconds("t_100_connected_s"),
        t_all_accepted_s=seconds("t_all_accepted_s"),
        offline_replay={k: (math.nan if v is None else fields.number(
            v, f"{where}.offline_replay.{k}")) for k, v in replay.items()},
    )


def _action(fields: _Fields, key: str, value: object) -> ActionStats:
    where = f"actions.{key}"
    version, slash, action = key.partition("/")
    if not slash or not version or not action:
        raise fields.error(where, "action keys look like '2.0.1/TransactionEvent'", key)
    entry = fields.mapping(value, where)
    count = int(fields.number(entry.get("count", 0), f"{where}.count"))
    latency = _latencies(fields, entry, where, count)
    figures = {}
    for figure in FIGURES:
        if figure in entry:
            sub = fields.mapping(entry[figure], f"{where}.{figure}")
            n = int(fields.number(sub.get("count", 0), f"{where}.{figure}.count"))
            figures[figure] = _latencies(fields, sub, f"{where}.{figure}", n)
    if not figures:  # an older run: one figure, measured due → answer
        figures["response"] = latency
    queued = entry.get("queued")
    causes = queued.get("by_cause", {}) if isinstance(queued, Mapping) else {}
    own = causes.get("own_calls", {}) if isinstance(causes, Mapping) else {}
    return ActionStats(
        key=key,
        count=count,
        calls=int(fields.number(entry.get("calls", entry.get("sent", count)), f"{where}.calls")),
        errors=int(fields.number(entry.get("errors", 0), f"{where}.errors")),
        errors_by_kind=fields.counts(entry.get("errors_by_kind", {}), f"{where}.errors_by_kind"),
        latency_ms=latency,
        figures=figures,
        censored=int(fields.number(entry.get("censored", 0), f"{where}.censored")),
        waited_own=int(fields.number(own.get("calls", 0) if isinstance(own, Mapping) else 0,
                                     f"{where}.queued.by_cause.own_calls.calls")),
    )


def _latencies(fields: _Fields, entry: Mapping[str, Any], where: str,
               count: int) -> dict[str, float]:
    out = {}
    for metric in LATENCY_METRICS:
        raw = entry.get(f"{metric}_ms")
        known = raw is not None and count > 0
        out[metric] = fields.number(raw, f"{where}.{metric}_ms") if known else math.nan
    return out


class _Fields:
    """Typed access to JSON values whose errors name the file and key path."""

    def __init__(self, file: str) -> None:
        self.file = file

    def error(self, where: str, problem: str, value: object) -> ResultsError:
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        return ResultsError(f"{self.file}: {where or '(top level)'}: {problem}, got {shown}")

    def mapping(self, value: object, where: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            what = "missing" if value is None else "expected an object"
            raise self.error(where, what, value)
        return value

    def number(self, value: object, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(where, "expected a number", value)
        return float(value)

    def string(self, value: object, where: str) -> str:
        if not isinstance(value, str):
            raise self.error(where, "expected a string", value)
        return value

    def numbers(self, value: object, where: str) -> dict[str, float]:
        return {k: self.number(v, f"{where}.{k}") for k, v in self.mapping(value, where).items()}

    def counts(self, value: object, where: str) -> dict[str, int]:
        return {k: int(v) for k, v in self.numbers(value, where).items()}
