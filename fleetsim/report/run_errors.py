"""A failed run is loud without SLOs (Locust's ``--exit-code-on-error`` convention).

By default ``fleetsim run`` fails (exit 3, see :mod:`fleetsim.report.exitcodes`)
when stations never booted, calls timed out or CALLERRORs came back, and prints
one verdict line naming each. A scenario's ``expect_errors:`` (or ``fleetsim run
--expect-errors``) lists what a run may see without failing:

* ``unbooted``: stations that never got a BootNotification Accepted;
* ``timeout``: calls the CSMS never answered within the call timeout;
* ``callerror``: any CALLERROR; ``callerror:<Code>`` only that code (e.g. a CSMS that
  answers ``NotImplemented`` on purpose);
* ``all``: everything above.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["booting_stations", "run_errors"]

def run_errors(summary: Mapping[str, Any], expected: Iterable[str] = (), *,
               booting: int | None = None) -> tuple[list[str], list[str]]:
    """What went wrong in a run, in words: (failing, expected). Both empty: a clean run.

    ``booting``: the stations that sent a BootNotification (messages.csv); a station that
    never got that far (its engine started as the run ended) gave the CSMS no chance.
    """
    allowed = set(expected)
    every = "all" in allowed
    failing: list[str] = []
    tolerated: list[str] = []

    def note(kind: str, text: str) -> None:
        (tolerated if every or kind in allowed else failing).append(text)

    st = summary.get("stations", {})
    # stations that tried: a Locust run that ended before the engine started some did not
    # give the CSMS a chance to boot them
    started = int(st.get("started", st.get("planned", 0)))
    if booting is not None:
        started = min(started, booting)
    booted = int(st.get("booted", 0))
    if booted < started:
        note("unbooted", f"{started - booted} of {started} stations that sent a "
             "BootNotification never booted")
    timeouts: dict[str, int] = {}
    codes: dict[str, dict[str, int]] = {}
    for key, a in summary.get("actions", {}).items():
        for kind, n in (a.get("errors_by_kind") or {}).items():
            if kind == "timeout":
                timeouts[key] = timeouts.get(key, 0) + int(n)
            elif kind.startswith("CALLERROR:"):
                per = codes.setdefault(kind[len("CALLERROR:"):], {})
                per[key] = per.get(key, 0) + int(n)
    if timeouts:
        note("timeout", f"{sum(timeouts.values())} calls timed out ({_top(timeouts)})")
    for code, per in sorted(codes.items(), key=lambda kv: -sum(kv[1].values())):
        kind = "callerror" if "callerror" in allowed else f"callerror:{code}"
        note(kind, f"{sum(per.values())} CALLERROR {code} ({_top(per)})")
    return failing, tolerated


def _top(counts: Mapping[str, int], n: int = 3) -> str:
    items = sorted(counts.items(), key=lambda kv: -kv[1])
    text = ", ".join(f"{k} {v}" for k, v in items[:n])
    return text + (f", … {len(items) - n} more" if len(items) > n else "")


def booting_stations(messages_csv: Path) -> int | None:
    """How many stations sent at least one BootNotification (None: no messages.csv)."""
    try:
        with messages_csv.open(newline="", encoding="utf-8") as f:
            return len({r["station_id"] for r in csv.DictReader(f)
                        if r.get("action") == "BootNotification" and int(r.get("sent") or 0)})
    except (OSError, ValueError, KeyError):
        return None
