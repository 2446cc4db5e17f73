"""The sans-I/O station core shared by all OCPP versions.

Bytes in, bytes out, no sockets and no clock of its own. The engine calls:

- :meth:`on_open` when the WebSocket is up, :meth:`on_close` when it is gone;
- :meth:`on_frame` with each received text frame;
- :meth:`on_timer` at (or after) :meth:`next_wake`;

and after each call sends every frame in :attr:`out` (then clears it). Times are
the engine's monotonic wall seconds. It is built on
:class:`~fleetsim.station.boot.BootHeartbeat` (boot and heartbeat), and its CALLs go
through :class:`~fleetsim.station.channel.CallChannel`: one outstanding
CALL, a FIFO, offline replay and retries, each CALL measured from the moment it
was *due*, so a slow CSMS that makes messages queue is charged for the wait
(coordinated omission). Version subclasses build payloads and react to results.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fleetsim.drivers.session import Session, StationPlan, Vehicle
from fleetsim.drivers.window import SessionFeed
from fleetsim.metrics.recorder import Recorder
from fleetsim.scenario.fleet import StationSpec
from fleetsim.scenario.reconnect import RetryBackOff
from fleetsim.station.boot import BootHeartbeat
from fleetsim.station.channel import Payload
from fleetsim.station.clock import Clock
from fleetsim.station.config import StationConfig
from fleetsim.station.connector import Connector
from fleetsim.station.dispatch import Handler, answer_call, check_result
from fleetsim.station.frames import (
    Call,
    CallError,
    CallResult,
    CallResultError,
    Malformed,
    Send,
    encode_error,
    parse_frame,
)
from fleetsim.station.message_ids import message_ids
from fleetsim.station.security import after_outage

__all__ = ["Payload", "StationCore"]


class StationCore(BootHeartbeat):
    """Version-independent machinery; subclasses implement the protocol steps."""

    version_prefix = ""  # "1.6/", "2.0.1/", "2.1/"
    # slots, not a __dict__: past 30 attributes CPython 3.11 stops sharing instance dicts'
    # keys, and each station's dict took 1.6 KiB (160 MiB at 100,000 stations)
    __slots__ = ("_backoff", "_before_boot", "_next_session", "_offline_since",
                 "_offline_threshold_s", "_ping_interval_s", "_status_at_close",
                 "aligned_interval_s", "authorize_remote", "cfg", "clock", "connected",
                 "connectors", "dropped_ids", "expect_dup", "extra", "feed",
                 "finished_sessions", "first_vehicle", "limits", "measurands",
                 "meter_interval_s", "meter_wall_s", "out", "pending_reset", "plan", "rec",
                 "reconnect_after", "spec", "station_id", "stopping", "strict", "tx_attempts",
                 "tx_count", "tx_retry_s")

    def __init__(self, spec: StationSpec, plan: StationPlan, *, clock: Clock, recorder: Recorder,
                 config: StationConfig, ids: Iterator[str] | None = None) -> None:
        self.spec, self.plan, self.clock, self.rec, self.cfg = spec, plan, clock, recorder, config
        self.station_id = spec.station_id
        self.connectors = [Connector(i, plan.evse) for i in range(1, spec.connectors + 1)]
        self.out: list[bytes] = []
        self.connected = False
        self.stopping = False
        self.tx_count = 0
        self.finished_sessions: list[dict[str, Any]] = []
        self._init_channel(ids if ids is not None else message_ids(spec, config.message_ids))
        self._init_timers()
        self._init_boot()
        # the sessions, planned a window at a time (or the plan's fixed tuple)
        self.feed = plan.feed if plan.feed is not None else SessionFeed.of(plan.sessions)
        self.first_vehicle: Vehicle | None = None
        self._next_session = 0  # sessions arrived so far
        # settings the CSMS may change (ChangeConfiguration / SetVariables). The values are
        # what GetConfiguration reports; the timers run on wall seconds: what the CSMS sets
        # is meant in wall time, whatever the time_factor (clock.py "Which timers compress")
        self.meter_interval_s = config.meter_interval_s
        self.meter_wall_s = config.meter_interval_s / config.interval_factor
        self.measurands = config.measurands
        self.authorize_remote = config.authorize_remote
        self.tx_attempts = config.tx_message_attempts
        self.tx_retry_s = config.tx_retry_interval_s
        self.aligned_interval_s = 0.0
        self.strict = config.strict
        # CSMS-initiated state, allocated on first use (idle stations stay small)
        self.limits: Any = None        # station.limits.ChargingLimits
        self.extra: dict[str, Any] | None = None
        self.pending_reset: str | None = None
        self.reconnect_after: float | None = None
        """Set by a reset: the engine closes the socket and reconnects after this many wall s."""
        self.expect_dup: set[str] | None = None
        """Ids of CALLs the fault injector sent twice: their second answer is expected."""
        self.dropped_ids: set[str] | None = None
        """Ids of CALLs the fault injector dropped: their timeout is not the CSMS's."""
        self._backoff: RetryBackOff | None = None        # set by SetVariables (OCPPCommCtrlr)
        self._ping_interval_s: float | None = None       # by ChangeConfiguration / SetVariables
        self._offline_threshold_s: float | None = None   # set by SetVariables (OCPPCommCtrlr)
        self._offline_since = 0.0
        self._status_at_close: tuple[str, ...] = ()
        # cars that arrived before the first boot, waiting (AllowOfflineTxForUnknownId false)
        self._before_boot: list[tuple[Connector, Session, bool | None]] | None = None
        self._schedule_next_arrival()

    @property
    def sessions_arrived(self) -> int:
        """Planned sessions whose arrival time has come (balked ones included)."""
        return self._next_session

    # ------------------------------------------------------------------ engine API
    def on_open(self, now: float) -> None:
        self.connected = True
        self._free_since = self._ready_since = now
        self._tx_hold_until = 0.0
        if self._offline_pending:
            self._reconnected_at = now  # the drain clock runs from here to an empty queue
        if (self.boots and not self.cfg.reconnect.boot_on_reconnect
                and self.pending_reset != "now"):  # a reset or firmware install always boots
            self._resume(now)
        else:
            self.boot(now)
        after_outage(self, now, self._offline_since)
        self._pump(now)

    def on_close(self, now: float, kind: str = "connection_lost") -> None:
        """The socket is gone: the in-flight CALL is lost; non-transaction messages dropped."""
        if not self.connected:
            return
        self.connected = False
        self.booted = False
        self._offline_since = now
        self._status_at_close = tuple(c.status for c in self.connectors)
        if self.expect_dup or self.dropped_ids:  # injected faults of the old connection
            self.expect_dup = self.dropped_ids = None
        self._channel_lost(kind)
        self._cancel("heartbeat")
        self._cancel("boot")

    def on_frame(self, data: str | bytes, now: float) -> None:
        frame = parse_frame(data)
        if type(frame) is CallResult:
            self._on_result(frame, now, len(data))
        elif type(frame) is CallError:
            self._on_call_error(frame, now)
        elif type(frame) is Call:
            self._on_call(frame, now)
        elif type(frame) is Send or type(frame) is CallResultError:
            self.on_frame21(frame, now)
        else:
            assert isinstance(frame, Malformed)
            self.rec.fault(f"received_{frame.kind}")
            if frame.msg_id is not None and frame.kind == "bad_frame":
                self.out.append(encode_error(frame.msg_id, self.formation_violation,
                                             "malformed frame"))
        self.on_timer(now)

    def on_timer(self, now: float) -> None:
        self.run_due(now)
        if self._inflight is not None and now >= self._inflight_deadline:
            self._overdue(self._inflight, now)
        self._pump(now)

    def next_wake(self) -> float:
        t = self.next_timer()
        return t if t < self._inflight_deadline else self._inflight_deadline

    @property
    def retry_backoff(self) -> RetryBackOff:
        """OCPPCommCtrlr.RetryBackOff* now (2.x; the scenario's, or as the CSMS set them)."""
        return self._backoff or self.cfg.reconnect.v2

    @property
    def ping_interval_s(self) -> float:
        """WebSocketPingInterval [wall s] for the next connection; 0: no pings."""
        p = self._ping_interval_s
        return self.cfg.reconnect.ping_interval_s if p is None else p

    @property
    def offline_threshold_s(self) -> float:
        """OCPPCommCtrlr.OfflineThreshold as configured [s]."""
        t = self._offline_threshold_s
        return self.cfg.reconnect.offline_threshold_s if t is None else t

    @property
    def offline_threshold_wall_s(self) -> float:
        """OfflineThreshold in wall seconds: the CSMS's value as is, the scenario's compressed
        only when the scenario asked (``clock.intervals: simulated``)."""
        t = self._offline_threshold_s
        return (self.cfg.reconnect.offline_threshold_s / self.cfg.interval_factor
                if t is None else t)

    def stop(self, now: float) -> None:
        """End the run: stop open transactions; the engine closes once :attr:`idle`."""
        self.stopping = True
        self.clear_timers()
        for c in self.connectors:
            if c.session is not None:
                self.end_session(c, now, reason="Local")
        self._pump(now)

    def on_frame21(self, frame: Send | CallResultError, now: float) -> None:
        """A SEND or CALLRESULTERROR (OCPP 2.1 only): unknown before 2.1."""
        self.rec.fault("received_unknown_message_type")

    def _on_call(self, frame: Call, now: float) -> None:
        answer_call(self, frame, now)

    # ------------------------------------------------------------------ reconnect
    def _resume(self, now: float) -> None:
        """Back online without a BootNotification (``reconnect.boot_on_reconnect: false``).

        The heartbeat resumes. After an outage longer than OfflineThreshold the station
        reports every connector's status (as after a boot), otherwise only the connectors
        whose status changed while it was offline (2.0.1 OCPPCommCtrlr.OfflineThreshold;
        1.6 has no such key, the scenario's value serves both).
        """
        self.booted = True
        first = now if self.cfg.closed_loop_heartbeat else now + self.heartbeat_wall_s
        self.at(first, self._heartbeat, name="heartbeat")
        if now - self._offline_since > self.offline_threshold_wall_s:
            self.after_boot(now)
            return
        before = self._status_at_close
        for i, c in enumerate(self.connectors):
            if i >= len(before) or before[i] != c.status:
                self.report_status(c, now)

    # ------------------------------------------------------------------ sessions
    def _schedule_next_arrival(self, _t: float = 0.0) -> None:
        s = self.feed.next()
        if s is not None:
            if self.first_vehicle is None:
                self.first_vehicle = s.vehicle
            self.at(self.clock.wall(s.arrival_s), self._arrive, s)
        elif self.feed.planned_until_s < float("inf"):  # nothing in this window: look later
            self.at(self.clock.wall(self.feed.planned_until_s), self._schedule_next_arrival)

    def _arrive(self, t: float, session: Session) -> None:
        self._next_session += 1
        self._schedule_next_arrival()
        if self.stopping:
            return
        c = self.connectors[session.connector_id - 1]
        if c.busy or not c.operative or c.status == "Unavailable" or self.pending_reset:
            self.rec.fault("session_balked")
            return
        r = c.reservation
        if r is not None:
            if session.id_tag not in (r.id_tag, r.parent_id_tag):
                self.rec.fault("session_balked")  # reserved for someone else (1.6 §5.13)
                return
            self.use_reservation(c, t)
        self.plug_in(c, session, t)

    def plug_in(self, c: Connector, session: Session, t: float, *,
                authorize: bool | None = None) -> None:
        """A car plugs in at ``t`` and stays until ``session.departure_s``.

        Before the station's first accepted boot it has no authorization cache, no
        local list and no word from the CSMS: the car waits for the boot (and leaves
        unserved if it departs first), unless AllowOfflineTxForUnknownId is set.
        """
        c.plug(session, self.clock.sim_s(t))
        self.at(self.clock.wall(session.departure_s), self._depart, c, session)
        if not self.boots and not self.booted and not self.cfg.offline_tx_unknown_id:
            if self._before_boot is None:
                self._before_boot = []
            self._before_boot.append((c, session, authorize))  # not a fault: a real station
            return
        self.begin_session(c, t, authorize=authorize)

    def _release_waiting(self, now: float) -> None:
        waiting, self._before_boot = self._before_boot or [], None
        for c, session, authorize in waiting:
            if c.session is session and not self.stopping:
                self.begin_session(c, now, authorize=authorize)

    def authorize_failed(self, c: Connector, code: str, t: float) -> bool:
        """Authorize got a CALLERROR: may the car charge anyway? Only with
        AllowOfflineTxForUnknownId; otherwise the session is refused (and recorded)."""
        if self.cfg.offline_tx_unknown_id:
            return True
        self.rec.fault("session_not_authorized")
        self.refused(c, "Authorize", f"CALLERROR:{code}", t)
        return False

    def refused(self, c: Connector, action: str, status: str, t: float) -> None:
        """The CSMS refused ``c``'s idTag (``Invalid``, ``Blocked``, ``CALLERROR:…``) in
        ``action``'s answer: kept per idTag, and a session row that says so."""
        self.rec.said.refusal(f"{self.version_prefix}{action}", status, c.id_tag)
        if c.tx is None:  # no transaction to end: the refused session is a row all the same
            self.record_session(c, t, "DeAuthorized", refused=status)
        else:
            c.tx.refused = status

    def _depart(self, t: float, c: Connector, session: Session) -> None:
        if c.session is session and not self.stopping:
            waiting = self._before_boot
            if waiting and any(w[0] is c for w in waiting):  # left before the first boot
                self._before_boot = [w for w in waiting if w[0] is not c]
                self.record_session(c, t, "EVDisconnected", refused="NotBooted")
            self.end_session(c, t, reason="EVDisconnected")

    def use_reservation(self, c: Connector, t: float) -> None:
        """The reserving driver arrived: the reservation ends (1.6 §5.13, 2.0.1 H01)."""
        if c.reservation is not None:
            c.reservation_used = c.reservation.reservation_id
        c.reservation = None
        self._cancel(f"reservation{c.connector_id}")

    def session_ended(self, c: Connector, t: float) -> None:
        """After a transaction ended: TxProfiles go, scheduled changes apply."""
        if (self.limits is not None or self.pending_reset
                or c.pending_operative is not None):
            from fleetsim.station.lifecycle import after_session

            after_session(self, c, t)

    def idle_status(self, c: Connector) -> str:
        """Status of a connector without a car: Unavailable, Reserved or Available."""
        if not c.operative:
            return "Unavailable"
        return "Reserved" if c.reservation is not None else "Available"

    def meter_loop(self, t: float, c: Connector) -> None:
        """Periodic sample while a transaction is open (MeterValueSampleInterval)."""
        if c.tx is None or self.stopping:
            return
        self.advance(c, t)
        self.send_meter(c, t)
        self.arm_meter(c, t)

    def arm_meter(self, c: Connector, t: float) -> None:
        """The next periodic sample of ``c``, MeterValueSampleInterval / TxUpdatedInterval
        after ``t`` in wall seconds. After a stall (a starved loop) it samples on from now,
        as the heartbeat beats on: a burst of every missed sample made each stall longer
        than the last (issue 13)."""
        self.at(self.next_tick(t, self.meter_wall_s), self.meter_loop, c,
                name=f"meter{c.connector_id}")

    def advance(self, c: Connector, t: float) -> None:
        was_full = c.full
        c.advance(self.clock.sim_s(t))
        if c.full and not was_full:
            self.vehicle_full(c, t)
        else:
            left = c.seconds_to_full()
            if left is not None:
                due = t + self.clock.interval_wall(left) + 1e-6
                name = f"full{c.connector_id}"
                # at an unchanged power the time is the same at every meter sample: re-arming
                # it made two heap entries per sample (issue 18)
                if abs(due - c.full_due) > 1e-3 or not self.pending(name):
                    c.full_due = due
                    self.at(due, self._check_full, c, name=name)

    def _check_full(self, t: float, c: Connector) -> None:
        if c.tx is not None and not c.full:
            self.advance(c, t)

    def record_session(self, c: Connector, t: float, reason: str, *, refused: str = "") -> None:
        """A session row; ``refused``: the status the CSMS refused its idTag with."""
        s = c.session
        if s is None:
            return
        tx = c.tx
        self.finished_sessions.append({"refused": refused or (tx.refused if tx else ""),
            "station_id": self.station_id, "connector_id": c.connector_id,
            "archetype": self.plan.archetype, "id_tag": s.id_tag, "tx": c.tx,
            "arrival_s": s.arrival_s, "departure_s": s.departure_s,
            "started_s": c.tx.started_s if c.tx else s.arrival_s, "stopped_s": self.clock.sim_s(t), "energy_kwh": round(c.delivered_wh / 1000, 4),
            "wanted_kwh": round(s.energy_kwh, 4), "meter_start_wh": c.meter_start_wh,
            "meter_stop_wh": int(c.register_wh), "stop_reason": reason, "vehicle": s.vehicle.name,
        })

    # ------------------------------------------------------------------ version hooks
    formation_violation = "FormatViolation"

    def begin_session(self, c: Connector, t: float, *, authorize: bool | None = None) -> None:
        """Open a transaction for the car plugged into ``c`` (authorize: None = config)."""
        raise NotImplementedError

    def end_session(self, c: Connector, t: float, *, reason: str) -> None:
        raise NotImplementedError

    def send_meter(self, c: Connector, t: float) -> None:
        raise NotImplementedError

    def vehicle_full(self, c: Connector, t: float) -> None:
        raise NotImplementedError

    def show_status(self, c: Connector, status: str, t: float) -> None:
        """Set and report a connector's status (StatusNotification)."""
        raise NotImplementedError

    def report_status(self, c: Connector, t: float) -> None:
        """Report a connector's current status again (StatusNotification)."""
        raise NotImplementedError

    def send_aligned(self, c: Connector, t: float) -> None:
        """A clock-aligned meter reading (context Sample.Clock)."""
        raise NotImplementedError

    def check_response(self, action: str, payload: Payload) -> None:
        check_result(self, action, payload)

    def handlers(self) -> dict[str, Handler]:
        """CSMS-initiated actions this station answers: action → handler(station, payload, t)."""
        return {}

