"""The stations' protocol settings for a scenario: one :class:`StationConfig` for every engine.

Its own module so an engine process (the Locust worker's child, a bench) takes it
without the in-process runner and the embedded CSMS that runner imports: the child's
start-up time is the stations' lateness at the run's origin.
"""

from __future__ import annotations

from fleetsim.drivers.registry import swap_archetypes
from fleetsim.scenario.model import Scenario
from fleetsim.scenario.security import security_profile
from fleetsim.station import StationConfig

__all__ = ["station_config"]


def station_config(s: Scenario) -> StationConfig:
    closed_loop = s.ocpp.heartbeat_interval_s == 0
    return StationConfig(vendor=s.stations.vendor, model=s.stations.model,
                         closed_loop_heartbeat=closed_loop,
                         meter_interval_s=s.ocpp.meter_interval_s,
                         interval_factor=s.clock.interval_factor,
                         heartbeat_interval_s=s.ocpp.heartbeat_interval_s or None,
                         measurands=s.ocpp.measurands, authorize=s.ocpp.authorize,
                         offline_tx_unknown_id=s.ocpp.allow_offline_tx_for_unknown_id,
                         call_timeout_wall_s=s.csms.call_timeout_s, strict=s.ocpp.strict,
                         v2x_share=s.ocpp.v2x_share, event_stream_s=s.ocpp.event_stream_s,
                         iso15118_share=s.ocpp.iso15118_share, pnc_share=s.ocpp.pnc_share,
                         iso15118_from_vehicles=s.ocpp.iso15118_from_vehicles,
                         local_auth_share=s.ocpp.local_auth_share,
                         security_events_per_day=s.ocpp.security_events_per_day,
                         notify_events_per_day=s.ocpp.notify_events_per_day,
                         outage_event_s=s.ocpp.outage_security_event_s,
                         ems_limits_per_day=s.ocpp.ems_limits_per_day,
                         master_pass_group=s.ocpp.master_pass_group,
                         master_pass_per_day=s.ocpp.master_pass_per_day,
                         message_ids=s.ocpp.message_ids,
                         adhoc_share=s.ocpp.adhoc_share, chain_status_s=s.ocpp.chain_status_s,
                         priority_share=s.ocpp.priority_share,
                         swap=swap_archetypes(s),
                         security_profile=security_profile(s.csms.password, s.csms.tls),
                         reconnect=s.reconnect)
