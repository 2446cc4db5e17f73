"""SLO grammar: every documented form parses; malformed ones name column and token."""

from __future__ import annotations

import pytest

from fleetsim.exceptions import FleetsimError
from fleetsim.report.slo import Kind, SloError, parse_slo, parse_slos


@pytest.mark.parametrize(("text", "subject", "metric", "op", "threshold", "kind"), [
    ("2.0.1/TransactionEvent.p99 > 500ms", "2.0.1/TransactionEvent", "p99", ">", 500.0, Kind.LATENCY),
    ("*/Heartbeat.p95 > 1s", "*/Heartbeat", "p95", ">", 1000.0, Kind.LATENCY),
    ("1.6/StartTransaction.p50 >= 0.2s", "1.6/StartTransaction", "p50", ">=", 200.0, Kind.LATENCY),
    ("2.1/BootNotification.max>250us", "2.1/BootNotification", "max", ">", 0.25, Kind.LATENCY),
    ("2.0.1/*.p99.9 > 2 s", "2.0.1/*", "p999", ">", 2000.0, Kind.LATENCY),
    ("error_rate > 0.1%", "*/*", "error_rate", ">", 0.001, Kind.RATE),
    ("error_rate > 0.001", "*/*", "error_rate", ">", 0.001, Kind.RATE),
    ("2.0.1/TransactionEvent.error_rate > 1%", "2.0.1/TransactionEvent", "error_rate", ">", 0.01,
     Kind.RATE),
    ("actions.count < 100", "*/*", "count", "<", 100.0, Kind.NUMBER),
    ("actions.mean > 20ms", "*/*", "mean", ">", 20.0, Kind.LATENCY),
    ("1.6/MeterValues.errors != 0", "1.6/MeterValues", "errors", "!=", 0.0, Kind.NUMBER),
    ("generator.valid == false", "generator", "valid", "==", False, Kind.BOOL),
    ("generator.loop_lag_p99_ms > 50", "generator", "loop_lag_p99_ms", ">", 50.0, Kind.MILLIS),
    ("generator.loop_lag_max_ms > 0.5s", "generator", "loop_lag_max_ms", ">", 500.0, Kind.MILLIS),
    ("generator.cpu_percent > 90%", "generator", "cpu_percent", ">", 90.0, Kind.PERCENT),
    ("stations.booted < 1000", "stations", "booted", "<", 1000.0, Kind.NUMBER),
    ("errors.connection_lost > 10", "errors", "connection_lost", ">", 10.0, Kind.NUMBER),
    ("errors.CALLERROR:FormationViolation > 0", "errors", "CALLERROR:FormationViolation", ">",
     0.0, Kind.NUMBER),
    ("  sessions.completed <= 1e3 ", "sessions", "completed", "<=", 1000.0, Kind.NUMBER),
])
def test_valid_forms_parse(text: str, subject: str, metric: str, op: str,
                           threshold: float | bool, kind: Kind) -> None:
    slo = parse_slo(text)
    assert (slo.subject, slo.metric, slo.operator, slo.kind) == (subject, metric, op, kind)
    assert slo.threshold == pytest.approx(threshold) if not isinstance(threshold, bool) else (
        slo.threshold is threshold)
    assert slo.expression == text.strip()


@pytest.mark.parametrize(("text", "column", "fragment"), [
    ("2.0.1/TransactionEvent.p98 > 500ms", 24, "unknown metric 'p98'"),
    ("1.7/Heartbeat.p95 > 1s", 1, "unknown OCPP version '1.7'"),
    ("2.0.1/Transaction-Event.p99 > 1s", 7, "bad action name"),
    ("2.0.1/TransactionEvent > 1s", 23, "missing '.<metric>'"),
    ("2.0.1/TransactionEvent.p99 > 500", 30, "needs a unit"),
    ("2.0.1/TransactionEvent.p99 > 500min", 33, "unknown unit 'min'"),
    ("2.0.1/TransactionEvent.p99 500ms", 28, "expected an operator"),
    ("2.0.1/TransactionEvent.p99 >", 29, "expected one threshold"),
    ("2.0.1/TransactionEvent.p99 > > 1s", 30, "expected one threshold"),
    ("error_rate > 5", 14, "ambiguous rate '5'"),
    ("error_rate > lots", 14, "expected a percentage"),
    ("generator.vaild == false", 11, "did you mean 'valid'"),
    ("generator.valid > 0", 17, "compare it with == or !="),
    ("generator.valid == maybe", 20, "expected true or false"),
    ("stations.booted < 1000ms", 23, "plain number"),
    ("latency.p99 > 1s", 1, "unknown metric 'latency.p99'"),
    ("> 1s", 1, "expected a metric"),
    ("", 1, "expected a metric"),
    ("stations.booted < 10 & 1", 19, "expected a number, got '10 & 1'"),
    ("stations.booted < 10 !", 22, "unexpected '!'"),
])
def test_malformed_expressions_point_at_the_bad_token(text: str, column: int, fragment: str) -> None:
    with pytest.raises(SloError) as info:
        parse_slo(text)
    message = str(info.value)
    assert fragment in message
    assert f"column {column}:" in message
    assert "\n" not in message
    assert isinstance(info.value, FleetsimError)


def test_parse_slos_stops_at_the_first_bad_expression() -> None:
    assert len(parse_slos(["error_rate > 1%", "stations.failed > 0"])) == 2
    with pytest.raises(SloError, match="p98"):
        parse_slos(["error_rate > 1%", "*/Heartbeat.p98 > 1s"])


def test_holds_means_fail() -> None:
    slo = parse_slo("2.0.1/TransactionEvent.p99 > 500ms")
    assert slo.holds(612.0)
    assert not slo.holds(500.0)
    assert not slo.holds(float("nan"))


@pytest.mark.parametrize(("text", "figure", "metric"), [
    ("2.0.1/Authorize.service.p99 > 200ms", "service", "p99"),
    ("*/*.response.p99.9 > 2s", "response", "p999"),
    ("actions.queued.max > 1s", "queued", "max"),
    ("2.0.1/Authorize.p99 > 200ms", None, "p99"),
])
def test_a_latency_can_name_its_figure(text: str, figure: str | None, metric: str) -> None:
    slo = parse_slo(text)
    assert (slo.figure, slo.metric, slo.kind) == (figure, metric, Kind.LATENCY)


def test_a_figure_names_only_latencies_and_pipes_saturated_is_a_flag() -> None:
    with pytest.raises(SloError, match="service is a latency figure"):
        parse_slo("2.0.1/Authorize.service.count > 1")
    slo = parse_slo("generator.pipes_saturated == true")
    assert (slo.kind, slo.threshold) == (Kind.BOOL, True)
