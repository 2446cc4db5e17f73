"""The scenario's ``load:`` section as a Locust ``LoadTestShape`` (so the web UI shows it)."""

from __future__ import annotations

import time

from locust import LoadTestShape

from fleetsim.scenario.load import LoadShape

__all__ = ["ScenarioShape"]


class ScenarioShape(LoadTestShape):
    """Users (= stations) over wall time from :meth:`LoadShape.users_at`; ends with the run."""

    abstract = True  # made by the fleetsim plugin from the scenario, never picked up alone

    def __init__(self, load: LoadShape) -> None:
        # LoadTestShape.__init__ only stamps the start (untyped in locust): done here
        self.start_time = time.perf_counter()
        self.load = load

    def tick(self) -> tuple[int, float] | None:
        users = self.load.users_at(time.perf_counter() - self.start_time)
        return None if users is None else (users, self.load.spawn_rate)
