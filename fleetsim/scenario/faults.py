"""``faults:``: seeded faults fleetsim injects on purpose, to see how the CSMS copes.

```yaml
faults:
  - disconnect: {at: 30s, share: 50%, mode: dirty}     # TCP drop, no close frame
  - disconnect: {every: 60s, share: 5%, mode: clean}   # close frame 1000
  - disconnect: {at: "17:00", share: 20%, mode: pong_timeout}   # the link goes silent
  - {action: MeterValues, drop: 2%}                    # per-action message faults
  - {action: TransactionEvent, delay: 500ms}
  - {action: StatusNotification, duplicate: 1%}        # the same frame twice, same id
  - latency: {ms: 300, jitter_ms: 50, share: 100%}     # per-station network latency
  - csms_restart: {at: 20s, down_for: 5s}              # the embedded CSMS crashes
```

When: ``at`` is a wall time after the start (``30s``) or, quoted, a simulated
time of day (``"17:00"``, every simulated day); ``every`` repeats after a wall
period (first at ``at`` if given, else after one period). ``pong_timeout`` stops
the station's side of the link (nothing sent, nothing read) until its own
liveness check — WebSocket pings every ``reconnect.ping_interval`` (10 s if
unset), ``reconnect.ping_timeout`` to answer — drops it. A ``csms_restart``
SIGKILLs the embedded CSMS (``mode: stop``: SIGTERM, a clean shutdown) and starts
it again on the same port and ledger after ``down_for``; with ``mode: kill`` the
embedded CSMS commits its ledger before each answer, so the reconciliation judges
the stations, not the CSMS's 0.2 s write buffer. Which stations and which messages
are hit follows from the seed alone (:mod:`fleetsim.transport.faults`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum

from fleetsim.exceptions import ScenarioError
from fleetsim.scenario.reader import Node

__all__ = ["CsmsRestart", "DisconnectFault", "DisconnectMode", "FaultPlan", "LatencyFault",
           "MessageFault", "When", "occurrences", "parse_faults"]

_SHARE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")
_TIME_OF_DAY = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")


class DisconnectMode(StrEnum):
    CLEAN = "clean"                # close frame 1000 from the station
    DIRTY = "dirty"                # transport.abort(): no close frame
    PONG_TIMEOUT = "pong_timeout"  # silent link until the station's ping times out


@dataclass(frozen=True, slots=True)
class When:
    """One of: once at ``at_s`` wall seconds; daily at ``daily_at_s`` simulated seconds
    after midnight UTC; every ``every_s`` wall seconds (first at ``at_s`` or ``every_s``)."""

    at_s: float | None = None
    daily_at_s: float | None = None
    every_s: float | None = None


@dataclass(frozen=True, slots=True)
class DisconnectFault:
    when: When
    share: float
    mode: DisconnectMode


@dataclass(frozen=True, slots=True)
class MessageFault:
    """Faults on the station's outgoing CALLs of ``action`` (``*``: every action)."""

    action: str
    drop: float = 0.0
    duplicate: float = 0.0
    delay_s: float = 0.0


@dataclass(frozen=True, slots=True)
class LatencyFault:
    """Each chosen station's outgoing frames wait ``ms ± U(jitter_ms)``, order kept."""

    ms: float
    jitter_ms: float = 0.0
    share: float = 1.0


@dataclass(frozen=True, slots=True)
class CsmsRestart:
    when: When
    down_for_s: float
    mode: str = "kill"  # kill (SIGKILL, a crash) | stop (SIGTERM, clean)


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """The validated ``faults:`` list, by kind (rules keep their order: their number
    is part of the seed of what they hit)."""

    disconnects: tuple[DisconnectFault, ...] = ()
    messages: tuple[MessageFault, ...] = ()
    latency: LatencyFault | None = None
    csms_restarts: tuple[CsmsRestart, ...] = ()

    @property
    def station_side(self) -> bool:
        """Whether the engine has anything to inject."""
        return bool(self.disconnects or self.messages or self.latency is not None)

    @property
    def needs_pings(self) -> bool:
        return any(d.mode is DisconnectMode.PONG_TIMEOUT for d in self.disconnects)


def occurrences(when: When, *, day_s_at_origin: float, factor: float) -> Iterator[float]:
    """Wall seconds after the run's origin at which ``when`` fires, in order (maybe endless).

    ``day_s_at_origin`` is the simulated time of day at the origin [s after midnight UTC];
    ``factor`` simulated seconds pass per wall second.
    """
    if when.daily_at_s is not None:
        first_sim_s = (when.daily_at_s - day_s_at_origin) % 86400.0
        k = 0
        while True:
            yield (first_sim_s + k * 86400.0) / factor
            k += 1
    if when.every_s is None:
        if when.at_s is not None:
            yield when.at_s
        return
    t = when.at_s if when.at_s is not None else when.every_s
    while True:
        yield t
        t += when.every_s


def _share(n: Node, key: str, default: object) -> float:
    v = n.raw(key, default)
    if isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1:
        return float(v)
    m = _SHARE.match(str(v))
    if not m or float(m.group(1)) > 100:
        raise n.error(f"expected a share like 5% (or 0.05), got {v!r}", key)
    return float(m.group(1)) / 100


def _when(n: Node) -> When:
    at, every = n.raw("at"), n.raw("every")
    if at is None and every is None:
        raise n.error("give at (30s, or a quoted simulated time of day like \"17:00\") "
                      "and/or every")
    every_s = n.duration_s("every", positive=True) if every is not None else None
    if isinstance(at, str) and _TIME_OF_DAY.match(at):
        m = _TIME_OF_DAY.match(at)
        assert m is not None
        h, mi = int(m.group(1)), int(m.group(2))
        if h > 23 or mi > 59:
            raise n.error(f"not a time of day: {at!r}", "at")
        if every_s is not None:
            raise n.error("a time of day repeats daily; do not combine it with every", "every")
        return When(daily_at_s=h * 3600.0 + mi * 60.0)
    at_s = n.duration_s("at") if at is not None else None
    return When(at_s=at_s, every_s=every_s)


def _message(n: Node) -> MessageFault:
    action = n.string("action")
    if not (action == "*" or action.isalnum()):
        raise n.error(f"expected an OCPP action like MeterValues (or '*'), got {action!r}",
                      "action")
    f = MessageFault(action=action, drop=_share(n, "drop", 0), duplicate=_share(n, "duplicate", 0),
                     delay_s=n.duration_s("delay", "0s"))
    if not (f.drop or f.duplicate or f.delay_s):
        raise n.error("give drop, duplicate and/or delay")
    if f.drop + f.duplicate > 1:
        raise n.error("drop + duplicate must not exceed 100%")
    return f


def parse_faults(value: object, *, file: str, embedded: bool) -> FaultPlan:
    """The ``faults:`` list (an empty plan when absent)."""
    if value is None:
        return FaultPlan()
    if not isinstance(value, list):
        raise ScenarioError(file, "faults", "expected a list of faults")
    disconnects: list[DisconnectFault] = []
    messages: list[MessageFault] = []
    restarts: list[CsmsRestart] = []
    latency: LatencyFault | None = None
    for i, item in enumerate(value):
        top = Node(item, file=file, path=f"faults[{i}]")
        if "action" in top.data:
            messages.append(_message(top))
            top.finish()
            continue
        if not isinstance(item, Mapping) or len(item) != 1:
            raise top.error("expected {action: …, drop|delay|duplicate: …} or one of "
                            "disconnect, latency, csms_restart")
        kind = str(next(iter(item)))
        n = top.child(kind)
        if kind == "disconnect":
            mode = n.string("mode", DisconnectMode.DIRTY.value,
                            choices=tuple(m.value for m in DisconnectMode))
            disconnects.append(DisconnectFault(when=_when(n), share=_share(n, "share", 1.0),
                                               mode=DisconnectMode(mode)))
        elif kind == "latency":
            if latency is not None:
                raise top.error("only one latency fault", kind)
            latency = LatencyFault(ms=n.number("ms", minimum=0.0),
                                   jitter_ms=n.number("jitter_ms", 0.0, minimum=0.0),
                                   share=_share(n, "share", 1.0))
            if latency.jitter_ms > latency.ms:
                raise n.error("jitter_ms must not exceed ms", "jitter_ms")
        elif kind == "csms_restart":
            if not embedded:
                raise n.error("only the embedded CSMS can be restarted (csms.target: embedded)")
            when = _when(n)
            restarts.append(CsmsRestart(when=when, down_for_s=n.duration_s("down_for", "5s"),
                                        mode=n.string("mode", "kill", choices=("kill", "stop"))))
        else:
            raise top.error(f"unknown fault {kind!r} (disconnect, latency, csms_restart, or a "
                            "message fault with action:)")
        n.finish()
    return FaultPlan(disconnects=tuple(disconnects), messages=tuple(messages), latency=latency,
                     csms_restarts=tuple(restarts))
