"""Typed, path-tracking access to a YAML mapping, so every error names its key path.

A :class:`Node` wraps one mapping loaded from a file. Each accessor consumes a key;
:meth:`Node.finish` then rejects keys nobody asked for (typos), suggesting the
closest known key.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from fleetsim.exceptions import ScenarioError

__all__ = ["Node", "parse_duration_s"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)?\s*$")
_UNIT_S = {None: 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration_s(value: object) -> float:
    """``45``, ``"45s"``, ``"5m"``, ``"2h"``, ``"1d"``, ``"250ms"`` → seconds; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like 30s, 5m or 2h")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        m = _DURATION.match(value)
        if m:
            return float(m.group(1)) * _UNIT_S[m.group(2)]
    raise ValueError(f"expected a duration like 30s, 5m or 2h, got {value!r}")


class Node:
    """One mapping in a scenario file, with its key path for error messages."""

    def __init__(self, data: object, *, file: str, path: str = "") -> None:
        self.file, self.path = file, path
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise self.error(f"expected a mapping, got {type(data).__name__}")
        self.data: Mapping[Any, Any] = data
        self._seen: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def error(self, problem: str, name: str | None = None) -> ScenarioError:
        return ScenarioError(self.file, self.key(name) if name else self.path, problem)

    def has(self, name: str) -> bool:
        return name in self.data

    def raw(self, name: str, default: Any = None) -> Any:
        self._seen.add(name)
        return self.data.get(name, default)

    def child(self, name: str) -> Node:
        return Node(self.raw(name), file=self.file, path=self.key(name))

    def number(self, name: str, default: float | None = None, *, minimum: float | None = None,
               maximum: float | None = None, exclusive_min: bool = False) -> float:
        v = self.raw(name, default)
        if v is None:
            raise self.error("is required", name)
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise self.error(f"expected a number, got {v!r}", name)
        self._check_range(name, float(v), minimum, maximum, exclusive_min)
        return float(v)

    def integer(self, name: str, default: int | None = None, *, minimum: int | None = None,
                maximum: int | None = None) -> int:
        v = self.raw(name, default)
        if v is None:
            raise self.error("is required", name)
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.error(f"expected a whole number, got {v!r}", name)
        self._check_range(name, v, minimum, maximum, False)
        return v

    def duration_s(self, name: str, default: object = None, *, minimum: float = 0.0,
                   positive: bool = False) -> float:
        v = self.raw(name, default)
        if v is None:
            raise self.error("is required", name)
        try:
            s = parse_duration_s(v)
        except ValueError as exc:
            raise self.error(str(exc), name) from None
        self._check_range(name, s, minimum, None, positive)
        return s

    def string(self, name: str, default: str | None = None, *, choices: tuple[str, ...] = ()) -> str:
        v = self.raw(name, default)
        if v is None:
            raise self.error("is required", name)
        if not isinstance(v, str):
            raise self.error(f"expected text, got {v!r}", name)
        if choices and v not in choices:
            raise self.error(f"must be one of {', '.join(choices)}; got {v!r}", name)
        return v

    def boolean(self, name: str, default: bool) -> bool:
        v = self.raw(name, default)
        if not isinstance(v, bool):
            raise self.error(f"expected true or false, got {v!r}", name)
        return v

    def timestamp(self, name: str, default: str) -> datetime:
        v = self.raw(name, default)
        if isinstance(v, datetime):
            return v if v.tzinfo else v.replace(tzinfo=UTC)
        if not isinstance(v, str):
            raise self.error(f"expected an ISO 8601 time, got {v!r}", name)
        try:
            t = datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError:
            raise self.error(f"expected an ISO 8601 time like 2026-01-05T06:00:00Z, got {v!r}",
                             name) from None
        return t if t.tzinfo else t.replace(tzinfo=UTC)

    def string_list(self, name: str) -> tuple[str, ...]:
        v = self.raw(name, [])
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise self.error("expected a list of text items", name)
        return tuple(v)

    def finish(self) -> None:
        """Reject keys that no accessor consumed: they are typos or unsupported."""
        for k in self.data:
            if k not in self._seen:
                close = difflib.get_close_matches(str(k), sorted(self._seen), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise self.error(f"unknown key{hint}", str(k))

    def _check_range(self, name: str, v: float, lo: float | None, hi: float | None,
                     exclusive_lo: bool) -> None:
        if lo is not None and (v < lo or (exclusive_lo and v <= lo)):
            raise self.error(f"must be {'>' if exclusive_lo else '>='} {lo:g}, got {v:g}", name)
        if hi is not None and v > hi:
            raise self.error(f"must be <= {hi:g}, got {v:g}", name)
