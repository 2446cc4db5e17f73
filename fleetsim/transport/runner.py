"""Drive one station core on the event loop: connect, reconnect with backoff, wake timers.

Reconnect waits come from :mod:`fleetsim.transport.backoff`: per OCPP version as the
scenario says (``EngineOptions.reconnect_per_version``) after a lost connection, or
fleetsim's generic exponential backoff (first connects, tests, benchmarks). Jitter
draws from the station's own seeded stream 5, so a reconnect storm is reproducible.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl
from time import monotonic
from typing import TYPE_CHECKING, Any

from fleetsim.station.core import StationCore
from fleetsim.station.security import load_own_certificate, own_password
from fleetsim.transport.backoff import Backoff, ExponentialBackoff, policy_for
from fleetsim.transport.connection import StationConnection, drop_tracebacks, tls_detail
from fleetsim.transport.gauges import NO_SHARE

if TYPE_CHECKING:
    from fleetsim.transport.engine import Engine

IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)  # Linux >= 4.2

__all__ = ["StationRunner"]

_INF = float("inf")


class StationRunner:
    """Owns a station core's connection and next wake-up for the engine."""

    __slots__ = ("_attempts", "_connect_t0", "_reboot_s", "_rng", "_wait_s",
                 "_wake_at", "closing", "conn", "connected_once", "engine", "gauge_share", "shaper",
                 "source", "station", "uri")

    def __init__(self, engine: Engine, station: StationCore, uri: str, source: str | None) -> None:
        self.engine, self.station, self.uri, self.source = engine, station, uri, source
        self.conn: StationConnection | None = None
        self._rng: Any = None  # backoff jitter: the station's stream 5, made at first need
        self.closing = False
        self.connected_once = False
        self._attempts = 0
        self._wait_s = 0.0  # the last reconnect wait (2.x doubles it)
        faults = engine.faults
        self.shaper = faults.shaper_for(station) if faults is not None else None
        self._wake_at = _INF
        self._reboot_s: float | None = None  # a reset: reconnect after this long, no backoff
        self._connect_t0 = 0.0  # when this connect attempt began (TCP connect)
        self.gauge_share: tuple[int, ...] = NO_SHARE  # as last counted (Engine.gauges)

    @property
    def rng(self) -> Any:
        """The backoff jitter's seeded stream, made at the first reconnect: a numpy
        Generator is ~0.8 KiB, and most stations of a healthy run never retry."""
        if self._rng is None:
            self._rng = self.station.spec.stream(5)
        return self._rng

    @property
    def attempts(self) -> int:
        """Connect attempts since the last successful one."""
        return self._attempts

    # timers -----------------------------------------------------------------------
    def reschedule(self) -> None:
        """Arm the loop timer for the station's next deadline if it moved earlier (the
        station ran: its gauges are counted again)."""
        self.engine.touch(self)
        w = self.station.next_wake()
        if w < self._wake_at:
            replacing = self._wake_at != _INF
            self._wake_at = w
            self.engine.wakes.arm(self, w, replacing=replacing)

    def _wake(self) -> None:
        # uvloop's clock has 1 ms resolution and may fire a hair early: never before due
        due, self._wake_at = self._wake_at, _INF
        st = self.station
        st.on_timer(max(monotonic(), due))
        if self.conn is not None and self.conn.opened:
            self.conn.flush()
        else:
            st.out.clear()
        if st.reconnect_after is not None:
            self._reboot()
        self.reschedule()

    def after_io(self) -> None:
        if self.station.reconnect_after is not None:
            self._reboot()
        elif self.closing:
            self.leave_if_done()
        self.reschedule()

    def leave_if_done(self) -> None:
        """Being stopped, and its last answer is in (nothing queued or in flight): close."""
        c = self.conn
        if self.closing and self.station.stopping and self.station.idle \
                and c is not None and c.opened:
            c.close()

    def _reboot(self) -> None:
        """The station reset (or installed firmware): close, then reconnect and boot again."""
        st = self.station
        self._reboot_s, st.reconnect_after = st.reconnect_after, None
        conn = self.conn
        if conn is None or not conn.opened:
            delay, self._reboot_s = self._reboot_s or 0.0, None
            self.engine.loop.call_later(delay, self.engine.spawn_connect, self)
            return
        conn.close()
        self.engine.loop.call_later(2.0, self._close_deadline, conn)

    def _close_deadline(self, conn: StationConnection) -> None:
        if conn is self.conn and conn.transport is not None:
            conn.abort("reboot")

    def cancel(self) -> None:
        if self._wake_at != _INF:
            self.engine.wakes.dropped()
            self._wake_at = _INF

    # connection -------------------------------------------------------------------
    async def connect(self) -> None:
        """One connection attempt; on failure the next one is scheduled with backoff."""
        eng = self.engine
        if self.closing or eng.stopping:
            return
        loop = eng.loop
        sid = self.station.station_id
        password = own_password(self.station) or eng.password  # A01: one the CSMS set
        if password is not None:  # security profile 1/2: one password per station
            password = password.replace("{station_id}", sid)
        conn = StationConnection(self.station, self.uri, self.station.spec.version.subprotocol,
                                 loop=loop, on_open=self._opened, on_lost=self._lost,
                                 after_io=self.after_io, password=password,
                                 compression=eng.compression)
        self.conn = conn
        u = conn.ws.uri
        kwargs: dict[str, Any] = {}
        if u.secure:
            ctx_for = getattr(eng.opt, "ssl_context_for", None)
            try:
                ctx = ctx_for(sid) if ctx_for is not None else eng.ssl_context
                if ctx is not None and ctx_for is not None:  # profile 3: a certificate the CSMS signed (A02)
                    ctx = load_own_certificate(self.station, ctx)
            except (OSError, ssl.SSLError) as exc:  # e.g. this station's certificate is missing
                self.conn = None
                eng.connect_failed(self, "tls_error", f"client certificate: {exc}")
                self._retry()
                return
            kwargs["ssl"] = ctx or ssl.create_default_context()
            kwargs["server_hostname"] = u.host
        eng.attempts += 1
        self._connect_t0 = monotonic()
        try:
            await asyncio.wait_for(self._open_tcp(loop, conn, u.host, u.port, kwargs),
                                   eng.connect_timeout_s)
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            self.conn = None
            kind = _kind(exc)
            eng.connect_failed(self, kind, tls_detail(exc) if kind == "tls_error" else None)
            drop_tracebacks(exc)
            self._retry()
            return
        # the WebSocket handshake must finish within the connect timeout too
        loop.call_later(eng.connect_timeout_s, self._handshake_deadline, conn)

    async def _open_tcp(self, loop: asyncio.AbstractEventLoop, conn: StationConnection,
                        host: str, port: int, kwargs: dict[str, Any]) -> None:
        """TCP (and TLS) to the CSMS; from the station's source address if it has one.

        A source address is bound with ``IP_BIND_ADDRESS_NO_PORT``: the kernel then picks
        the local port at connect time, unique per destination, instead of at bind time,
        unique per address. Binding first made every connect search the address's whole
        port range: at ~56,000 stations over four addresses the engines spent 83 % of their
        CPU in the kernel and the ramp stopped (issue 13)."""
        if not self.source:
            await loop.create_connection(lambda: conn, host, port, **kwargs)
            return
        infos = await loop.getaddrinfo(host, port, family=socket.AF_INET,
                                       type=socket.SOCK_STREAM)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            sock.bind((self.source, 0))
            await loop.sock_connect(sock, infos[0][4])
            await loop.create_connection(lambda: conn, sock=sock, **kwargs)
        except BaseException:
            sock.close()
            raise

    def _handshake_deadline(self, conn: StationConnection) -> None:
        if conn is self.conn and not conn.opened and conn.transport is not None:
            conn.abort("handshake_timeout")

    def _opened(self) -> None:
        self._attempts = 0
        self._wait_s = 0.0
        self.connected_once = True
        eng = self.engine
        eng.connected += 1
        eng.ever_connected = True
        conn = self.conn
        assert conn is not None
        if self.shaper is not None:
            self.shaper.bind(conn)
            conn.shaper = self.shaper
        ping_s = self.station.ping_interval_s
        if ping_s > 0:
            conn.start_pings(ping_s, self.station.cfg.reconnect.ping_timeout_s)
        now = monotonic()  # TCP connect, TLS, HTTP upgrade: the CSMS's connect latency
        eng.rec.connected(self.station.spec.version.value, now - self._connect_t0)
        self.station.on_open(now)
        conn.flush()
        self.reschedule()

    def _lost(self, why: str) -> None:
        eng = self.engine
        eng.touch(self)
        conn, self.conn = self.conn, None
        rebooting = self._reboot_s is not None
        if conn is not None and conn.opened:
            eng.connected -= 1
            ours = self.closing or rebooting or conn.injected is not None  # not the CSMS's doing
            self.station.on_close(monotonic(), "interrupted" if ours else "connection_lost")
            if not ours:
                eng.rec.fault("ping_timeout" if why == "ping_timeout" else "connection_lost")
        else:
            eng.connect_failed(self, why, conn.detail if conn is not None else None)
        self.station.out.clear()
        if self.closing or eng.stopping:
            eng.closed_one()
            return
        if rebooting:
            delay, self._reboot_s = self._reboot_s or 0.0, None
            eng.loop.call_later(delay, eng.spawn_connect, self)
            return
        self._retry()

    def _retry(self) -> None:
        """Wait as the station's reconnect policy says, then try again."""
        eng = self.engine
        if self.closing or eng.stopping:
            return
        self._attempts += 1
        self._wait_s = self.policy().wait_s(self._attempts, self._wait_s, float(self.rng.random()))
        eng.loop.call_later(self._wait_s, eng.spawn_connect, self)

    def policy(self) -> Backoff:
        """Per OCPP version from the scenario (2.x: the station's RetryBackOff* now) once the
        station was connected; before that — the ramp, an unreachable CSMS — and in tests and
        benchmarks, the engine's generic exponential backoff."""
        eng, st = self.engine, self.station
        if eng.opt.reconnect_per_version and self.connected_once:
            return policy_for(st.spec.version, st.cfg.reconnect, st.retry_backoff)
        return ExponentialBackoff(eng.backoff_base_s, eng.backoff_cap_s)


def _kind(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "connect_timeout"
    if isinstance(exc, ssl.SSLError):
        return "tls_error"
    if isinstance(exc, OSError):
        if exc.errno == errno.ECONNREFUSED:
            return "connection_refused"
        if exc.errno in (errno.EMFILE, errno.ENFILE):
            return "too_many_open_files"
        if exc.errno == errno.EADDRNOTAVAIL:
            return "no_free_ports"
    return "connect_failed"
