"""The run-errors gate: what failed, in words; what was declared expected does not fail."""

from __future__ import annotations

from typing import Any

import pytest

from fleetsim.exceptions import ScenarioError
from fleetsim.report.run_errors import run_errors
from fleetsim.scenario import parse_scenario
from fleetsim.scenario.expect import check_expected


def _summary(booted: int = 10, **errors: dict[str, int]) -> dict[str, Any]:
    return {"stations": {"planned": 10, "booted": booted},
            "actions": {k: {"errors_by_kind": v} for k, v in errors.items()}}


def test_a_clean_run_has_nothing_to_say() -> None:
    assert run_errors(_summary(**{"1.6/Heartbeat": {}})) == ([], [])


def test_each_failure_is_named() -> None:
    failing, expected = run_errors(_summary(
        booted=7, **{"1.6/Heartbeat": {"CALLERROR:NotImplemented": 5, "timeout": 2},
                     "1.6/Authorize": {"CALLERROR:NotImplemented": 1,
                                       "CALLERROR:InternalError": 1, "interrupted": 4}}))
    assert expected == []
    assert failing == ["3 of 10 stations that sent a BootNotification never booted",
                       "2 calls timed out (1.6/Heartbeat 2)",
                       "6 CALLERROR NotImplemented (1.6/Heartbeat 5, 1.6/Authorize 1)",
                       "1 CALLERROR InternalError (1.6/Authorize 1)"]


@pytest.mark.parametrize(("expect", "left"), [
    (["callerror:NotImplemented"], ["1 CALLERROR InternalError (x 1)"]),
    (["callerror"], []),
    (["all"], []),
    (["timeout"], ["1 CALLERROR InternalError (x 1)", "2 CALLERROR NotImplemented (x 2)"]),
])
def test_expected_errors_do_not_fail(expect: list[str], left: list[str]) -> None:
    failing, expected = run_errors(_summary(x={"CALLERROR:NotImplemented": 2,
                                               "CALLERROR:InternalError": 1}), expect)
    assert sorted(failing) == sorted(left)
    assert len(failing) + len(expected) == 2


def test_expect_errors_is_validated_in_the_scenario() -> None:
    assert check_expected(["unbooted", "timeout", "callerror", "callerror:X", "all"]) is None
    for bad in ("timeouts", "unbooted:x", "callerror:"):
        assert check_expected([bad]) is not None
    s = parse_scenario({"stations": {"count": 1}, "expect_errors": ["callerror:NotImplemented"]})
    assert s.expect_errors == ("callerror:NotImplemented",)
    with pytest.raises(ScenarioError, match="expect_errors"):
        parse_scenario({"stations": {"count": 1}, "expect_errors": ["nonsense"]})


def test_only_stations_that_sent_a_boot_are_judged() -> None:
    """A station its engine started as the run ended never reached the CSMS."""
    failing, _ = run_errors(_summary(booted=7), booting=8)
    assert failing == ["1 of 8 stations that sent a BootNotification never booted"]
    assert run_errors(_summary(booted=7), booting=7) == ([], [])
