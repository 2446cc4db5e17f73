"""``reconnect:``: how stations come back after losing the CSMS, per OCPP version.

```yaml
reconnect:
  v16: {mode: jittered, wait: 10s, jitter: 10s}   # 1.6 names no algorithm: fixed or jittered
  v2: {wait_minimum: 10s, random_range: 10s, repeat_times: 5}   # 2.0.1 / 2.1: the spec's
  boot_on_reconnect: true      # BootNotification on every new connection (today's default)
  offline_threshold: 60s       # OCPPCommCtrlr.OfflineThreshold [wall s]; 1.6 uses it too
  ping_interval: 0s            # WebSocketPingInterval [wall s]; 0: no station-side pings
  ping_timeout: 10s            # no pong within this long: the station drops the link
```

OCPP 1.6 leaves reconnecting to the vendor: ``fixed`` waits ``wait`` every time
(a fleet that lost the CSMS together comes back together), ``jittered`` waits
``wait + U(0, jitter)``. OCPP 2.0.1/2.1 prescribe the algorithm (part 4 §5.3
"Reconnecting"; the OCPPCommCtrlr.RetryBackOff* variables, referenced from part 2
B10): see :mod:`fleetsim.transport.backoff`. Reconnect waits, pings and the offline
threshold are *wall* seconds, like every other protocol interval (the threshold is
divided by ``time_factor`` only under ``clock.intervals: simulated``).

The spec says a station need not boot again after a mere reconnect (2.0.1 B01
applies to a (re)start); many CSMSs expect it anyway, hence ``boot_on_reconnect``.
Without a boot, a station that was offline longer than ``offline_threshold``
sends StatusNotification for every connector, otherwise only for those whose
status changed meanwhile (2.0.1 OCPPCommCtrlr.OfflineThreshold).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from fleetsim.scenario.reader import Node

__all__ = ["DEFAULT_PING_INTERVAL_S", "ReconnectConfig", "RetryBackOff", "V16Mode",
           "parse_reconnect"]

DEFAULT_PING_INTERVAL_S = 10.0  # when a pong_timeout fault needs pings and none were set


class V16Mode(StrEnum):
    FIXED = "fixed"
    JITTERED = "jittered"


@dataclass(frozen=True, slots=True)
class RetryBackOff:
    """OCPP 2.0.1 OCPPCommCtrlr.RetryBackOff{WaitMinimum, RandomRange, RepeatTimes} [wall s]."""

    wait_minimum_s: float = 10.0
    random_range_s: float = 10.0
    repeat_times: int = 5


@dataclass(frozen=True, slots=True)
class ReconnectConfig:
    """The validated ``reconnect:`` section (defaults when absent)."""

    v16_mode: V16Mode = V16Mode.JITTERED
    v16_wait_s: float = 10.0
    v16_jitter_s: float = 10.0
    v2: RetryBackOff = field(default_factory=RetryBackOff)
    boot_on_reconnect: bool = True
    offline_threshold_s: float = 60.0   # wall seconds (clock.intervals)
    ping_interval_s: float = 0.0        # wall seconds; 0: off
    ping_timeout_s: float = 10.0
    ping_interval_given: bool = False   # the scenario set ping_interval (even to 0)


def parse_reconnect(n: Node) -> ReconnectConfig:
    """The ``reconnect:`` mapping (defaults when absent)."""
    v16 = n.child("v16")
    mode = V16Mode(v16.string("mode", V16Mode.JITTERED.value,
                              choices=tuple(m.value for m in V16Mode)))
    wait = v16.duration_s("wait", "10s")
    jitter = v16.duration_s("jitter", "10s" if mode is V16Mode.JITTERED else "0s")
    v16.finish()
    v2n = n.child("v2")
    v2 = RetryBackOff(wait_minimum_s=v2n.duration_s("wait_minimum", "10s"),
                      random_range_s=v2n.duration_s("random_range", "10s"),
                      repeat_times=v2n.integer("repeat_times", 5, minimum=0, maximum=30))
    v2n.finish()
    cfg = ReconnectConfig(
        v16_mode=mode, v16_wait_s=wait, v16_jitter_s=jitter, v2=v2,
        boot_on_reconnect=n.boolean("boot_on_reconnect", True),
        offline_threshold_s=n.duration_s("offline_threshold", "60s"),
        ping_interval_s=n.duration_s("ping_interval", "0s"),
        ping_timeout_s=n.duration_s("ping_timeout", "10s", positive=True),
        ping_interval_given=n.has("ping_interval"))
    n.finish()
    return cfg
