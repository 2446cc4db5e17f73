"""CSMS-initiated CALLs: route to the version's handler, answer, count; strict-mode checks.

A handler is ``handler(station, payload, now) -> response payload``; it may
queue CALLs of its own (they go out *after* the response, as TriggerMessage and
friends require) and raises :class:`Refuse` to answer with a CALLERROR. The
error codes are the spec's (OCPP-J 1.6 §4.2.3; OCPP 2.0.1 part 4 §4.3):
NotImplemented for an action the station does not know, NotSupported for one it
knows but does not support, and for a payload that fails its schema the code
of the failing keyword (1.6 spells FormationViolation and
OccurenceConstraintViolation so).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fleetsim.station.frames import Call, encode_error, encode_result

if TYPE_CHECKING:
    from fleetsim.station.core import StationCore

__all__ = ["Handler", "Refuse", "answer_call", "check_result", "const", "schema_problem"]

Payload = dict[str, Any]
Handler = Callable[[Any, Payload, float], Payload]

_KIND_BY_RULE = {
    "required": "occurrence", "minItems": "occurrence", "maxItems": "occurrence",
    "type": "type", "maxLength": "type", "minLength": "type", "format": "type",
    "pattern": "type", "enum": "property", "const": "property", "minimum": "property",
    "maximum": "property", "exclusiveMinimum": "property", "exclusiveMaximum": "property",
    "multipleOf": "property",
}
_CODES_16 = {"format": "FormationViolation", "occurrence": "OccurenceConstraintViolation",
             "type": "TypeConstraintViolation", "property": "PropertyConstraintViolation"}
_CODES_2 = {"format": "FormatViolation", "occurrence": "OccurrenceConstraintViolation",
            "type": "TypeConstraintViolation", "property": "PropertyConstraintViolation"}


def const(payload: Payload) -> Callable[[], Payload]:
    """A CALL builder that sends ``payload`` as it is."""
    return lambda: payload


class Refuse(Exception):
    """Raised by a handler: answer the CALL with CALLERROR ``code``."""

    def __init__(self, code: str, description: str = "") -> None:
        super().__init__(description or code)
        self.code, self.description = code, description


def schema_problem(st: StationCore, action: str, payload: Any, *,
                   response: bool) -> str | None:
    """The CALLERROR code a payload earns against its official schema, or None if valid."""
    from fleetsim.station.schemas import SchemaViolation, validator

    v = validator(st.spec.version, action, response)
    if v is None:
        return None
    try:
        v(payload)
    except SchemaViolation as exc:
        kind = _KIND_BY_RULE.get(getattr(exc, "rule", "") or "", "format")
        return (_CODES_16 if st.version_prefix == "1.6/" else _CODES_2)[kind]
    return None


def check_result(st: StationCore, action: str, payload: Any) -> None:
    """Strict mode: count a CALLRESULT that breaks the response schema of ``action``."""
    if schema_problem(st, action, payload, response=True) is not None:
        st.rec.violation(f"{st.version_prefix}{action}.response")


def answer_call(st: StationCore, frame: Call, now: float) -> None:
    """Answer one CALL from the CSMS: a CALLRESULT or the CALLERROR the spec names."""
    key = st.version_prefix + frame.action
    st.rec.received_call(key)
    handler = st.handlers().get(frame.action)
    if st.strict or handler is not None:
        problem = schema_problem(st, frame.action, frame.payload, response=False)
        if problem is not None:
            if st.strict:
                st.rec.violation(key + ".request")
            st.rec.fault("bad_csms_call")
            st.out.append(encode_error(frame.msg_id, problem,
                                       f"{frame.action} payload breaks its schema"))
            return
    if handler is None:
        from fleetsim.station.schemas import has_schema

        st.rec.fault("unsupported_call")
        known = has_schema(st.spec.version, frame.action)
        st.out.append(encode_error(frame.msg_id, "NotSupported" if known else "NotImplemented",
                                   f"{frame.action} is not {'supported' if known else 'implemented'}"
                                   " by fleetsim"))
        return
    try:
        reply = handler(st, frame.payload, now)
    except Refuse as r:
        st.rec.fault("refused_call")
        st.out.append(encode_error(frame.msg_id, r.code, r.description))
        return
    st.out.append(encode_result(frame.msg_id, reply))
