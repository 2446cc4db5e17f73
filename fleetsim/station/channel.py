"""The OCPP-J call channel under every station: one CALL in flight, the rest queued.

OCPP-J allows one outstanding CALL per direction (1.6 §4.1.1; 2.0.1 part 4 §4.1.1).
:class:`CallChannel` keeps the station's CALLs in a FIFO and sends the head when the
channel is free, measures each from the moment it was *due* (coordinated omission),
keeps transaction messages across a lost connection and replays them in order
(1.6 §4.9; 2.0.1 E04), drops the oldest meter readings when the offline queue is
full, and retries a transaction message that failed (1.6 §4.10; 2.0.1 E13). While a
transaction message waits for its retry, the other transaction messages wait behind it
(their order is kept) but everything else — Heartbeat, StatusNotification, Authorize —
flows. The station on top (:class:`~fleetsim.station.core.StationCore`) decides what
to send.

Each CALL is measured three ways (see :mod:`fleetsim.metrics.recorder`): service (sent →
answer), response (due → answer) and queued (due → sent), the queueing split into the
time spent behind the station's own calls, offline or before boot, and the engine's own
lateness. A call due while offline or unbooted is *due*, for response, when the station
could send again: that wait is the ``offline`` cause, not the CSMS's answer time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fleetsim.metrics.recorder import Recorder
from fleetsim.station.clock import Clock
from fleetsim.station.config import StationConfig
from fleetsim.station.frames import CallError, CallResult, encode_call
from fleetsim.station.timers import StationTimers

__all__ = ["CallChannel", "PendingCall"]

Payload = dict[str, Any]
ResultFn = Callable[[Payload, float], None]
ErrorFn = Callable[[str, float], None]


class PendingCall:
    """A CALL waiting for its turn. ``build`` runs at send time (may return None: skip)."""

    __slots__ = ("action", "attempt", "build", "due", "key", "meter", "offline", "on_error",
                 "on_result", "sends", "transactional")

    def __init__(self, action: str, key: str, build: Callable[[], Payload | None], due: float,
                 on_result: ResultFn | None, on_error: ErrorFn | None,
                 transactional: bool, meter: bool = False) -> None:
        self.action, self.key, self.build, self.due = action, key, build, due
        self.on_result, self.on_error, self.transactional = on_result, on_error, transactional
        self.meter = meter      # a periodic meter reading: the first to go when the queue is full
        self.offline = False    # queued while offline: counted until replayed
        self.attempt = 1        # TransactionMessageAttempts (1.6 §4.10, 2.0.1 E13)
        self.sends = 0          # frames sent for it: retries and offline replays too


class CallChannel(StationTimers):
    """Queue, in-flight CALL, offline replay and retries; the station supplies the rest."""

    __slots__ = ("_free_since", "_ids", "_inflight", "_inflight_deadline", "_inflight_id",
                 "_inflight_sent", "_late_id", "_late_key", "_offline_pending", "_queue",
                 "_ready_since", "_reconnected_at", "_tx_hold_until", "booted", "msg_counts")

    # provided by the station
    rec: Recorder
    cfg: StationConfig
    clock: Clock
    out: list[bytes]
    connected: bool
    stopping: bool
    strict: bool
    tx_attempts: int
    tx_retry_s: float
    version_prefix: str
    expect_dup: set[str] | None
    dropped_ids: set[str] | None

    def call_timed_out(self, call: PendingCall, now: float) -> None:
        """Hook: a CALL timed out and will not be retried."""

    def check_response(self, action: str, payload: Payload) -> None:
        """Hook (``strict``): count a CALLRESULT that breaks its response schema."""

    def _init_channel(self, ids: Iterator[str]) -> None:
        self._ids = ids
        self.booted = False
        self._ready_since = 0.0  # when the station could last start sending (open / booted)
        # a list, not a deque: an empty deque holds a 64-slot block (624 B), a list 56 B,
        # and a queue is short but for the offline one (≤ offline_queue_max, pop(0) moves
        # at most 80 KB once per reply)
        self._queue: list[PendingCall] = []
        # the last CALL that timed out, for its late answer
        self._late_id: str | None = None
        self._late_key = ""
        self._inflight: PendingCall | None = None
        self._inflight_id = ""
        self._inflight_sent = 0.0
        self._inflight_deadline = float("inf")
        self._free_since = 0.0
        self._tx_hold_until = 0.0      # a transaction message waits to be retried
        self._offline_pending = 0      # messages queued while offline, not yet replayed
        self._reconnected_at = -1.0  # when the drain clock started (reconnect)
        # the station-side ledger: action -> [CALLs sent (retries and replays too),
        # answered with a CALLRESULT, answered with a CALLERROR]; the rest went unanswered
        self.msg_counts: dict[str, list[int]] = {}

    def _channel_lost(self, kind: str) -> None:
        """The connection is gone: the in-flight CALL is lost; only transaction messages stay."""
        if self._inflight is not None:
            replay = self._inflight.transactional
            self.rec.call_failed(self._inflight.key, kind, retried=replay)
            if replay:
                self._queue.insert(0, self._inflight)  # replayed after reconnect
            self._inflight = None
            self._inflight_deadline = float("inf")
        # transaction messages are kept and replayed in order, the rest is dropped
        # (1.6 §4.9 "transaction-related messages"; 2.0.1 E04 offline, QueueAllMessages false)
        kept: list[PendingCall] = []
        for c in self._queue:
            if c.transactional:
                if not c.offline:
                    c.offline = True
                    self._offline_pending += 1
                kept.append(c)
            elif c.offline:
                self._offline_pending -= 1
        self._queue = kept
        self._reconnected_at = -1.0
        self.rec.offline_depth(len(kept))

    def _overdue(self, call: PendingCall, now: float) -> None:
        """The in-flight ``call``'s answer is overdue: count it, retry or give it up."""
        self._inflight = None
        self._inflight_deadline = float("inf")
        self._free_since = now
        dropped = self.dropped_ids
        retry = call.transactional and self._may_retry(call)
        if dropped and self._inflight_id in dropped:  # never sent: fleetsim dropped it
            dropped.discard(self._inflight_id)
            self.rec.call_failed(call.key, "interrupted", retried=retry)
        else:  # censored: it waited at least this long, and nobody knows how much longer
            self.rec.call_failed(call.key, "timeout", now - call.due, now - self._inflight_sent,
                                 retried=retry)
            self._late_id, self._late_key = self._inflight_id, call.key
        if retry:
            self._retry(call, now)
        else:
            self.call_timed_out(call, now)
            if call.offline:
                self._offline_done(now, replayed=False)

    @property
    def idle(self) -> bool:
        """Nothing queued or in flight (a graceful stop may close the socket)."""
        return self._inflight is None and not self._queue

    def has_queued(self, action: str) -> bool:
        """Whether a CALL of ``action`` waits to be sent (or is in flight)."""
        return any(c.action == action for c in self._queue) or (
            self._inflight is not None and self._inflight.action == action)

    @property
    def queued(self) -> int:
        return len(self._queue) + (self._inflight is not None)

    @property
    def offline_pending(self) -> int:
        """Transaction messages queued while offline and not yet replayed."""
        return self._offline_pending

    def abandon(self) -> None:
        """The run is over for good: count what never got an answer as interrupted."""
        if self._inflight is not None:
            self.rec.call_failed(self._inflight.key, "interrupted")
            self._inflight = None
        self._queue.clear()

    def call(self, action: str, build: Callable[[], Payload | None], due: float, *,
             on_result: ResultFn | None = None, on_error: ErrorFn | None = None,
             transactional: bool = False, first: bool = False, meter: bool = False) -> None:
        """Queue a CALL that became due at ``due``; it is sent when the channel is free.

        ``transactional`` calls survive a lost connection and are replayed in order;
        ``meter`` marks periodic readings, dropped first when the offline queue is full.
        """
        pc = PendingCall(action, self.version_prefix + action, build, due, on_result, on_error,
                         transactional, meter)
        if first:
            self._queue.insert(0, pc)
        else:
            self._queue.append(pc)
        if transactional and not self.connected:
            self._queued_offline(pc)

    def _queued_offline(self, pc: PendingCall) -> None:
        pc.offline = True
        self._offline_pending += 1
        q = self._queue
        if len(q) > self.cfg.offline_queue_max:
            victim = next((c for c in q if c.meter), None)
            if victim is not None:  # oldest meter reading first; Start/Stop are never dropped
                q.remove(victim)
                self._offline_pending -= 1
                self.rec.offline_dropped += 1
        self.rec.offline_depth(len(q))

    def _offline_done(self, now: float, *, replayed: bool) -> None:
        self._offline_pending -= 1
        if replayed:
            self.rec.offline_replayed += 1
        if self._offline_pending <= 0:
            self._offline_pending = 0
            if self._reconnected_at >= 0:
                self.rec.offline_drained(now - self._reconnected_at)
                self._reconnected_at = -1.0

    def _may_retry(self, call: PendingCall) -> bool:
        return call.attempt < self.tx_attempts and not self.stopping

    def _retry(self, call: PendingCall, now: float) -> None:
        """Send a failed transaction message again, TransactionMessageRetryInterval x attempt
        later, ahead of the other transaction messages (their order is kept: 1.6 §4.10,
        2.0.1 E13); the station's other messages go on meanwhile."""
        wait = self.tx_retry_s * call.attempt  # wall s: TransactionMessageRetryInterval
        call.attempt += 1
        call.due = now + wait
        self._queue.insert(0, call)
        self._tx_hold_until = now + wait
        self.at(self._tx_hold_until, _noop)

    def _next(self, now: float) -> PendingCall | None:
        """Take the next CALL to send: the head, or while a transaction message waits for
        its retry, the first one that is not a transaction message."""
        q = self._queue
        if not self.booted:
            if q[0].action != "BootNotification":
                return None
        elif now < self._tx_hold_until and q[0].transactional:
            for i, c in enumerate(q):
                if not c.transactional:
                    del q[i]
                    return c
            return None
        return q.pop(0)

    def _pump(self, now: float) -> None:
        if self._inflight is not None or not self.connected:
            return
        q = self._queue
        while q:
            head = self._next(now)
            if head is None:
                return
            payload = head.build()
            if payload is None:
                if head.offline:
                    self._offline_done(now, replayed=False)
                continue
            # due → sent, by cause: offline or before boot (until the station was ready),
            # behind its own earlier calls (the pipe was busy, or a transaction message
            # waited for the retry ahead of it), then the engine's own lateness
            due, ready = head.due, self._ready_since
            offline_s = 0.0
            if due < ready:  # the CSMS is not to blame for that wait: response starts here
                offline_s, due = ready - due, ready
                head.due = ready
            free = self._free_since
            if head.transactional and self._tx_hold_until > free:
                free = self._tx_hold_until
            own_s = free - due if free > due else 0.0
            start = free if free > due else due
            msg_id = next(self._ids)
            self.out.append(encode_call(msg_id, head.action, payload))
            counts = self.msg_counts.get(head.action)
            if counts is None:
                self.msg_counts[head.action] = [1, 0, 0]
            else:
                counts[0] += 1
            self.rec.call_sent(head.key, own_s=own_s, offline_s=offline_s,
                               engine_s=now - start if now > start else 0.0,
                               first=head.sends == 0)
            head.sends += 1
            self._inflight, self._inflight_id, self._inflight_sent = head, msg_id, now
            self._inflight_deadline = now + self.cfg.call_timeout_wall_s
            return

    def _on_result(self, frame: CallResult, now: float, size: int = 0) -> None:
        call = self._inflight
        if call is None or frame.msg_id != self._inflight_id:
            if not (self._expected_duplicate(frame.msg_id) or self._late(frame.msg_id)):
                self.rec.fault("unexpected_result")
            return
        self._inflight = None
        self._inflight_deadline = float("inf")
        self._free_since = now
        self.rec.call_done(call.key, now - call.due, now - self._inflight_sent, size)
        self.msg_counts[call.action][1] += 1
        if self.strict:
            self.check_response(call.action, frame.payload)
        if call.on_result is not None:
            call.on_result(frame.payload, now)
        if call.offline:
            self._offline_done(now, replayed=True)

    def _on_call_error(self, frame: CallError, now: float) -> None:
        call = self._inflight
        if call is None or frame.msg_id != self._inflight_id:
            if not (self._expected_duplicate(frame.msg_id) or self._late(frame.msg_id)):
                self.rec.fault("unexpected_callerror")
            return
        self._inflight = None
        self._inflight_deadline = float("inf")
        self._free_since = now
        retry = call.transactional and self._may_retry(call)
        self.rec.call_failed(call.key, "CALLERROR:" + frame.code, now - call.due,
                             now - self._inflight_sent, retried=retry)
        self.rec.said.callerror(call.key, frame.code, frame.description)
        self.msg_counts[call.action][2] += 1
        if retry:
            self._retry(call, now)
            return
        if call.on_error is not None:
            call.on_error(frame.code, now)
        if call.offline:
            self._offline_done(now, replayed=False)

    def _late(self, msg_id: str) -> bool:
        """The answer to the last CALL that timed out: the CSMS was slow, not wrong. Counted
        (``late`` of its action), not applied: the station gave the call up (a timed-out
        BootNotification is sent again, and that one's answer counts)."""
        if msg_id != self._late_id:
            return False
        self._late_id = None
        self.rec.late_answer(self._late_key)
        return True

    def _expected_duplicate(self, msg_id: str) -> bool:
        """The second answer to a CALL the fault injector duplicated: not the CSMS's fault."""
        dups = self.expect_dup
        if dups is None or msg_id not in dups:
            return False
        dups.discard(msg_id)
        return True


def _noop(t: float) -> None:
    pass
