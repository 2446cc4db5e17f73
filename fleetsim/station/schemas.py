"""The official OCPP JSON schemas shipped inside the ``ocpp`` package, compiled fast.

Used by the tests (every message fleetsim sends must validate) and by strict
mode. Schemas are found on disk without importing ``ocpp`` (which would pull in
jsonschema), compiled once per action with fastjsonschema (~10× faster than
jsonschema) and cached.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastjsonschema

from fleetsim.scenario.model import OcppVersion

__all__ = ["SchemaViolation", "has_schema", "schema_dir", "validate", "validator"]

SchemaViolation = fastjsonschema.JsonSchemaException

_DIRS = {OcppVersion.V16: "v16", OcppVersion.V201: "v201", OcppVersion.V21: "v21"}


@functools.cache
def schema_dir(version: OcppVersion) -> Path:
    spec = importlib.util.find_spec("ocpp")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the ocpp package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / _DIRS[version] / "schemas"


def _file(version: OcppVersion, action: str, response: bool) -> Path:
    d = schema_dir(version)
    if version is OcppVersion.V16:
        return d / (f"{action}Response.json" if response else f"{action}.json")
    if not response and not (d / f"{action}Request.json").exists():
        return d / f"{action}.json"  # 2.1 SEND messages have no Request/Response pair
    return d / (f"{action}Response.json" if response else f"{action}Request.json")


@functools.cache
def validator(version: OcppVersion, action: str,
              response: bool = False) -> Callable[[Any], Any] | None:
    """Compiled validator for a request (or response) payload; None if no such action."""
    path = _file(version, action, response)
    if not path.exists():
        return None
    schema = json.loads(path.read_text(encoding="utf-8-sig"))  # 2.x files may start with a BOM
    schema.pop("$schema", None)  # draft-04/06 ids: fastjsonschema treats both alike
    compiled: Callable[[Any], Any] = fastjsonschema.compile(schema)
    return compiled


@functools.cache
def has_schema(version: OcppVersion, action: str) -> bool:
    """Whether ``action`` is an OCPP action of ``version`` (known, maybe unsupported)."""
    return _file(version, action, False).exists()


def validate(version: OcppVersion, action: str, payload: Any, *, response: bool = False) -> None:
    """Raise :data:`SchemaViolation` (or KeyError for an unknown action) if invalid."""
    v = validator(version, action, response)
    if v is None:
        raise KeyError(f"no OCPP {version.value} schema for {action}")
    v(payload)
