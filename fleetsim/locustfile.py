"""``locust -f fleetsim/locustfile.py --fleetsim-scenario scenarios/quickstart.yaml``.

One Locust user is one charging station; see README "Running under Locust".
"""

from locust import events

from fleetsim.locust_adapter import install
from fleetsim.locust_adapter.user import FleetUser

install(events)


class ChargingStation(FleetUser):
    """A station of the scenario's fleet (its index decides which one)."""
