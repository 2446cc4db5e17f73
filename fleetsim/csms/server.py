"""The WebSocket server: one endpoint for every OCPP version.

``ws://HOST:PORT/[prefix/]<station_id>[/]`` — the station id is the last
non-empty path segment (percent-decoded), the OCPP version the subprotocol
the station offers (the first of its offers that is supported, OCPP-J §3.1.2).
A handshake without a supported subprotocol is refused with HTTP 400, one
without a station id with HTTP 404. A station that connects again replaces
its previous connection, which is closed.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import functools
import hmac
import logging
import types
from collections.abc import Callable, Sequence
from datetime import datetime
from http import HTTPStatus
from urllib.parse import unquote, urlsplit

from websockets.asyncio.server import Server, ServerConnection
from websockets.asyncio.server import serve as ws_serve
from websockets.exceptions import ConnectionClosed, NegotiationError
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from fleetsim.csms.backend import Backend, utc_now
from fleetsim.csms.config import CsmsConfig
from fleetsim.csms.handlers_security import password_of
from fleetsim.csms.ledger import Ledger
from fleetsim.csms.session import StationSession
from fleetsim.csms.versions import OcppVersion

__all__ = ["CsmsServer", "serve", "session_class", "station_id_from_path"]

_LOGGER = logging.getLogger("fleetsim.csms")
_WS_LOGGER = logging.getLogger("fleetsim.csms.websockets")


@functools.cache
def session_class(version: OcppVersion) -> type[StationSession]:
    """The session class of ``version``, imported on its first connection.

    Each version's ``ocpp`` modules take 0.2-0.3 s to import: paid by the first
    station of that version rather than by every CSMS start.
    """
    if version is OcppVersion.V16:
        from fleetsim.csms.handlers_v16 import V16Session

        return V16Session
    from fleetsim.csms.handlers_v2 import V21Session, V201Session

    return V201Session if version is OcppVersion.V201 else V21Session


def station_id_from_path(path: str) -> str | None:
    """The station id in a request path: its last non-empty segment, or None."""
    segments = [s for s in urlsplit(path).path.split("/") if s]
    return unquote(segments[-1]) if segments else None


class CsmsServer:
    """A running CSMS: listening socket, sessions, backend and ledger.

    Use :func:`serve` to start one; :meth:`close` (or ``async with``) stops
    it, closes connections with 1001 (going away), flushes and closes the
    ledger.
    """

    def __init__(self, *, config: CsmsConfig, ledger: Ledger, backend: Backend) -> None:
        self.config = config
        self.ledger = ledger
        self.backend = backend
        self.refused = 0
        """Handshakes refused for lack of a supported subprotocol."""
        self.refused_auth = 0
        """Handshakes refused for a missing or wrong HTTP Basic password (401)."""
        self.refused_cert = 0
        """Handshakes refused because the client certificate's CN is not the station id."""
        self._server: Server | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._sessions: dict[str, StationSession] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._closed = asyncio.Event()

    @property
    def port(self) -> int:
        """The TCP port listened on (the real one when configured as 0)."""
        assert self._server is not None, "server not started"
        port: int = next(iter(self._server.sockets)).getsockname()[1]
        return port

    @property
    def url(self) -> str:
        """``ws://host:port`` (``wss://`` with TLS) — append ``/<station_id>``."""
        return f"{'wss' if self.config.tls else 'ws'}://{self.config.host}:{self.port}"

    @property
    def connected(self) -> int:
        """Stations connected right now."""
        return len(self._sessions)

    def sessions(self) -> dict[str, StationSession]:
        """The connected stations' sessions by station id (a live view: do not mutate)."""
        return self._sessions

    def session(self, station_id: str) -> StationSession | None:
        """The live session of a connected station, e.g. to ``await session.call(...)``."""
        return self._sessions.get(station_id)

    async def start(self) -> None:
        """Listen; raises OSError if the address cannot be bound."""
        tls = None
        if self.config.tls_cert is not None:
            from fleetsim.security.tls import server_context

            tls = server_context(cert=self.config.tls_cert,
                                 key=self.config.tls_key or self.config.tls_cert,
                                 client_ca=self.config.client_ca)
        self._server = await ws_serve(
            self._handle,
            self.config.host,
            self.config.port,
            subprotocols=[Subprotocol(p) for p in self.config.subprotocols],
            select_subprotocol=self._select_subprotocol,
            process_request=self._check_path,
            # permessage-deflate when a station offers it (2.0.1/2.1 require CSMSs to support
            # it); a station that does not offer it costs nothing
            compression="deflate",
            ping_interval=None,  # keepalive is the station's job (WebSocketPingInterval)
            max_size=2**20,
            reuse_port=self.config.reuse_port or None,
            backlog=4096,  # a connect storm must not overflow the accept queue (default 100)
            logger=_WS_LOGGER,
            ssl=tls,
        )
        self._flusher = asyncio.create_task(self._flush_periodically())

    async def close(self) -> None:
        """Stop listening, close connections, flush and close the ledger. Idempotent."""
        if self._closed.is_set():
            return
        self._closed.set()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        self.ledger.close()

    async def wait_closed(self) -> None:
        """Return once :meth:`close` has been called."""
        await self._closed.wait()

    async def __aenter__(self) -> CsmsServer:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        await self.close()

    # -- handshake -----------------------------------------------------------------

    def _check_path(self, connection: ServerConnection, request: Request) -> Response | None:
        station_id = station_id_from_path(request.path)
        if station_id is None:
            return connection.respond(HTTPStatus.NOT_FOUND, "No station id in the URL path.\n")
        if self.config.client_ca is not None:
            # Security profile 3: the certificate must name the station it connects as.
            from fleetsim.security.tls import peer_common_name

            peer = connection.transport.get_extra_info("peercert")
            cn = peer_common_name(peer)
            if cn != station_id:
                self.refused_cert += 1
                self._log_refusal(f"refused {station_id}: client certificate CN {cn!r}",
                                  self.refused_cert)
                return connection.respond(HTTPStatus.FORBIDDEN,
                                          "Client certificate does not name this station.\n")
            # which certificate it is: a reconnect after CertificateSigned (A02) shows here
            self.ledger.record_event(station_id, "client_certificate",
                                     str(peer.get("serialNumber", "")).lower().lstrip("0"),
                                     self.backend.now_iso())
        expected = (password_of(self.backend, station_id)  # A01: one this CSMS set
                    or self.config.expected_password(station_id))
        if expected is not None and not _basic_ok(request, station_id, expected):
            # Security profiles 1/2: HTTP Basic, user = station id (passwords never logged).
            self.refused_auth += 1
            self._log_refusal(f"refused {station_id}: missing or wrong HTTP Basic credentials",
                              self.refused_auth)
            response = connection.respond(HTTPStatus.UNAUTHORIZED, "Unauthorized.\n")
            response.headers["WWW-Authenticate"] = 'Basic realm="fleetsim", charset="UTF-8"'
            return response
        return None

    @staticmethod
    def _log_refusal(message: str, count: int) -> None:
        if count == 1:
            _LOGGER.warning("%s (further refusals are logged at DEBUG)", message)
        else:
            _LOGGER.debug("%s", message)

    def _select_subprotocol(
        self, connection: ServerConnection, offered: Sequence[str]
    ) -> Subprotocol | None:
        for subprotocol in offered:
            if subprotocol in self.config.subprotocols:
                return Subprotocol(subprotocol)
        self.refused += 1
        path = connection.request.path if connection.request else "?"
        log = _LOGGER.warning if self.refused == 1 else _LOGGER.debug
        log(
            "refused %s: offered subprotocols %s, supported %s%s",
            path,
            list(offered) or "none",
            ", ".join(self.config.subprotocols),
            " (further refusals are logged at DEBUG)" if self.refused == 1 else "",
        )
        raise NegotiationError("no supported OCPP subprotocol offered")

    # -- sessions ------------------------------------------------------------------

    async def _handle(self, connection: ServerConnection) -> None:
        assert connection.request is not None and connection.subprotocol is not None
        station_id = station_id_from_path(connection.request.path)
        version = OcppVersion(connection.subprotocol)
        assert station_id is not None
        session = session_class(version)(station_id, connection, self.backend)
        previous = self._sessions.get(station_id)
        self._sessions[station_id] = session
        if previous is not None:
            # Not awaited: a half-open old socket could hold up the new session.
            closing = asyncio.create_task(
                previous.connection.close(1000, "replaced by a new connection")
            )
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)
        try:
            await session.serve()
        except ConnectionClosed:
            pass
        finally:
            if self._sessions.get(station_id) is session:
                del self._sessions[station_id]

    async def _flush_periodically(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(self.config.flush_interval_s)
            try:
                self.ledger.flush()
            except Exception:
                if not failing:  # log the first of a run of failures, with its cause
                    _LOGGER.exception("ledger flush failed; retrying every interval")
                failing = True
            else:
                failing = False


def _basic_ok(request: Request, station_id: str, expected: str) -> bool:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, sep, password = base64.b64decode(token.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return (bool(sep) and user == station_id
            and hmac.compare_digest(password.encode(), expected.encode()))


async def serve(config: CsmsConfig, *, clock: Callable[[], datetime] = utc_now) -> CsmsServer:
    """Start a CSMS on the running loop and return it once it listens.

    Raises :class:`FleetsimError` if the ledger cannot be opened and OSError
    if the address cannot be bound (the ledger is closed again then).
    """
    # The library logs every message at INFO; silence it (and websockets' per-connection INFO).
    logging.getLogger("ocpp").setLevel(logging.WARNING)
    _WS_LOGGER.setLevel(logging.WARNING)
    ledger = Ledger.open(config.db)
    server = CsmsServer(
        config=config, ledger=ledger, backend=Backend(config=config, ledger=ledger, clock=clock)
    )
    try:
        await server.start()
    except BaseException:
        ledger.close()
        raise
    return server
