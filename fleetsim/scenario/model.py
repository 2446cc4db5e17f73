"""The scenario as frozen dataclasses: what a run does, validated once at the edge.

Time has two scales. *Wall* seconds are real time (duration, connect rate,
timeouts, and every protocol interval: heartbeat, meter sampling, retries,
backoff). *Simulated* seconds are the driver model's clock (arrivals, dwell,
charging); ``clock.time_factor`` simulated seconds pass per wall second, so a
factor of 1440 runs a day in a minute with the same session plan while each
station keeps the message rate of a real one. ``clock.intervals: simulated``
compresses the scenario's own protocol intervals too, on request; what a CSMS
sets always means wall seconds (see :class:`ClockConfig`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from fleetsim.scenario.commands import CommandSpec
from fleetsim.scenario.faults import FaultPlan
from fleetsim.scenario.load import LoadShape
from fleetsim.scenario.reconnect import ReconnectConfig
from fleetsim.scenario.security import TlsConfig

__all__ = [
    "DEFAULT_MEASURANDS",
    "ClockConfig",
    "CsmsTarget",
    "DriversConfig",
    "OcppConfig",
    "OcppVersion",
    "Scenario",
    "StationsConfig",
]


DEFAULT_MEASURANDS = (
    "Energy.Active.Import.Register",
    "Power.Active.Import",
    "Current.Import",
    "Voltage",
)


class OcppVersion(StrEnum):
    """OCPP-J versions fleetsim speaks; the value is how users write them."""

    V16 = "1.6"
    V201 = "2.0.1"
    V21 = "2.1"

    @property
    def subprotocol(self) -> str:
        """WebSocket subprotocol (OCPP-J 1.6 §3.1.2, OCPP 2.0.1 part 4 §3.1)."""
        return "ocpp" + self.value


@dataclass(frozen=True, slots=True)
class StationsConfig:
    count: int
    id_prefix: str = "FS"
    id_digits: int = 6
    connectors: int = 1
    versions: Mapping[OcppVersion, float] = field(default_factory=lambda: {OcppVersion.V16: 1.0})
    connect_rate_per_s: float = 100.0
    source_addresses: tuple[str, ...] = ()
    vendor: str = "fleetsim"
    model: str = "SimStation"
    stop_spread_s: float = 2.0  # wall s over which the run's end stops open transactions
    # the fleet's stops per wall s at the run's end, at most (the loader's default: the
    # connect rate, the ramp run backwards); None here: the connect rate
    stop_rate_per_s: float | None = None

    def end_spread_s(self, stations: int, engines: int = 1) -> float:
        """How long an engine of ``stations`` spreads its stops at a run's end: over
        ``stop_spread_s`` (0: the stop burst, a fault on purpose), and, with the run's
        other ``engines - 1`` engines, at no more than ``stop_rate`` stations a second
        (default ``connect_rate``: the ramp run backwards; ``StopPacer`` paces it)."""
        if self.stop_spread_s <= 0 or stations <= 1:
            return 0.0
        return max(self.stop_spread_s, stations / self.end_rate_per_s(engines))

    def end_rate_per_s(self, engines: int = 1) -> float:
        """One of ``engines`` engines' share of ``stop_rate``: its stops' pace."""
        rate = self.stop_rate_per_s or self.connect_rate_per_s
        return rate / max(1, engines)


@dataclass(frozen=True, slots=True)
class CsmsTarget:
    """Where stations connect. ``embedded`` starts fleetsim's own CSMS on loopback."""

    embedded: bool = True
    urls: Mapping[OcppVersion, str] = field(default_factory=dict)
    url_template: str = "{url}/{station_id}"
    connect_timeout_s: float = 10.0
    call_timeout_s: float = 30.0
    password: str | None = None
    heartbeat_interval_s: float = 300.0
    token_prefix: str = ""
    compression: str = "off"       # "deflate": offer permessage-deflate (RFC 7692)
    tls: TlsConfig | None = None   # security profiles 2 and 3 (fleetsim/scenario/security.py)

    def url_for(self, version: OcppVersion, station_id: str) -> str:
        base = self.urls[version].rstrip("/")
        return self.url_template.format(url=base, station_id=station_id)


DEFAULT_EPOCH = datetime(2026, 1, 5, tzinfo=UTC)
"""Simulated time zero without ``clock.start``: a Monday, 00:00 UTC, so plans reproduce."""


@dataclass(frozen=True, slots=True)
class ClockConfig:
    """``clock:``; which timers compress.

    - driver sessions (arrival, dwell, energy drawn): always, by ``time_factor``;
    - the scenario's protocol intervals (``ocpp.meter_interval``,
      ``ocpp.heartbeat_interval``, ``reconnect.offline_threshold``): wall seconds, unless
      ``intervals`` is ``"simulated"`` (the user asks for a chatty fleet);
    - what the CSMS sets (the BootNotification interval, HeartbeatInterval,
      MeterValueSampleInterval / TxUpdatedInterval, clock-aligned intervals,
      TransactionMessageRetryInterval, OfflineThreshold): wall seconds, always;
    - reconnect backoff, pings, call timeouts: wall seconds, always;
    - timestamps: ``timestamps`` (``"wall"`` by default at ``time_factor: 1`` without
      ``start``, else ``"simulated"``).
    """

    time_factor: float = 1.0
    start: datetime | None = None
    timestamps: str = "simulated"  # or "wall"
    intervals: str = "wall"        # or "simulated": scenario intervals divided by time_factor

    @property
    def interval_factor(self) -> float:
        """What the scenario's own protocol intervals are divided by to become wall seconds."""
        return self.time_factor if self.intervals == "simulated" else 1.0

    @property
    def epoch(self) -> datetime:
        """Simulated time zero: ``start``, or :data:`DEFAULT_EPOCH`."""
        return self.start or DEFAULT_EPOCH


@dataclass(frozen=True, slots=True)
class OcppConfig:
    """Station-side protocol settings; intervals in wall seconds (``clock.intervals``)."""

    meter_interval_s: float = 60.0
    heartbeat_interval_s: float | None = None  # None: use the interval the CSMS returns
    measurands: tuple[str, ...] = DEFAULT_MEASURANDS
    authorize: bool = True
    strict: bool = False  # validate every CSMS message; count violations (conformance)
    event_stream_s: float = 0.0  # 2.1: a periodic event stream per transaction (0: none)
    v2x_share: float = 0.30  # [A] cars on a 2.1 station that can discharge (station/v2x.py)
    adhoc_share: float = 0.0  # 2.1: sessions paying ad hoc (station/payments.py; [A] 0.10)
    chain_status_s: float = 0.0  # 2.1: GetCertificateChainStatus every … (0: never)
    priority_share: float = 0.10  # [A] 2.1: drivers asking for priority (station/priority.py)
    # issue 14 traffic mix (0: off; scenarios/realistic_201.yaml sets the [A] values)
    iso15118_share: float = 0.0  # 2.0.1 cars sending ISO 15118 needs (station/iso15118.py)
    pnc_share: float = 0.0       # 2.0.1 cars authorizing by Plug & Charge
    iso15118_from_vehicles: bool = False  # iso15118_share: vehicles (each archetype's mix)
    local_auth_share: float = 0.0  # stations with LocalPreAuthorize + cache (localauth.py)
    security_events_per_day: float = 0.0  # per station (station/incidents.py)
    notify_events_per_day: float = 0.0    # per 2.x station: hardwired faults
    ems_limits_per_day: float = 0.0       # per 2.x station: external limits (station/ems.py)
    master_pass_group: str = ""           # 2.x AuthCtrlr.MasterPassGroupId (station/masterpass.py)
    master_pass_per_day: float = 0.0      # per 2.x station: master pass stops
    # [A] a reconnect after an outage longer than this sends a security event (0: never)
    outage_security_event_s: float = 3600.0
    message_ids: str = "uuid"  # "uuid" (unique across the fleet) or "counter" ("1", "2", …)
    allow_offline_tx_for_unknown_id: bool = False  # charge without Authorize's Accepted


@dataclass(frozen=True, slots=True)
class DriversConfig:
    """Which driver models plan sessions: archetype name → share of stations."""

    mix: Mapping[str, float] = field(default_factory=lambda: {"uniform": 1.0})
    overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    models_dir: str = "drivers_models"


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    file: str
    seed: int
    duration_s: float
    stations: StationsConfig
    csms: CsmsTarget
    clock: ClockConfig
    ocpp: OcppConfig
    drivers: DriversConfig
    slo: tuple[str, ...] = ()
    # errors this run may see without failing (report/run_errors.py): unbooted, timeout,
    # callerror, callerror:<Code>, all
    expect_errors: tuple[str, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict)
    load: LoadShape | None = None  # the ``load:`` ramp shape; None: whole fleet at once
    csms_commands: tuple[CommandSpec, ...] = ()  # what the embedded CSMS sends (commands.py)
    faults: FaultPlan = field(default_factory=FaultPlan)  # what fleetsim injects on purpose (faults.py)
    reconnect: ReconnectConfig = field(default_factory=ReconnectConfig)  # how stations come back (reconnect.py)
