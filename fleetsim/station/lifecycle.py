"""What CSMS commands set in motion over time: resets, availability, reservations, firmware.

Version-independent pieces the handlers of both versions share. A reset stops
the sessions (1.6 §5.14: reason SoftReset/HardReset; 2.0.1 B11/B12:
ImmediateReset), waits until the stop messages are answered, then asks the
engine to close the socket and reconnect (:attr:`StationCore.reconnect_after`);
the station boots again on the new connection. Firmware and diagnostics/log
requests walk their status notifications on timers (no files are moved):
1.6 §5.19/§5.9, 2.0.1 L01/N01.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from fleetsim.station.connector import Connector, Reservation
from fleetsim.station.limits import apply_limits

if TYPE_CHECKING:
    from fleetsim.station.core import StationCore

__all__ = ["after_reboot", "after_session", "begin_reset", "cancel_reservation", "extra",
           "reconnect_when_idle", "request_reboot", "reserve", "start_aligned", "start_firmware",
           "start_upload"]

_RESET_REASON = {"Soft": "SoftReset", "Hard": "HardReset"}
_IDLE_WAIT_WALL_S = 5.0   # a reset waits at most this long for its stop messages' answers
_POLL_WALL_S = 0.02


def extra(st: StationCore) -> dict[str, Any]:
    """The station's lazily allocated CSMS-set state (local list, messages, …)."""
    if st.extra is None:
        st.extra = {}
    return st.extra


def show_status(st: StationCore, c: Connector, t: float) -> None:
    """Report the status of a connector that has no car (Unavailable/Reserved/Available)."""
    if c.session is None:
        st.show_status(c, st.idle_status(c), t)


# ---------------------------------------------------------------- reset & reboot
def begin_reset(st: StationCore, t: float, kind: str, *, boot_reason: str = "RemoteReset") -> None:
    """Stop every session now, then reconnect and boot once the stops are answered."""
    st.pending_reset = "now"
    st.next_boot_reason = boot_reason
    extra(st)["rebooted"] = boot_reason  # A04: reported as a security event after the boot
    reason = _RESET_REASON.get(kind, "ImmediateReset")
    for c in st.connectors:
        if c.session is not None:
            st.end_session(c, t, reason=reason)
    reconnect_when_idle(t, st)


def request_reboot(st: StationCore, t: float, kind: str, *, boot_reason: str) -> bool:
    """Reboot now if no transaction runs (True), else once the last one ends (False)."""
    if any(c.tx is not None for c in st.connectors):
        st.pending_reset = kind
        extra(st)["boot_reason"] = boot_reason
        return False
    begin_reset(st, t, kind, boot_reason=boot_reason)
    return True


def reconnect_when_idle(t: float, st: StationCore, deadline: float | None = None) -> None:
    """Close and reconnect once nothing is in flight (at most ``_IDLE_WAIT_WALL_S`` on):
    a reset, or new credentials that apply from the next connection (A01, A02)."""
    deadline = t + _IDLE_WAIT_WALL_S if deadline is None else deadline
    if st.idle or t >= deadline or not st.connected:
        st.reconnect_after = st.cfg.reboot_wall_s
    else:
        st.at(t + _POLL_WALL_S, reconnect_when_idle, st, deadline)


def after_reboot(st: StationCore, t: float) -> None:
    """Boot accepted: finish what the reboot interrupted."""
    if st.pending_reset == "now":
        st.pending_reset = None
    ex = st.extra or {}
    firmware = ex.pop("firmware_installed", None)
    if firmware is not None:  # 2.0.1 L01: Installed is reported after the reboot
        _firmware_status(st, t, "Installed", firmware)
    rebooted = ex.pop("rebooted", None)
    if rebooted is not None or "sec" in ex or "signed_fw_installed" in ex:
        from fleetsim.station.security import after_boot
        from fleetsim.station.signed_firmware import after_install_boot

        after_install_boot(st, t)
        after_boot(st, t, rebooted)
    if ex.get("aligned"):
        start_aligned(st, t)
    apply_limits(st, t)


def after_session(st: StationCore, c: Connector, t: float) -> None:
    """A transaction ended: TxProfiles go, scheduled availability and resets apply."""
    if st.limits is not None:
        st.limits.drop_tx(c.connector_id)
    if c.pending_operative is not None:
        c.operative, c.pending_operative = c.pending_operative, None
    pending = st.pending_reset
    if pending not in (None, "now") and all(x.tx is None for x in st.connectors):
        begin_reset(st, t, pending or "", boot_reason=extra(st).pop("boot_reason", "RemoteReset"))
    apply_limits(st, t)


# ---------------------------------------------------------------- availability
def change_availability(st: StationCore, cs: list[Connector], operative: bool, t: float) -> str:
    """Accepted, or Scheduled when a transaction runs (1.6 §5.2, 2.0.1 G03/G04)."""
    scheduled = False
    for c in cs:
        if c.tx is not None and c.operative != operative:
            c.pending_operative = operative
            scheduled = True
        else:
            c.pending_operative = None
            if c.operative != operative:
                c.operative = operative
                show_status(st, c, t)
    return "Scheduled" if scheduled else "Accepted"


# ---------------------------------------------------------------- reservations
def reserve(st: StationCore, c: Connector, r: Reservation, t: float) -> None:
    c.reservation = r
    show_status(st, c, t)
    st.at(st.clock.wall_of_unix(r.expiry_s), _expire, st, c, r,
          name=f"reservation{c.connector_id}")


def _expire(t: float, st: StationCore, c: Connector, r: Reservation) -> None:
    if c.reservation is r:
        c.reservation = None
        show_status(st, c, t)
        if st.version_prefix != "1.6/":  # 2.0.1 H01: the CSMS is told of the expiry
            st.call("ReservationStatusUpdate", lambda: {
                "reservationId": r.reservation_id, "reservationUpdateStatus": "Expired"}, t)


def cancel_reservation(st: StationCore, reservation_id: int, t: float) -> bool:
    for c in st.connectors:
        r = c.reservation
        if r is not None and r.reservation_id == reservation_id:
            c.reservation = None
            st.cancel_timer(f"reservation{c.connector_id}")
            show_status(st, c, t)
            return True
    return False


# ---------------------------------------------------------------- firmware, diagnostics, logs
_FIRMWARE_16 = ("Downloading", "Downloaded", "Installing", "Installed")
_FIRMWARE_2 = ("Downloading", "Downloaded", "Installing", "InstallRebooting")


def start_firmware(st: StationCore, t: float, *, retrieve_unix: float,
                   request_id: int | None) -> None:
    """Walk the firmware status sequence from ``retrieve_unix`` on, then reboot."""
    first = max(t, st.clock.wall_of_unix(retrieve_unix))
    steps = _FIRMWARE_16 if st.version_prefix == "1.6/" else _FIRMWARE_2
    step_wall = st.clock.interval_wall(st.cfg.firmware_step_s)
    for i, status in enumerate(steps):
        st.at(first + i * step_wall, _firmware_step, st, status, request_id, name=f"fw{i}")


def _firmware_step(t: float, st: StationCore, status: str, request_id: int | None) -> None:
    if not st.connected:
        return
    _firmware_status(st, t, status, request_id)
    if status in ("Installed", "InstallRebooting"):
        extra(st)["firmware"] = st.cfg.firmware + "+upd"
        if status == "InstallRebooting":
            extra(st)["firmware_installed"] = request_id
        request_reboot(st, t, "OnIdle", boot_reason="FirmwareUpdate")


def _firmware_status(st: StationCore, t: float, status: str, request_id: int | None) -> None:
    p: dict[str, Any] = {"status": status}
    if request_id is not None and st.version_prefix != "1.6/":
        p["requestId"] = request_id
    st.call("FirmwareStatusNotification", lambda: p, t)


def start_upload(st: StationCore, t: float, *, action: str, request_id: int | None) -> None:
    """Diagnostics (1.6) or a log (2.x): Uploading, then Uploaded one step later."""
    step_wall = st.clock.interval_wall(st.cfg.firmware_step_s)
    for i, status in enumerate(("Uploading", "Uploaded")):
        p: dict[str, Any] = {"status": status}
        if request_id is not None:
            p["requestId"] = request_id
        st.at(t + (i + 1) * step_wall * 0.5, _upload_step, st, action, p, name=f"up{i}")


def _upload_step(t: float, st: StationCore, action: str, p: dict[str, Any]) -> None:
    if st.connected:
        st.call(action, lambda: p, t)


# ---------------------------------------------------------------- clock-aligned data
def start_aligned(st: StationCore, t: float) -> None:
    """Arm the next clock-aligned reading (ClockAlignedDataInterval, AlignedDataCtrlr).

    The CSMS set the interval in wall seconds: readings align to the real calendar
    (evenly spaced from midnight, 1.6 ClockAlignedDataInterval), ``interval`` wall
    seconds apart. With
    wall timestamps they carry aligned stamps; under a compressed simulated clock the
    stamps are the simulated time of each reading.
    """
    interval = st.aligned_interval_s
    extra(st)["aligned"] = interval > 0
    if interval <= 0:
        st.cancel_timer("aligned")
        return
    now_u = st.clock.calendar_unix(t)
    nxt = (now_u // interval + 1) * interval
    st.at(st.clock.wall_of_calendar(nxt), _aligned, st, name="aligned")


def _aligned(t: float, st: StationCore) -> None:
    if st.connected and not st.stopping:
        for c in st.connectors:
            st.advance(c, t)
            st.send_aligned(c, t)
    start_aligned(st, t + 1e-6)


def update_local_list(st: StationCore, *, full: bool, version: int,
                      entries: Iterable[tuple[str, str | None]]) -> str:
    """Apply a SendLocalList (1.6 §5.15, 2.0.1 D01); the status to answer.

    ``entries`` are (token, status or None to remove). Full replaces the list;
    Differential updates it and needs a version above the current one.
    """
    from fleetsim.station.config_keys import SEND_LIST_MAX

    items = list(entries)
    if len(items) > SEND_LIST_MAX:
        return "Failed"
    ex = extra(st)
    current, table = ex.get("local_list", (0, {}))
    if full:
        table = {}
    elif version <= current:
        return "VersionMismatch"
    else:
        table = dict(table)
    for token, status in items:
        if status is None:
            table.pop(token, None)
        else:
            table[token] = status
    ex["local_list"] = (version, table)
    return "Accepted"


def local_list_version(st: StationCore) -> int:
    return int((st.extra or {}).get("local_list", (0, {}))[0])

