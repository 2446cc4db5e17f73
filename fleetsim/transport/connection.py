"""One station's WebSocket: websockets' sans-I/O client protocol on an asyncio transport.

Steady state is callbacks only — no task, future or queue per message — which is
what lets one uvloop loop carry thousands of stations. websockets does the RFC
6455 work (handshake, masking, ping/pong, close); this module pumps bytes
between the socket, that protocol and the station core.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import Callable, Iterable
from time import monotonic
from typing import TYPE_CHECKING, cast

from websockets.client import ClientProtocol
from websockets.exceptions import NegotiationError, PayloadTooBig, ProtocolError
from websockets.extensions.permessage_deflate import enable_client_permessage_deflate
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

from fleetsim.station.core import StationCore

if TYPE_CHECKING:
    from fleetsim.transport.faults import LinkShaper

__all__ = ["MAX_FRAME_BYTES", "StationConnection", "describe_failure", "drop_tracebacks", "tls_detail"]

MAX_FRAME_BYTES = 1 << 20  # a larger frame from the CSMS is a fault, not a memory bomb

_HTTP_HINTS = {401: "the CSMS refused the credentials (wrong password? security profile 1/2)",
               403: "the CSMS refused this station (client certificate CN or station id?)",
               404: "no such path on the CSMS (check url_template)"}


def describe_failure(kind: str, detail: str | None = None) -> str:
    """A connect failure kind (``http_401``, ``tls_error``, …) in words, with its detail."""
    if kind.startswith("http_") and kind[5:].isdigit():
        code = int(kind[5:])
        text = f"HTTP {code}" + (f" {detail}" if detail else "")
        hint = _HTTP_HINTS.get(code)
        return f"{text}: {hint}" if hint else text
    text = kind.replace("_", " ")
    if kind == "tls_error":
        text = "TLS error"
    return f"{text}: {detail}" if detail else text


def tls_detail(exc: BaseException) -> str:
    """What an SSL failure was about, e.g. ``certificate verify failed: self-signed …``."""
    if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_message:
        return f"certificate verify failed: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason).lower().replace("_", " ")
    return str(exc) or type(exc).__name__


class _Silence:
    """The shaper of a link gone silent (fault ``pong_timeout``): nothing leaves."""

    def send(self, frames: list[bytes]) -> None:
        pass


SILENCE = _Silence()


class StationConnection(asyncio.Protocol):
    """Carries one station's OCPP-J frames; reports open/close to ``on_state``."""

    # rare state on the class until set: an idle connection stays small
    shaper: LinkShaper | _Silence | None = None
    """Injected faults on outgoing frames (transport/faults.py); None: none."""
    injected: str | None = None
    """Set when the fault injector took this link down (clean, dirty, pong_timeout)."""
    _ping_timer: asyncio.TimerHandle | None = None
    _pong_timer: asyncio.TimerHandle | None = None
    _ping_every = (0.0, 0.0)

    def __init__(self, station: StationCore, uri: str, subprotocol: str, *,
                 loop: asyncio.AbstractEventLoop, on_open: Callable[[], None],
                 on_lost: Callable[[str], None], after_io: Callable[[], None],
                 password: str | None = None, compression: bool = False) -> None:
        self.station, self.loop = station, loop
        # csms.compression: offer permessage-deflate (RFC 7692; websockets' defaults)
        self.ws = ClientProtocol(parse_uri(uri), subprotocols=[Subprotocol(subprotocol)],
                                 max_size=MAX_FRAME_BYTES,
                                 extensions=enable_client_permessage_deflate(None)
                                 if compression else None)
        self.compression = compression
        self.subprotocol = subprotocol
        self.password = password
        self.transport: asyncio.Transport | None = None
        self.opened = False
        self.failure: str | None = None
        self.detail: str | None = None   # e.g. the TLS alert or the HTTP reason phrase
        self._on_open, self._on_lost, self._after_io = on_open, on_lost, after_io
        self._parts: list[bytes] = []

    # asyncio.Protocol -----------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        request = self.ws.connect()
        if self.password is not None:  # OCPP security profile 1: HTTP Basic, id:password
            token = base64.b64encode(f"{self.station.station_id}:{self.password}".encode())
            request.headers["Authorization"] = "Basic " + token.decode()
        self.ws.send_request(request)
        self._write()

    def data_received(self, data: bytes) -> None:
        ws = self.ws
        if self.opened:  # bytes of WebSocket frames; the HTTP upgrade is not OCPP traffic
            self.station.rec.wire.rx_wire += len(data)
        ws.receive_data(data)
        self._events()
        if self.opened:
            self.flush()
        self._write()
        if ws.state is State.CLOSED and self.transport is not None:
            self.transport.close()
        self._after_io()

    def _events(self) -> None:
        """Hand what websockets parsed to the station core (frames) or the handshake."""
        now = monotonic()
        station = self.station
        wire = station.rec.wire
        for ev in self.ws.events_received():
            if type(ev) is Frame:
                op = ev.opcode
                if op is Opcode.TEXT or op is Opcode.BINARY or op is Opcode.CONT:
                    if not ev.fin or self._parts:
                        self._parts.append(bytes(ev.data))
                        if not ev.fin:
                            continue
                        payload, self._parts = b"".join(self._parts), []
                    else:
                        payload = bytes(ev.data) if type(ev.data) is not bytes else ev.data
                    wire.rx_payload += len(payload)
                    station.on_frame(payload, now)
                elif op is Opcode.PONG and self._pong_timer is not None:
                    self._pong_timer.cancel()  # the link is alive (WebSocketPingInterval)
                    self._pong_timer = None
            elif type(ev) is Response:
                self._handshake(ev)

    def eof_received(self) -> bool | None:
        self.ws.receive_eof()
        # an HTTP answer without Content-Length (``403 Access denied``, then close) ends
        # only at EOF: websockets yields it now, so drain it before judging the failure
        self._events()
        if not self.opened and self.failure is None and self.ws.uri.secure:
            # TLS 1.3: a CSMS refusing our client certificate (profile 3) closes the
            # connection after the handshake, before any HTTP answer; the alert is not
            # surfaced as an exception, so say what it almost always is
            self.failure = "tls_error"
            self.detail = ("the CSMS closed the connection before answering the WebSocket "
                           "upgrade (client certificate refused?)")
        self._write()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self._ping_timer is not None:
            self._ping_timer.cancel()
        if self._pong_timer is not None:
            self._pong_timer.cancel()
        if self.failure is None:
            if not self.opened and isinstance(exc, ssl.SSLError):
                # TLS 1.3: a server that refuses our client certificate says so only now
                self.failure, self.detail = "tls_error", tls_detail(exc)
            elif isinstance(self.ws.parser_exc, PayloadTooBig):
                self.failure = "frame_too_large"
            elif isinstance(self.ws.parser_exc, ProtocolError | UnicodeDecodeError) \
                    and self.ws.close_rcvd is None:
                self.failure = "protocol_violation"
            else:  # the TCP connection ended without a close frame too (EOFError): 1006
                self.failure = "connection_lost" if self.opened else "handshake_failed"
        self._on_lost(self.failure)
        _unlink(self.ws)

    # station side ---------------------------------------------------------------
    def flush(self) -> None:
        """Send every frame the station core produced."""
        out = self.station.out
        if out:
            if self.ws.state is not State.OPEN:  # closing: the in-flight CALL is replayed later
                out.clear()
                return
            if self.shaper is not None:  # injected faults: drop, duplicate, delay, latency
                self.shaper.send(out)
                out.clear()
                return
            if self.compression:  # per-action wire bytes: write frame by frame
                self._send_counted(out)
                out.clear()
                return
            send = self.ws.send_text
            wire = self.station.rec.wire
            for frame in out:
                wire.tx_payload += len(frame)
                send(frame)
            out.clear()
            self._write()

    def _send_counted(self, frames: Iterable[bytes]) -> None:
        wire = self.station.rec.wire
        for frame in frames:
            wire.tx_payload += len(frame)
            self.ws.send_text(frame)
            n = self._write()
            if self.compression:
                wire.sent_frame(frame, n)

    def send_frames(self, frames: Iterable[bytes]) -> None:
        """Send frames now (the shaper releasing what it held); dropped once closing."""
        if self.transport is None or self.ws.state is not State.OPEN or self.shaper is SILENCE:
            return
        self._send_counted(frames)

    def start_pings(self, interval_s: float, timeout_s: float) -> None:
        """WebSocketPingInterval (1.6 key, 2.0.1 OCPPCommCtrlr): ping every ``interval_s``;
        no pong within ``timeout_s`` and the station drops the link (``ping_timeout``)."""
        self._ping_every = (interval_s, timeout_s)
        self._ping_timer = self.loop.call_later(interval_s, self._ping)

    def go_silent(self) -> None:
        """Fault ``pong_timeout``: from now on nothing is read or sent but our pings, so
        only the station's own liveness check notices the dead link."""
        self.shaper = SILENCE
        if self.transport is not None:
            self.transport.pause_reading()

    def close(self) -> None:
        """Start a clean close handshake (code 1000)."""
        if self.transport is not None and self.ws.state is State.OPEN:
            self.ws.send_close(1000, "fleetsim run finished")
            self._write()

    def abort(self, why: str) -> None:
        """Drop the TCP connection now (no close frame)."""
        self.failure = self.failure or why
        if self.transport is not None:
            self.transport.abort()

    # internals ------------------------------------------------------------------
    def _ping(self) -> None:
        self._ping_timer = None
        if self.transport is None or self.ws.state is not State.OPEN:
            return
        interval_s, timeout_s = self._ping_every
        if self._pong_timer is None:
            self.ws.send_ping(b"fleetsim")
            self._write()
            self._pong_timer = self.loop.call_later(timeout_s, self._pong_missing)
        self._ping_timer = self.loop.call_later(interval_s, self._ping)

    def _pong_missing(self) -> None:
        self._pong_timer = None
        self.abort("ping_timeout")

    def _handshake(self, response: Response) -> None:
        if self.ws.handshake_exc is not None:
            response._exception = None  # websockets: it and its InvalidStatus, a cycle
            if response.status_code == 101:  # upgraded, but with what we cannot accept
                self.failure = ("compression_negotiation_failed"
                                if isinstance(self.ws.handshake_exc, NegotiationError)
                                else "handshake_failed")
                self.detail = str(self.ws.handshake_exc)
                if self.transport is not None:
                    self.transport.close()
                return
            self.failure = f"http_{response.status_code}"
            self.detail = response.reason_phrase or None
            if self.transport is not None:
                self.transport.close()
            return
        if self.ws.subprotocol != self.subprotocol:
            self.failure = "subprotocol_refused"
            self.abort(self.failure)
            return
        if self.compression and not self.ws.extensions:
            self.station.rec.fault("compression_refused")  # RFC 7692: it may; we count it
        # websockets' parser keeps the upgrade response alive for the connection's life
        # (a local of its generator); its headers are ~2 KiB a station and read by no one
        response.headers.clear()
        self.opened = True
        self._on_open()

    def _write(self) -> int:
        """Write what the protocol has to send; the bytes written."""
        t = self.transport
        if t is None or t.is_closing():  # aborted: connection_lost comes on the next tick
            return 0
        n = 0
        for chunk in self.ws.data_to_send():
            if chunk:
                n += len(chunk)
                t.write(chunk)
            elif t.can_write_eof():
                t.write_eof()
        if self.opened:
            self.station.rec.wire.tx_wire += n
        return n


def _unlink(ws: ClientProtocol) -> None:
    """Break the reference cycles of a closed connection's protocol: websockets' parser
    is a generator whose frame holds the protocol that holds it, and a dropped link keeps
    its ``EOFError`` (whose traceback holds that frame) as ``parser_exc``. So every lost
    connection was cyclic garbage: 14 objects the collector had to find, and, once the
    fleet's connections had been frozen, never found (kept until the run ended, issue 18).
    Closed, the parser lets go of its frame and the protocol is freed by reference
    counting."""
    ws.parser.close()
    drop_tracebacks(ws.handshake_exc)  # a refused upgrade: its frames hold it (below)
    ws.parser_exc = ws.handshake_exc = None


def drop_tracebacks(exc: BaseException | None) -> None:
    """Let a caught exception go by reference counting: its traceback holds the frames
    it passed through, and those hold it again. A refused or timed-out connect (the
    loop's list of connect errors, the finished ``wait_for`` task) was ~40 objects of
    cyclic garbage with the station's connection; a refused upgrade (websockets' parser
    is suspended in the ``except`` that caught it) ~20. Once frozen, they stayed until
    the run ended (issue 18)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        exc.__traceback__ = None
        exc = exc.__context__
