"""Units users write on the command line and in SLOs: latencies and rates.

Latencies are carried as float milliseconds everywhere in the report (the
histograms hold integer microseconds); rates as fractions (0.001 = 0.1 %).
"""

from __future__ import annotations

import math
import re
from typing import Final

__all__ = ["TIME_UNITS_MS", "format_ms", "format_rate", "format_value", "parse_rate"]

#: Multiplier from each accepted latency unit to milliseconds.
TIME_UNITS_MS: Final[dict[str, float]] = {"us": 0.001, "µs": 0.001, "ms": 1.0, "s": 1000.0}

_RATE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?\s*(%?)\s*$")


def parse_rate(text: str) -> float:
    """``"10%"`` → 0.1, ``"0.1"`` → 0.1. A bare number must be a fraction below 1.

    A bare ``10`` is refused rather than read as 1000 %, which would make a gate
    silently lax. Raises ValueError with a message fit for the user.
    """
    m = _RATE.match(text)
    if m is None:
        raise ValueError(f"expected a percentage like 10% or a fraction like 0.1, got {text!r}")
    number = float(text.strip().rstrip("%"))
    if m.group(2):
        return number / 100.0
    if number >= 1.0:
        raise ValueError(f"ambiguous rate {text!r}: write {number:g}% or a fraction below 1")
    return number


def format_ms(value_ms: float) -> str:
    """A latency for people: ``0.412 ms``, ``12.3 ms``, ``1.25 s``; ``-`` when unknown."""
    if math.isnan(value_ms):
        return "-"
    if value_ms >= 1000.0:
        return f"{value_ms / 1000.0:.3g} s"
    if value_ms >= 100.0:
        return f"{value_ms:.0f} ms"
    return f"{value_ms:.3g} ms"


def format_rate(fraction: float) -> str:
    """A rate as a percentage with enough digits to tell 0.01 % from 0; ``-`` when unknown."""
    if math.isnan(fraction):
        return "-"
    pct = fraction * 100.0
    if pct == 0.0:
        return "0 %"
    return f"{pct:.3g} %"


def format_value(value: float | bool | None, unit: str) -> str:
    """An SLO value as reported: ``612 ms``, ``0.2 %``, ``1000``, ``false``; ``-`` if None."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    return f"{value:.6g} {unit}".rstrip()
