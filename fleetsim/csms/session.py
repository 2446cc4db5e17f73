"""The CSMS end of one station's connection, on top of ``ocpp``'s ChargePoint.

Handlers are the library's: methods routed with ``@on`` (see :func:`route`)
that take the payload as snake_case keyword arguments and return a
``call_result`` dataclass. This class replaces the library's receive path,
which is wrong or slow for a server under load:

* framing: malformed frames and unknown MessageTypeIds get the CALLERROR
  OCPP-J names (2.x: RpcFrameworkError with id ``-1`` when no id is
  readable, MessageTypeNotSupported); the library only logs them;
* routing: an unknown action is answered NotImplemented and a CSMS-only
  action NotSupported (OCPP-J §4.2.3; the library does the reverse, and
  answers nothing at all for 2.1);
* validation: requests are checked by :mod:`fleetsim.csms.schemas` (the
  library's schema files) before routing, with the spec's error codes;
* dispatch: the library's key conversions, memoised per key (its regexes
  were a third of the CPU per message), no ``inspect.signature`` per call,
  no deep copies, responses framed with orjson, no per-message logging;
* one counter per CALL in the ledger, with whether it got a CALLERROR.

OCPP 2.1 SEND messages (MessageTypeId 6) are validated, counted and never
answered. CALLRESULT/CALLERROR frames go to the library's ``call()`` when a
CSMS-initiated CALL is waiting (so ``await session.call(...)`` works) and are
dropped otherwise.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar, cast

import orjson
from ocpp.charge_point import ChargePoint, camel_to_snake_case, snake_to_camel_case
from ocpp.exceptions import OCPPError
from ocpp.messages import CallError, CallResult
from ocpp.routing import on
from websockets.asyncio.server import ServerConnection

from fleetsim.csms.backend import Backend
from fleetsim.csms.faults import Fault, FaultKind
from fleetsim.csms.schemas import validate_request
from fleetsim.csms.versions import SEND_ACTIONS, OcppVersion

__all__ = ["MALFORMED", "StationSession", "route"]

_LOGGER = logging.getLogger("fleetsim.csms.ocpp")

MALFORMED = "<malformed>"
"""The action name under which frames that are not a readable CALL are counted."""

_CALL, _CALLRESULT, _CALLERROR, _CALLRESULTERROR, _SEND = 2, 3, 4, 5, 6
_SEQ_MEMORY = 64  # transactions per connection whose highest seqNo is remembered

F = TypeVar("F", bound=Callable[..., Any])


def route(action: str) -> Callable[[F], F]:
    """Register the decorated method as the handler of a station's ``action`` (``ocpp``'s ``@on``)."""
    return cast(Callable[[F], F], on(action))


class StationSession(ChargePoint):  # type: ignore[misc]  # ocpp is untyped
    """Serves one station over one WebSocket connection. Subclass per version."""

    version: ClassVar[OcppVersion]

    def __init__(self, station_id: str, connection: ServerConnection, backend: Backend) -> None:
        super().__init__(station_id, connection, response_timeout=30, logger=_LOGGER)
        self.station_id = station_id
        self.connection = connection
        self.backend = backend
        self.connection_no = backend.new_connection()
        self._last_answer: tuple[str, str, str] | None = None  # (message id, action, answer)
        self._seq_here: dict[str, int] = {}  # transaction → highest seqNo on this connection

    async def serve(self) -> None:
        """Answer the station's messages until the connection closes.

        ``websockets.ConnectionClosed`` propagates if it closes abnormally or
        while a response is being sent.
        """
        async for raw in self._connection:
            await self.route_message(raw)

    async def route_message(self, raw_msg: str | bytes) -> None:
        """Handle one frame: answer a CALL, count a SEND, hand responses to ``call()``."""
        try:
            msg = orjson.loads(raw_msg)
        except orjson.JSONDecodeError:
            await self._reject(None, MALFORMED, FaultKind.RPC_FRAMEWORK, "not valid JSON")
            return
        if not isinstance(msg, list) or len(msg) < 3 or not isinstance(msg[1], str):
            unique_id = msg[1] if isinstance(msg, list) and len(msg) > 1 else None
            cause = "not an OCPP-J message [MessageTypeId, MessageId, ...]"
            await self._reject(_as_id(unique_id), MALFORMED, FaultKind.RPC_FRAMEWORK, cause)
            return
        type_id, unique_id = msg[0], msg[1]
        if type_id in (_CALLRESULT, _CALLERROR) or (
            type_id == _CALLRESULTERROR and self.version is OcppVersion.V21
        ):
            self._receive_response(msg)
            return
        is_send = type_id == _SEND and self.version is OcppVersion.V21
        if type_id != _CALL and not is_send:
            cause = f"MessageTypeId {type_id!r} is not supported"
            await self._reject(unique_id, MALFORMED, FaultKind.MESSAGE_TYPE_NOT_SUPPORTED, cause)
            return
        if len(msg) != 4 or not isinstance(msg[2], str):
            cause = "a CALL is [2, MessageId, Action, Payload]"
            await self._reject(unique_id, MALFORMED, FaultKind.RPC_FRAMEWORK, cause)
            return
        action, payload = msg[2], msg[3]
        if is_send:
            self._receive_send(action, payload)
        else:
            await self._answer_call(unique_id, action, payload)

    async def _answer_call(self, unique_id: str, action: str, payload: Any) -> None:
        last = self._last_answer
        if last is not None and last[0] == unique_id and last[1] == action:
            # the same CALL again (same message id): answer as before, apply nothing twice
            self.backend.count_message(self.station_id, action + "(repeated)", error=False)
            await self._connection.send(last[2])
            return
        handlers = self.route_map.get(action)
        if handlers is None:
            known = action in self.version.library_actions()
            kind = FaultKind.NOT_SUPPORTED if known else FaultKind.NOT_IMPLEMENTED
            await self._reject(unique_id, action, kind, f"{action} is not handled by a CSMS")
            return
        fault = validate_request(self.version, action, payload)
        if fault is not None:
            await self._send_fault(unique_id, action, fault)
            return
        try:
            response = handlers["_on_action"](**_snake_case(payload))
            if inspect.isawaitable(response):
                response = await response
        except OCPPError as exc:  # a handler refusing on purpose, with a spec code
            await self._send_fault(unique_id, action, Fault(exc.code, exc.description, exc.details))
            return
        except Exception:
            _LOGGER.exception("%s: handler for %s failed", self.station_id, action)
            fault = Fault.of(self.version, FaultKind.INTERNAL)
            await self._send_fault(unique_id, action, fault)
            return
        result = _camel_case(_plain(response))
        self.backend.count_message(self.station_id, action, error=False)
        if self.backend.config.durable:  # acknowledge only what is committed
            self.backend.ledger.flush()
        frame = orjson.dumps([_CALLRESULT, unique_id, result]).decode()
        self._last_answer = (unique_id, action, frame)
        await self._connection.send(frame)

    def first_on_connection(self, transaction_id: str, seq_no: int) -> bool:
        """Whether this connection has not yet carried ``seq_no`` (or a later seqNo) of
        the transaction: a repeat of the latest event is then a redelivery after a
        reconnect, not a duplicate (backend.py)."""
        seen = self._seq_here
        top = seen.pop(transaction_id, -1)
        seen[transaction_id] = max(top, seq_no)
        if len(seen) > _SEQ_MEMORY:
            del seen[next(iter(seen))]  # the transaction least recently heard of
        return seq_no > top

    def _receive_response(self, msg: list[Any]) -> None:
        if not self._call_lock.locked():
            return  # no CALL of ours is waiting: a stray or late response
        if msg[0] == _CALLRESULT:
            self._response_queue.put_nowait(CallResult(msg[1], msg[2]))
        elif len(msg) >= 4:
            details = msg[4] if len(msg) > 4 else {}
            self._response_queue.put_nowait(CallError(msg[1], msg[2], msg[3], details))

    def _receive_send(self, action: str, payload: Any) -> None:
        # OCPP 2.1 Part 4 §4.2.5: a SEND is never answered, not even when invalid.
        valid = action in SEND_ACTIONS[self.version] and (
            validate_request(self.version, action, payload, send=True) is None
        )
        self.backend.count_message(self.station_id, action, error=not valid)

    async def _reject(
        self, unique_id: str | None, action: str, kind: FaultKind, cause: str
    ) -> None:
        fault = Fault.of(self.version, kind, cause)
        if unique_id is None:
            if not self.version.is_v2:  # 1.6 has no way to answer a frame without an id
                self.backend.count_message(self.station_id, action, error=True)
                return
            unique_id = "-1"  # OCPP 2.0.1 Part 4 §4.2.3: id of an unreadable message
        await self._send_fault(unique_id, action, fault)

    async def _send_fault(self, unique_id: str, action: str, fault: Fault) -> None:
        self.backend.count_message(self.station_id, action, error=True)
        await self._connection.send(fault.frame(unique_id))

    async def _send(self, message: str) -> None:
        # Used by the library's call(); its own _send logs every frame at INFO.
        await self._connection.send(message)


def _as_id(value: object) -> str | None:
    return value if isinstance(value, str) else None


@functools.lru_cache(maxsize=4096)
def _snake_key(key: str) -> str:
    converted: dict[str, Any] = camel_to_snake_case({key: None})
    return next(iter(converted))


@functools.lru_cache(maxsize=4096)
def _camel_key(key: str) -> str:
    converted: dict[str, Any] = snake_to_camel_case({key: None})
    return next(iter(converted))


def _plain(value: Any) -> Any:
    """A response dataclass as JSON-ready data without None fields.

    What ``ocpp``'s serialize_as_dict + remove_nones produce, without
    asdict's deep copies.
    """
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_plain(v) for v in value if v is not None]
    if hasattr(value, "__dataclass_fields__"):
        return {k: _plain(v) for k, v in vars(value).items() if v is not None}
    return value


def _snake_case(data: Any) -> Any:
    """``ocpp``'s camel_to_snake_case, with each key's conversion memoised."""
    if isinstance(data, dict):
        return {_snake_key(k): _snake_case(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_snake_case(v) for v in data]
    return data


def _camel_case(data: Any) -> Any:
    """``ocpp``'s snake_to_camel_case, with each key's conversion memoised."""
    if isinstance(data, dict):
        return {_camel_key(k): _camel_case(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_camel_case(v) for v in data]
    return data
