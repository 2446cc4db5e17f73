"""Boot and heartbeat, shared by every version: BootNotification until accepted, then
Heartbeat every interval.

A BootNotification not accepted (Pending/Rejected, CALLERROR or no answer) is sent again
after the interval the CSMS last gave, or ``boot_retry_default_s`` (1.6 §4.2, 2.0.1
B01/B02): a real station keeps trying. The interval the CSMS returns means wall seconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from fleetsim.station.channel import CallChannel, Payload, PendingCall

if TYPE_CHECKING:
    from fleetsim.drivers.session import Session
    from fleetsim.station.connector import Connector
    from fleetsim.station.core import StationCore

__all__ = ["BootHeartbeat"]


class BootHeartbeat(CallChannel):
    """Mixed into the station core below its sessions; the station supplies the rest."""

    __slots__ = ("_boot_calls", "_boot_first_due", "_boot_interval_s", "boots",
                 "heartbeat_override_s", "heartbeat_wall_s", "next_boot_reason")

    # provided by the station
    extra: dict[str, Any] | None
    limits: Any
    _before_boot: list[tuple[Connector, Session, bool | None]] | None

    if TYPE_CHECKING:
        def _release_waiting(self, now: float) -> None: ...

    def _init_boot(self) -> None:
        self.heartbeat_wall_s = 0.0
        self.heartbeat_override_s: float | None = None  # set by the CSMS (configuration)
        self._boot_first_due = -1.0     # when the first BootNotification of this boot was due
        self._boot_calls = 0            # BootNotifications sent for this boot so far
        self._boot_interval_s = 0.0     # the last interval a BootNotification answer gave [sim s]
        self.boots = 0                  # BootNotifications accepted
        self.next_boot_reason: str | None = None  # 2.x BootReason of the next boot (a reset)

    # ------------------------------------------------------------------ version hooks
    def boot_payload(self) -> Payload:
        raise NotImplementedError

    def after_boot(self, now: float) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------ boot & heartbeat
    def boot(self, now: float) -> None:
        self._cancel("boot")
        if self._boot_first_due < 0:
            self._boot_first_due = now
        self._boot_calls += 1
        self.call("BootNotification", self.boot_payload, now, on_result=self._boot_result,
                  on_error=self._boot_failed, first=True)

    def _boot_failed(self, _code: str, now: float) -> None:
        self._boot_again(now)

    def call_timed_out(self, call: PendingCall, now: float) -> None:
        if call.action == "BootNotification":
            self._boot_again(now)

    def _boot_again(self, now: float) -> None:
        """A BootNotification was not accepted (Pending/Rejected, CALLERROR or no answer):
        send another after the interval the CSMS last gave (1.6 §4.2, 2.0.1 B01/B02), or
        ``boot_retry_default_s`` when it never gave one. A real station keeps trying."""
        if self.stopping:
            return
        retry = self._boot_interval_s or self.cfg.boot_retry_default_s  # wall s, as meant
        self.at(now + retry, self._reboot, name="boot")

    def _boot_result(self, p: Payload, now: float) -> None:
        status = p.get("status")
        interval = p.get("interval")
        interval_s = float(interval) if isinstance(interval, int | float) and interval > 0 else 0.0
        if interval_s:
            self._boot_interval_s = interval_s
        if status == "Accepted":
            self.booted = True
            self._ready_since = now
            self.boots += 1
            self.next_boot_reason = None
            self.rec.boot_accepted(now - self._boot_first_due, self._boot_calls)
            self._boot_first_due, self._boot_calls = -1.0, 0
            # the interval the CSMS returned means wall seconds (1.6 §4.2, 2.0.1 B01)
            if self.heartbeat_override_s:
                hb = self.heartbeat_override_s
            elif self.cfg.heartbeat_interval_s:
                hb = self.cfg.heartbeat_interval_s / self.cfg.interval_factor
            else:
                hb = interval_s or 300.0
            self.set_heartbeat(hb, now)
            self.after_boot(now)
            if self._before_boot:
                self._release_waiting(now)
            if self.extra is not None or self.limits is not None:
                from fleetsim.station.lifecycle import after_reboot

                after_reboot(cast("StationCore", self), now)
        else:
            self._boot_again(now)

    def set_heartbeat(self, wall_s: float, now: float) -> None:
        """Beat every ``wall_s`` wall seconds from ``now`` on."""
        self.heartbeat_wall_s = wall_s
        first = now if self.cfg.closed_loop_heartbeat else now + self.heartbeat_wall_s
        self.at(first, self._heartbeat, name="heartbeat")

    def _reboot(self, t: float) -> None:
        if self.connected and not self.booted:
            self.boot(t)

    def _heartbeat(self, t: float) -> None:
        if not self.connected or self.stopping:
            return
        if self.cfg.closed_loop_heartbeat:  # benchmark mode: the next beat when answered
            self.call("Heartbeat", _empty, t, on_result=self._beat_again)
            return
        if not self.has_queued("Heartbeat"):
            # a station does not pile up heartbeats behind one the CSMS has not answered
            self.call("Heartbeat", _empty, t)
        self.at(self.next_tick(t, self.heartbeat_wall_s), self._heartbeat, name="heartbeat")

    def _beat_again(self, _payload: Payload, now: float) -> None:
        self._heartbeat(now)


def _empty() -> Payload:
    return {}
