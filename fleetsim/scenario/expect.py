"""``expect_errors:``: what a run may see without failing (see report/run_errors.py)."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["KINDS", "check_expected"]

KINDS = ("unbooted", "timeout", "callerror", "all")


def check_expected(items: Iterable[str]) -> str | None:
    """The first malformed entry, described; None if all are valid."""
    for item in items:
        kind, _, code = item.partition(":")
        if kind not in KINDS or (code and kind != "callerror") or (not code and ":" in item):
            return (f"{item!r}: expected one of unbooted, timeout, callerror, "
                    "callerror:<Code> (e.g. callerror:NotImplemented), all")
    return None
