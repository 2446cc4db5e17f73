"""Per-station settings the engine derives once from the scenario."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fleetsim.scenario.model import DEFAULT_MEASURANDS
from fleetsim.scenario.reconnect import ReconnectConfig

if TYPE_CHECKING:
    from fleetsim.drivers.archetype import SwapParams

__all__ = ["StationConfig"]


@dataclass(frozen=True, slots=True)
class StationConfig:
    """Station behaviour. Protocol intervals are wall seconds, divided by ``interval_factor``
    when the scenario asked for compressed intervals (``clock.intervals: simulated``);
    the ``remote_*`` and ``firmware_step_s`` durations are simulated seconds."""

    vendor: str = "fleetsim"
    model: str = "SimStation"
    firmware: str = "0.1.0"
    meter_interval_s: float = 60.0
    interval_factor: float = 1.0     # the scenario's meter/heartbeat/offline intervals ÷ this
    heartbeat_interval_s: float | None = None  # None: the interval the CSMS returns
    closed_loop_heartbeat: bool = False  # benchmarks: each Heartbeat as soon as the last is answered
    boot_retry_default_s: float = 30.0         # [wall s] when Pending/Rejected come with interval 0
    measurands: tuple[str, ...] = DEFAULT_MEASURANDS
    authorize: bool = True
    # AllowOfflineTxForUnknownId: a car that arrives before the first boot, or whose
    # Authorize got a CALLERROR or no answer, charges anyway (else it waits / is refused)
    offline_tx_unknown_id: bool = False
    call_timeout_wall_s: float = 30.0
    reconnect: ReconnectConfig = field(default_factory=ReconnectConfig)  # backoff, boot on reconnect, pings
    # protocol depth (issue #5): what the CSMS may change at run time starts from these
    authorize_remote: bool = True          # AuthorizeRemoteTxRequests / AuthCtrlr.AuthorizeRemoteStart
    tx_message_attempts: int = 3           # TransactionMessageAttempts (1.6 §4.10 / 2.0.1 E13)
    tx_retry_interval_s: float = 60.0      # TransactionMessageRetryInterval [wall s]
    connection_timeout_s: float = 60.0     # ConnectionTimeOut / TxCtrlr.EVConnectionTimeOut
    offline_queue_max: int = 10_000        # queued transaction messages; oldest meter values go first
    reboot_wall_s: float = 0.5             # how long a reset or firmware install keeps it away
    remote_dwell_s: float = 7200.0         # a remote-started car stays this long [simulated s]
    remote_energy_kwh: float = 20.0        # … and wants this much
    firmware_step_s: float = 60.0          # each firmware/diagnostics/log status step [simulated s]
    iso15118_share: float = 0.0            # 2.0.1: cars sending ISO 15118 needs (iso15118.py)
    pnc_share: float = 0.0                 # 2.0.1: cars authorizing by Plug & Charge
    iso15118_from_vehicles: bool = False   # the two shares above from each car's vehicle mix
    local_auth_share: float = 0.0          # stations with LocalPreAuthorize + cache on (localauth)
    security_events_per_day: float = 0.0   # background SecurityEventNotification (incidents.py)
    notify_events_per_day: float = 0.0     # 2.x background hardwired NotifyEvent (incidents.py)
    ems_limits_per_day: float = 0.0        # 2.x external limits from a local EMS (ems.py)
    master_pass_group: str = ""            # 2.x AuthCtrlr.MasterPassGroupId ("": none; C16)
    master_pass_per_day: float = 0.0       # 2.x master pass stops per station-day (masterpass.py)
    # [A] an outage longer than this [wall s; ÷ interval_factor] is reported on reconnect with a
    # SecurityEventNotification (security.OUTAGE_EVENT); 0: never
    outage_event_s: float = 3600.0
    local_pre_authorize: bool = False      # LocalPreAuthorize: no Authorize for a known token
    auth_cache: bool = False               # AuthorizationCacheEnabled / AuthCacheCtrlr.Enabled
    security_profile: int = 0              # 0 none, 1 Basic, 2 TLS + Basic, 3 mutual TLS
    strict: bool = False                   # validate every received CSMS message (conformance)
    event_stream_s: float = 0.0            # 2.1: NotifyPeriodicEventStream SENDs every … (0: off)
    v2x_share: float = 0.30                # [A] 2.1: cars that can discharge (station/v2x.py)
    message_ids: str = "uuid"              # "uuid" or "counter": see station.message_ids
    # 2.1 (issue 15): ad hoc payers (station/payments.py), certificate-chain checks
    # (chain_status.py), swap archetypes → their rack and bay (swap.py)
    adhoc_share: float = 0.0
    priority_share: float = 0.10           # [A] drivers asking for priority (priority.py)
    chain_status_s: float = 0.0
    swap: Mapping[str, SwapParams] = field(default_factory=dict)
