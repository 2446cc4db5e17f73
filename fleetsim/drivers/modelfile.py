"""Read ``drivers_models/<name>.yaml``, apply scenario overrides, validate.

Every problem raises :class:`~fleetsim.exceptions.ModelError` naming the file and
the key path, e.g. ``drivers_models/x.yaml: arrival.weekday_profile: expected 24
numbers summing to 1``. Overrides (``drivers.overrides.<name>`` in a scenario) are
deep-merged — nested mappings or dotted keys like ``arrival.gamma_shape_r`` — and
validated the same way; errors in them name ``drivers.overrides.<name>.<key>``.

Every number in a model file must be covered by a ``source:`` — a string for the
whole mapping or a mapping key → string — that starts with a provenance tag:
[D] data-fitted, [P] published, [C] read from code, [A] assumed (ev-models.md).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from fleetsim.drivers.archetype import ArchetypeParams
from fleetsim.drivers.schema import parse_archetype
from fleetsim.exceptions import ModelError, ScenarioError
from fleetsim.scenario.reader import Node

__all__ = ["check_sources", "deep_merge", "load_archetype", "parse_model"]

_TAG = re.compile(r"^\[(D|P|A|C)\]")
_META = ("source", "notes")
_UNSOURCED = ("version",)  # file-format numbers, not model parameters


def load_archetype(path: str | Path, *, overrides: Mapping[str, Any] | None = None
                   ) -> ArchetypeParams:
    """Read, check sources, merge ``overrides`` and validate the model file at ``path``."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelError(f"{file}: cannot read: {exc.strerror or exc}") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ModelError(f"{file}: invalid YAML: {where}{problem}") from None
    return parse_model(doc, file=file, overrides=overrides)


def parse_model(doc: object, *, file: str, overrides: Mapping[str, Any] | None = None
                ) -> ArchetypeParams:
    """Validate an already-loaded model document (see :func:`load_archetype`)."""
    if not isinstance(doc, Mapping):
        raise ModelError(f"{file}: expected a mapping of sections (evse, arrival, marks, ...)")
    check_sources(doc, file=file)
    stem = Path(file).stem
    if doc.get("name") != stem:
        raise ModelError(f"{file}: name: expected {stem!r} (the file name), got {doc.get('name')!r}")
    merged: Mapping[str, Any] = doc
    over: dict[str, Any] = {}
    if overrides:
        over = _expand(overrides, where=f"drivers.overrides.{stem}")
        _check_override_keys(doc, over, where=f"drivers.overrides.{stem}")
        merged = deep_merge(doc, over)
    try:
        params = parse_archetype(Node(merged, file=file))
    except ScenarioError as exc:
        if over and any(_within(exc.path, p) for p in _leaf_paths(over)):
            raise ModelError(f"drivers.overrides.{stem}.{exc.path}: {exc.problem}") from None
        label = f"{file} (with drivers.overrides.{stem})" if over else file
        raise ModelError(f"{label}: {exc.path}: {exc.problem}") from None
    return params


def check_sources(doc: Mapping[str, Any], *, file: str) -> None:
    """Every number must be covered by a tagged ``source:`` (see the module docstring)."""
    for path, problem in _uncovered(doc, "", covered=False):
        raise ModelError(f"{file}: {path}: {problem}")


def _uncovered(node: object, path: str, *, covered: bool) -> Iterator[tuple[str, str]]:
    if isinstance(node, Mapping):
        src = node.get("source")
        keys: set[str] = set()
        if isinstance(src, str):
            if not _TAG.match(src):
                yield _join(path, "source"), "must start with [D], [P], [C] or [A]"
            covered = True
        elif isinstance(src, Mapping):
            for k, text in src.items():
                if not isinstance(text, str) or not _TAG.match(text):
                    yield _join(path, f"source.{k}"), "must be text starting with [D], [P], [C] or [A]"
                if k not in node:
                    yield _join(path, f"source.{k}"), "cites a key that is not there"
                keys.add(str(k))
        elif src is not None:
            yield _join(path, "source"), "expected text or a mapping of key → citation"
        for k, v in node.items():
            if k not in _META and k not in _UNSOURCED:
                yield from _uncovered(v, _join(path, str(k)), covered=covered or str(k) in keys)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _uncovered(item, f"{path}[{i}]", covered=covered)
    elif isinstance(node, int | float) and not isinstance(node, bool) and not covered:
        yield path, "no source: add `source:` tagged [D], [P], [C] or [A] (ev-models.md)"


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``over`` merged in: mappings recursively, anything else replaced."""
    out = dict(base)
    for k, v in over.items():
        old = out.get(k)
        out[k] = deep_merge(old, v) if isinstance(v, Mapping) and isinstance(old, Mapping) else v
    return out


def _expand(over: Mapping[str, Any], *, where: str) -> dict[str, Any]:
    """Nested dict from a mapping whose keys may be dotted (``arrival.gamma_shape_r``)."""
    out: dict[str, Any] = {}
    for key, value in over.items():
        if not isinstance(key, str) or not key or any(not part for part in key.split(".")):
            raise ModelError(f"{where}: {key!r}: expected a parameter name")
        *heads, last = key.split(".")
        cur = out
        for h in heads:
            nxt = cur.setdefault(h, {})
            if not isinstance(nxt, dict):
                raise ModelError(f"{where}.{key}: conflicts with another override")
            cur = nxt
        v = _expand(value, where=f"{where}.{key}") if isinstance(value, Mapping) else value
        cur[last] = deep_merge(cur[last], v) if isinstance(cur.get(last), dict) and isinstance(
            v, dict) else v
    return out


def _check_override_keys(doc: Mapping[str, Any], over: Mapping[str, Any], *, where: str) -> None:
    """A flat key like ``sessions_per_connector_day`` gets a did-you-mean with its full path."""
    leaves = {p.rsplit(".", 1)[-1]: p for p in _leaf_paths(doc)}
    for k in over:
        if k in doc:
            continue
        hint = leaves.get(k) or next(iter(difflib.get_close_matches(k, list(doc), n=1)), None)
        tip = f" (did you mean '{hint}'?)" if hint else f" (sections: {', '.join(sorted(doc))})"
        raise ModelError(f"{where}.{k}: unknown key{tip}")


def _leaf_paths(node: Mapping[str, Any], prefix: str = "") -> list[str]:
    out: list[str] = []
    for k, v in node.items():
        if k in _META:
            continue
        p = _join(prefix, str(k))
        out.extend(_leaf_paths(v, p) if isinstance(v, Mapping) else [p])
    return out


def _within(path: str, override_path: str) -> bool:
    return path == override_path or path.startswith((override_path + ".", override_path + "["))


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key
