"""Validation of incoming payloads against the JSON schemas shipped inside ``ocpp``.

The schemas are the library's own files (``ocpp/v16/schemas``,
``ocpp/v201/schemas``, ``ocpp/v21/schemas``), compiled lazily with
fastjsonschema: about ten times faster than the library's jsonschema path,
which also runs on a thread pool and maps almost every failure to
FormatViolation (wrong in 1.6, which spells it FormationViolation) or
ProtocolError. Here the failing JSON-schema keyword picks the CALLERROR the
spec names (OCPP-J 1.6 §4.2.3, OCPP 2.0.1 Part 4 §4.3):

==========================================  ==============================
schema keyword that failed                  CALLERROR
==========================================  ==============================
payload not an object, additionalProperties  FormatViolation (1.6: FormationViolation)
required, minItems, maxItems                 OccurrenceConstraintViolation (1.6: Occurence...)
type, maxLength, minLength, format, pattern  TypeConstraintViolation
enum, minimum, maximum, multipleOf, const    PropertyConstraintViolation
==========================================  ==============================
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastjsonschema
import ocpp

from fleetsim.csms.faults import Fault, FaultKind
from fleetsim.csms.versions import OcppVersion

__all__ = ["request_schema_path", "response_problem", "validate_request"]

_SCHEMA_ROOT = Path(ocpp.__file__).parent

_KIND_BY_RULE: dict[str, FaultKind] = {
    "required": FaultKind.OCCURRENCE,
    "minItems": FaultKind.OCCURRENCE,
    "maxItems": FaultKind.OCCURRENCE,
    "uniqueItems": FaultKind.OCCURRENCE,
    "minProperties": FaultKind.OCCURRENCE,
    "maxProperties": FaultKind.OCCURRENCE,
    "type": FaultKind.TYPE,
    "maxLength": FaultKind.TYPE,
    "minLength": FaultKind.TYPE,
    "format": FaultKind.TYPE,
    "pattern": FaultKind.TYPE,
    "enum": FaultKind.PROPERTY,
    "const": FaultKind.PROPERTY,
    "minimum": FaultKind.PROPERTY,
    "maximum": FaultKind.PROPERTY,
    "exclusiveMinimum": FaultKind.PROPERTY,
    "exclusiveMaximum": FaultKind.PROPERTY,
    "multipleOf": FaultKind.PROPERTY,
}


def request_schema_path(version: OcppVersion, action: str, *, send: bool = False) -> Path:
    """The library's schema file for a station's request (or 2.1 SEND message)."""
    folder = _SCHEMA_ROOT / ("v" + version.label.replace(".", "")) / "schemas"
    if version.is_v2 and not send:
        return folder / f"{action}Request.json"
    return folder / f"{action}.json"


@functools.cache
def _validator(version: OcppVersion, action: str, send: bool) -> Callable[[Any], Any]:
    path = request_schema_path(version, action, send=send)
    # The 2.x schema files start with a UTF-8 byte order mark.
    schema = json.loads(path.read_text(encoding="utf-8-sig"))
    validate: Callable[[Any], Any] = fastjsonschema.compile(schema, use_default=False)
    return validate


def validate_request(
    version: OcppVersion, action: str, payload: Any, *, send: bool = False
) -> Fault | None:
    """Check ``payload`` of a request ``action`` against its schema.

    Returns None if it is valid, else the :class:`Fault` to answer with. The
    action must be one the library has a schema for (callers route first).
    The first failing keyword decides the code.
    """
    if not isinstance(payload, dict):
        return Fault.of(version, FaultKind.FORMAT, "payload must be a JSON object")
    try:
        _validator(version, action, send)(payload)
    except fastjsonschema.JsonSchemaValueException as exc:
        kind = _KIND_BY_RULE.get(exc.rule or "", FaultKind.FORMAT)
        return Fault.of(version, kind, exc.message.replace("data", "payload", 1))
    return None


@functools.cache
def _response_validator(version: OcppVersion, action: str) -> Callable[[Any], Any]:
    folder = _SCHEMA_ROOT / ("v" + version.label.replace(".", "")) / "schemas"
    schema = json.loads((folder / f"{action}Response.json").read_text(encoding="utf-8-sig"))
    validate: Callable[[Any], Any] = fastjsonschema.compile(schema, use_default=False)
    return validate


def response_problem(version: OcppVersion, action: str, payload: Any) -> str | None:
    """What is wrong with a station's response to our ``action`` (None: it is valid)."""
    try:
        _response_validator(version, action)(payload)
    except fastjsonschema.JsonSchemaValueException as exc:
        return exc.message.replace("data", "payload", 1)
    return None
