"""SLO expressions: ``2.0.1/TransactionEvent.p99 > 500ms`` → :class:`Slo`.

An SLO is a ``--fail-on`` condition: the run FAILS when the expression holds.
Grammar (whitespace between tokens is optional)::

    slo        := reference operator threshold
    operator   := ">" | ">=" | "<" | "<=" | "==" | "!="
    reference  := version "/" Action "." [figure "."] action_metric
                                                          2.0.1/TransactionEvent.p99
                                                          2.0.1/Authorize.service.p99
                | "actions." [figure "."] action_metric   over all actions (= */*)
                | "error_rate"                            short for actions.error_rate
                | section "." key                         generator.valid, stations.booted
    version    := "1.6" | "2.0.1" | "2.1" | "*"           "*": every version
    Action     := an OCPP action name | "*"               "*": every action
    figure     := service | response | queued         default: the headline (service)
    action_metric := p50 | p90 | p95 | p99 | p999 (or p99.9) | max | mean   latency
                | count | errors | error_rate             (no figure before these)
    section    := generator | stations | messages | sessions | errors
    threshold  := number unit   latency metrics need a unit: us, ms or s (500ms, 0.5 s)
                | number ["%"]  error_rate: 0.1% or the fraction 0.001; *_percent keys
                | number        counts; keys named *_ms take a bare ms number or a unit
                | true | false  generator.valid (== and != only)

A latency without a figure is the headline figure, ``service`` (sent → answer: the CSMS's
time); ``response`` runs from when the call was due (it includes the station's own
queueing), ``queued`` from due to sent. ``generator.pipes_saturated`` is true when calls
waited behind their own station's calls (the run is then invalid too).
``count`` is the calls made (``calls`` in summary.json, else ``sent``), ``errors`` those
that failed, ``error_rate`` their ratio. ``errors.<kind>`` names a key of ``summary.errors.by_kind`` (``errors.timeout``,
``errors.CALLERROR:FormationViolation``) or ``errors.total``; a kind that never
happened counts 0. Malformed expressions raise :class:`SloError`, one line naming
the column and the token at fault.
"""

from __future__ import annotations

import difflib
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from fleetsim.exceptions import FleetsimError
from fleetsim.report.results import FIGURES, LATENCY_METRICS
from fleetsim.report.units import TIME_UNITS_MS, parse_rate

__all__ = ["ACTION_METRICS", "OPERATORS", "SECTION_KEYS", "Kind", "Slo", "SloError",
           "parse_slo", "parse_slos"]

OPERATORS: Final = (">=", "<=", "==", "!=", ">", "<")
VERSIONS: Final = ("1.6", "2.0.1", "2.1", "*")
ACTION_METRICS: Final = (*LATENCY_METRICS, "count", "errors", "error_rate")

#: Keys of ``summary.json`` sections an SLO may name (``errors`` also takes any kind).
SECTION_KEYS: Final[Mapping[str, tuple[str, ...]]] = {
    "generator": ("valid", "pipes_saturated", "busy_machine", "loop_lag_p50_ms",
                  "loop_lag_p99_ms", "loop_lag_max_ms", "calls_first", "calls_retried",
                  "late_sends", "late_send_p99_ms", "cpu_percent", "calls_sent",
                  "calls_answered", "calls_callerror", "calls_timed_out", "calls_interrupted"),
    "stations": ("planned", "connected_max", "booted", "failed"),
    "messages": ("sent", "received"),
    "sessions": ("planned", "started", "completed", "energy_kwh"),
    "errors": ("total",),
}

_COMPARE: Final[Mapping[str, Callable[[Any, Any], Any]]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
    "==": operator.eq, "!=": operator.ne,
}
_TOKEN = re.compile(r"\s*(?:(?P<op>>=|<=|==|!=|>|<)|(?P<word>[^\s<>=!]+))")
_NUMBER = re.compile(r"^([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(\S*)$")
_ACTION = re.compile(r"^(?:[A-Za-z][A-Za-z0-9]*|\*)$")


class SloError(FleetsimError):
    """An SLO expression is malformed; the message names the column and the bad token."""

    def __init__(self, expression: str, column: int, problem: str) -> None:
        self.expression, self.column, self.problem = expression, column, problem
        super().__init__(f"SLO {expression!r}: column {column}: {problem}")


class Kind(Enum):
    """What a metric's threshold is and how it is written."""

    LATENCY = "latency"  # [ms]; the threshold needs us, ms or s
    MILLIS = "millis"    # [ms]; a bare number is ms, a unit is allowed
    RATE = "rate"        # a fraction; written 0.1% or 0.001
    PERCENT = "percent"  # [%]; written 90 or 90%
    NUMBER = "number"    # a plain number, no unit
    BOOL = "bool"        # true or false; only == and !=

    @property
    def unit(self) -> str:
        """The unit observed values and thresholds are reported in (rates as %)."""
        return {"latency": "ms", "millis": "ms", "rate": "%", "percent": "%"}.get(self.value, "")


@dataclass(frozen=True, slots=True)
class Slo:
    """One parsed SLO: FAIL when ``<subject>.<metric> <operator> <threshold>`` holds.

    ``subject`` is an action pattern (``"2.0.1/TransactionEvent"``, ``"*/Heartbeat"``,
    ``"*/*"``) or a section name (``"generator"``); ``threshold`` is in ms for
    latencies, a fraction for rates, else as written.
    """

    expression: str
    subject: str
    metric: str
    operator: str
    threshold: float | bool
    kind: Kind
    figure: str | None = None
    """The latency figure (service, response, queued); None: the headline."""

    @property
    def is_action(self) -> bool:
        return "/" in self.subject

    def holds(self, observed: float | bool) -> bool:
        """Whether the FAIL condition holds for ``observed`` (NaN never compares true)."""
        return bool(_COMPARE[self.operator](observed, self.threshold))


def parse_slos(expressions: Iterable[str]) -> list[Slo]:
    """Parse several expressions, failing on the first malformed one."""
    return [parse_slo(e) for e in expressions]


def parse_slo(expression: str) -> Slo:
    """Parse one expression of the grammar above; :class:`SloError` if malformed."""
    text = expression.strip()
    tokens = _tokens(text)
    if not tokens or tokens[0][0] != "word":
        raise SloError(text, 1, "expected a metric such as 2.0.1/TransactionEvent.p99 first")
    (_, ref, ref_col), rest = tokens[0], tokens[1:]
    if not rest or rest[0][0] != "op":
        col = rest[0][2] if rest else len(text) + 1
        raise SloError(text, col, f"expected an operator ({', '.join(OPERATORS)}) after {ref!r}")
    (_, op, op_col), rest = rest[0], rest[1:]
    if not rest or any(kind != "word" for kind, _, _ in rest):
        col = next((c for k, _, c in rest if k != "word"), op_col + len(op))
        raise SloError(text, col, "expected one threshold such as 500ms, 1%, 1000 or false")
    subject, metric, kind, figure = _reference(text, ref, ref_col)
    value_col = rest[0][2]
    value = text[value_col - 1:].strip()
    if kind is Kind.BOOL and op not in ("==", "!="):
        raise SloError(text, op_col, f"{ref} is true or false: compare it with == or !=")
    threshold = _threshold(text, value, value_col, kind)
    return Slo(text, subject, metric, op, threshold, kind, figure)


def _tokens(text: str) -> list[tuple[str, str, int]]:
    """(kind, text, 1-based column) per token; SloError on a stray character."""
    tokens, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            col = pos + 1 + (len(text[pos:]) - len(text[pos:].lstrip()))
            raise SloError(text, col, f"unexpected {text[col - 1:col + 9]!r}")
        kind = "op" if m.group("op") else "word"
        tokens.append((kind, m.group(kind), m.start(kind) + 1))
        pos = m.end()
    return tokens


def _reference(text: str, ref: str, col: int) -> tuple[str, str, Kind, str | None]:
    """``ref`` → (subject, metric, kind, figure)."""
    if "/" in ref:
        version, _, rest = ref.partition("/")
        if version not in VERSIONS:
            raise SloError(text, col, f"unknown OCPP version {version!r} (use 1.6, 2.0.1, 2.1 or *)")
        action, dot, metric = rest.partition(".")
        action_col = col + len(version) + 1
        if not _ACTION.match(action):
            raise SloError(text, action_col, f"bad action name {action!r} (e.g. TransactionEvent or *)")
        if not dot:
            raise SloError(text, action_col + len(action),
                           f"missing '.<metric>' after {ref!r} (e.g. {ref}.p99)")
        return _action_metric(text, f"{version}/{action}", metric, action_col + len(action) + 1)
    if ref == "error_rate":
        return "*/*", "error_rate", Kind.RATE, None
    section, dot, key = ref.partition(".")
    if section == "actions" and dot:
        return _action_metric(text, "*/*", key, col + len("actions."))
    if section not in SECTION_KEYS or not dot:
        known = "<version>/<Action>.<metric>, actions.<metric>, error_rate, " + ", ".join(
            f"{s}.<key>" for s in SECTION_KEYS)
        raise SloError(text, col, f"unknown metric {ref!r} (use {known})")
    key_col = col + len(section) + 1
    if section == "errors":
        if not key:
            raise SloError(text, key_col, "expected errors.total or errors.<kind>")
        return section, key, Kind.NUMBER, None
    if key not in SECTION_KEYS[section]:
        raise SloError(text, key_col, f"unknown key {key!r} in {section}{_suggest(key, SECTION_KEYS[section])}")
    if key in ("valid", "pipes_saturated", "busy_machine"):
        return section, key, Kind.BOOL, None
    if key.endswith("_ms"):
        return section, key, Kind.MILLIS, None
    return section, key, Kind.PERCENT if key.endswith("_percent") else Kind.NUMBER, None


def _action_metric(text: str, subject: str, metric: str,
                   col: int) -> tuple[str, str, Kind, str | None]:
    figure: str | None = None
    head, dot, rest = metric.partition(".")
    if dot and head in FIGURES:
        figure, metric, col = head, rest, col + len(head) + 1
    metric = "p999" if metric == "p99.9" else metric
    if figure is not None and metric not in LATENCY_METRICS:
        raise SloError(text, col, f"{figure} is a latency figure: name a latency after it "
                                  f"({', '.join(LATENCY_METRICS)}), e.g. {figure}.p99")
    if metric not in ACTION_METRICS:
        raise SloError(text, col, f"unknown metric {metric!r}{_suggest(metric, ACTION_METRICS)}")
    if metric in LATENCY_METRICS:
        return subject, metric, Kind.LATENCY, figure
    return subject, metric, Kind.RATE if metric == "error_rate" else Kind.NUMBER, figure


def _threshold(text: str, value: str, col: int, kind: Kind) -> float | bool:
    if kind is Kind.BOOL:
        if value.lower() not in ("true", "false"):
            raise SloError(text, col, f"expected true or false, got {value!r}")
        return value.lower() == "true"
    if kind is Kind.RATE:
        try:
            return parse_rate(value)
        except ValueError as exc:
            raise SloError(text, col, str(exc)) from None
    m = _NUMBER.match(value)
    if m is None:
        raise SloError(text, col, f"expected a number, got {value!r}")
    number, unit = float(m.group(1)), m.group(2)
    unit_col = col + len(value) - len(unit)
    if kind in (Kind.LATENCY, Kind.MILLIS):
        if unit in TIME_UNITS_MS:
            return number * TIME_UNITS_MS[unit]
        if kind is Kind.MILLIS and not unit:
            return number
        if not unit:
            raise SloError(text, col, f"{value!r} needs a unit: us, ms or s (e.g. 500ms)")
        raise SloError(text, unit_col, f"unknown unit {unit!r}: use us, ms or s (e.g. 500ms)")
    if unit and not (kind is Kind.PERCENT and unit == "%"):
        raise SloError(text, unit_col, f"unexpected unit {unit!r}: this metric is a plain number")
    return number


def _suggest(word: str, choices: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f" ({hint}use {', '.join(choices)})"
