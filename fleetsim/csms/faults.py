"""CALLERROR codes, spelled as each OCPP version spells them.

OCPP-J 1.6 §4.2.3 keeps two typos on purpose (errata 5.1, 5.2):
``FormationViolation`` and ``OccurenceConstraintViolation``. OCPP 2.0.1/2.1
Part 4 §4.3 spells them ``FormatViolation`` and ``OccurrenceConstraintViolation``
and adds ``MessageTypeNotSupported`` and ``RpcFrameworkError``, which 1.6
lacks (there they fall back to the nearest 1.6 code).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

import orjson

from fleetsim.csms.versions import OcppVersion

__all__ = ["Fault", "FaultKind"]


class FaultKind(enum.Enum):
    """Why a CALL is answered with a CALLERROR, independent of spelling."""

    FORMAT = "format"
    """Payload syntactically wrong or not the PDU's structure (unknown field)."""
    OCCURRENCE = "occurrence"
    """A required field is missing or an array has too few/many items."""
    TYPE = "type"
    """A field has the wrong data type, length or format (e.g. dateTime)."""
    PROPERTY = "property"
    """A field's value is outside its allowed values (enum, range)."""
    PROTOCOL = "protocol"
    NOT_IMPLEMENTED = "not_implemented"
    """The action is not known to the receiver."""
    NOT_SUPPORTED = "not_supported"
    """The action is known but not supported by the receiver (e.g. a CSMS-only action)."""
    INTERNAL = "internal"
    MESSAGE_TYPE_NOT_SUPPORTED = "message_type_not_supported"
    RPC_FRAMEWORK = "rpc_framework"


_COMMON: dict[FaultKind, tuple[str, str]] = {
    FaultKind.TYPE: (
        "TypeConstraintViolation",
        "Payload for Action is syntactically correct but at least one of the fields "
        "violates data type constraints",
    ),
    FaultKind.PROPERTY: (
        "PropertyConstraintViolation",
        "Payload is syntactically correct but at least one field contains an invalid value",
    ),
    FaultKind.NOT_IMPLEMENTED: ("NotImplemented", "Requested Action is not known by receiver"),
    FaultKind.NOT_SUPPORTED: (
        "NotSupported",
        "Requested Action is recognized but not supported by the receiver",
    ),
    FaultKind.INTERNAL: (
        "InternalError",
        "An internal error occurred and the receiver was not able to process the "
        "requested Action successfully",
    ),
}

_OCCURRENCE = (
    "Payload for Action is syntactically correct but at least one of the fields "
    "violates occurrence constraints"
)

_V16: dict[FaultKind, tuple[str, str]] = {
    **_COMMON,
    FaultKind.FORMAT: (
        "FormationViolation",
        "Payload for Action is syntactically incorrect or not conform the PDU structure for Action",
    ),
    FaultKind.OCCURRENCE: ("OccurenceConstraintViolation", _OCCURRENCE),
    FaultKind.PROTOCOL: ("ProtocolError", "Payload for Action is incomplete"),
    FaultKind.MESSAGE_TYPE_NOT_SUPPORTED: ("GenericError", "Unknown MessageTypeId"),
    FaultKind.RPC_FRAMEWORK: ("ProtocolError", "Message is not a valid OCPP-J CALL"),
}

_V2: dict[FaultKind, tuple[str, str]] = {
    **_COMMON,
    FaultKind.FORMAT: ("FormatViolation", "Payload for Action is syntactically incorrect"),
    FaultKind.OCCURRENCE: ("OccurrenceConstraintViolation", _OCCURRENCE),
    FaultKind.PROTOCOL: ("ProtocolError", "Payload for Action is not conform the PDU structure"),
    FaultKind.MESSAGE_TYPE_NOT_SUPPORTED: (
        "MessageTypeNotSupported",
        "A message with a Message Type Number received that is not supported by this "
        "implementation",
    ),
    FaultKind.RPC_FRAMEWORK: (
        "RpcFrameworkError",
        "Content of the call is not a valid RPC Request",
    ),
}


@dataclass(frozen=True, slots=True)
class Fault:
    """One CALLERROR to send: its code and description as the version spells them."""

    code: str
    description: str
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, version: OcppVersion, kind: FaultKind, cause: str | None = None) -> Fault:
        """The fault of ``kind`` in ``version``'s spelling; ``cause`` goes into errorDetails."""
        code, description = (_V2 if version.is_v2 else _V16)[kind]
        return cls(code, description, {"cause": cause} if cause else {})

    def frame(self, unique_id: str) -> str:
        """The CALLERROR frame ``[4, id, code, description, details]`` (OCPP-J §4.2.3)."""
        message = [4, unique_id, self.code, self.description, self.details]
        return orjson.dumps(message).decode()
