"""OCPP-J framing (OCPP-J 1.6 §4, OCPP 2.0.1 part 4 §4): encode and classify frames.

``[2, id, action, payload]`` CALL, ``[3, id, payload]`` CALLRESULT,
``[4, id, code, description, details]`` CALLERROR; OCPP 2.1 adds
``[5, id, code, description, details]`` CALLRESULTERROR and ``[6, id, action,
payload]`` SEND (part 4 §4.2.4, §4.2.5). Parsing never raises: garbage
comes back as a :class:`Malformed` with a kind for the fault counters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

__all__ = ["Call", "CallError", "CallResult", "CallResultError", "Malformed", "Send",
           "encode_call", "encode_error", "encode_result", "encode_result_error", "encode_send",
           "parse_frame"]

MAX_ID_LEN = 36  # OCPP-J: message id is a string of at most 36 characters


@dataclass(frozen=True, slots=True)
class Call:
    msg_id: str
    action: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallResult:
    msg_id: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallError:
    msg_id: str
    code: str
    description: str


@dataclass(frozen=True, slots=True)
class CallResultError:
    """2.1: the peer could not process a CALLRESULT we sent."""

    msg_id: str
    code: str
    description: str


@dataclass(frozen=True, slots=True)
class Send:
    """2.1: an unconfirmed message; never answered."""

    msg_id: str
    action: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Malformed:
    kind: str  # malformed_json, bad_frame, unknown_message_type
    msg_id: str | None = None


Frame = Call | CallResult | CallError | CallResultError | Send | Malformed


def encode_call(msg_id: str, action: str, payload: dict[str, Any]) -> bytes:
    return orjson.dumps([2, msg_id, action, payload])


def encode_result(msg_id: str, payload: dict[str, Any]) -> bytes:
    return orjson.dumps([3, msg_id, payload])


def encode_error(msg_id: str, code: str, description: str = "") -> bytes:
    return orjson.dumps([4, msg_id, code, description[:255], {}])


def encode_send(msg_id: str, action: str, payload: dict[str, Any]) -> bytes:
    return orjson.dumps([6, msg_id, action, payload])


def encode_result_error(msg_id: str, code: str, description: str = "") -> bytes:
    return orjson.dumps([5, msg_id, code, description[:255], {}])


def parse_frame(data: str | bytes) -> Frame:
    """Classify one received text frame; never raises."""
    try:
        msg = orjson.loads(data)
    except orjson.JSONDecodeError:
        return Malformed("malformed_json")
    if type(msg) is not list or len(msg) < 3:
        return Malformed("bad_frame")
    kind, msg_id = msg[0], msg[1]
    if type(msg_id) is not str or not msg_id or len(msg_id) > MAX_ID_LEN:
        return Malformed("bad_message_id")
    if kind == 3:
        payload = msg[2]
        if len(msg) != 3 or type(payload) is not dict:
            return Malformed("bad_frame", msg_id)
        return CallResult(msg_id, payload)
    if kind == 2:
        if len(msg) != 4 or type(msg[2]) is not str or type(msg[3]) is not dict:
            return Malformed("bad_frame", msg_id)
        return Call(msg_id, msg[2], msg[3])
    if kind == 5:  # 2.1 only: [5, id, errorCode, errorDescription, {errorDetails}] exactly;
        # never answered, so a malformed one is a counted fault without a reply
        if (len(msg) != 5 or type(msg[2]) is not str or not msg[2] or type(msg[3]) is not str
                or type(msg[4]) is not dict):
            return Malformed("bad_frame")
        return CallResultError(msg_id, msg[2], msg[3])
    if kind == 4:
        if len(msg) < 4 or type(msg[2]) is not str:
            return Malformed("bad_frame", msg_id)
        desc = msg[3] if type(msg[3]) is str else ""
        return CallError(msg_id, msg[2], desc)
    if kind == 6:
        if len(msg) != 4 or type(msg[2]) is not str or type(msg[3]) is not dict:
            return Malformed("bad_frame", msg_id)
        return Send(msg_id, msg[2], msg[3])
    return Malformed("unknown_message_type", msg_id)
