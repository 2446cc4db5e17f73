"""One Locust user is one charging station."""

from __future__ import annotations

from locust import User, constant, task
from locust.env import Environment

from fleetsim.locust_adapter.node import node_for

__all__ = ["FleetUser"]


class FleetUser(User):
    """Holds one station of the fleet while it is running.

    On start it claims a global station index (the same station — id, OCPP
    version, connectors, archetype, random streams — whatever the number of
    workers) and asks this worker's engine child to connect it; on stop the
    station ends its transactions, closes its socket and the index is freed.
    The station's traffic runs in the engine child on uvloop, never in this
    greenlet; its latencies reach Locust as ``OCPP`` requests named
    ``<version>/<Action>``.
    """

    abstract = True
    wait_time = constant(3600.0)  # the user only holds its place; stopping it is immediate

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self.station_index: int | None = None

    def on_start(self) -> None:
        node = node_for(self.environment)
        self.station_index = node.claim()
        node.start_station(self.station_index)

    def on_stop(self) -> None:
        index, self.station_index = self.station_index, None
        if index is not None:
            node_for(self.environment).stop_station(index)

    @task
    def hold(self) -> None:
        """Nothing to do here: the station lives in the engine child."""
