"""One Locust user is one charging station."""

from __future__ import annotations

import logging
import traceback

import gevent
from gevent.greenlet import Greenlet
from gevent.pool import Group
from locust import User, constant, task
from locust.env import Environment
from locust.exception import StopTest, StopUser
from locust.user.task import LOCUST_STATE_STOPPING, LOCUST_STATE_WAITING

from fleetsim.locust_adapter.node import node_for

log = logging.getLogger(__name__)

__all__ = ["FleetUser"]


class FleetUser(User):
    """Holds one station of the fleet while it is running.

    On start it claims a global station index (the same station — id, OCPP
    version, connectors, archetype, random streams — whatever the number of
    workers) and asks this worker's engine child to connect it; on stop the
    station ends its transactions, closes its socket and the index is freed.
    The station's traffic runs in the engine child on uvloop, never in a
    greenlet; its latencies reach Locust as ``OCPP`` requests named
    ``<version>/<Action>``.

    **No greenlet per station.** Locust counts a user by its greenlet in the runner's
    group and stops it through :meth:`stop`; it never needs the greenlet to run. A
    sleeping greenlet costs ~8 KiB here (its saved stack and Python data stack), 800 MiB
    for 100,000 stations (issue 13), so a station's user holds a greenlet that is never
    started (a few hundred bytes): Locust counts, dispatches and stops it as any user.
    A short-lived greenlet claims the index and starts the station, then ends.
    """

    abstract = True
    wait_time = constant(3600.0)  # the user only holds its place; stopping it is immediate

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self.station_index: int | None = None

    def start(self, group: Group) -> Greenlet:
        self._group = group
        self._greenlet = Greenlet(_never_runs, self)  # args[0] is the user, as Locust reads it
        group.add(self._greenlet)
        self._state = LOCUST_STATE_WAITING
        self._starter: Greenlet | None = gevent.spawn(self._begin)
        return self._greenlet

    def _begin(self) -> None:
        try:
            self.on_start()
        except (StopUser, StopTest, gevent.GreenletExit):
            self._group.killone(self._greenlet, block=False)
        except Exception as e:  # as Locust's own User.run reports an on_start failure
            log.error("%s\n%s", e, traceback.format_exc())
            self.environment.events.user_error.fire(user_instance=self, exception=e,
                                                    tb=e.__traceback__)
            self._group.killone(self._greenlet, block=False)
        finally:
            self._starter = None

    def stop(self, force: bool = False) -> bool:
        """Stop the station now (its transactions end in the engine) and drop the user."""
        if self._state == LOCUST_STATE_STOPPING:
            return True
        self._state = LOCUST_STATE_STOPPING
        starter = self._starter
        if starter is not None and starter is not gevent.getcurrent():
            starter.kill(block=False)  # a claim still waiting is abandoned (IndexClaims)
        try:
            self.on_stop()
        finally:
            self._group.killone(self._greenlet, block=False)
        return True

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


def _never_runs(user: FleetUser) -> None:  # pragma: no cover - the placeholder never starts
    raise AssertionError("a FleetUser's greenlet is a placeholder and never runs")
