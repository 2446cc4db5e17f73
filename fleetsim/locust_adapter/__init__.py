"""fleetsim under Locust: one Locust user is one charging station.

The only package that imports locust or gevent — except :mod:`.child`, the
engine process, which must stay free of both (it is a clean interpreter that
gevent's monkey-patching never reaches) and therefore is imported on its own.
Import what you need lazily from here::

    from fleetsim.locust_adapter import FleetUser, install
"""

from __future__ import annotations

from typing import Any

__all__ = ["EngineBridge", "FleetUser", "ScenarioShape", "install"]


def __getattr__(name: str) -> Any:
    # lazy: importing fleetsim.locust_adapter.child must not drag in locust (and gevent)
    if name == "FleetUser":
        from fleetsim.locust_adapter.user import FleetUser

        return FleetUser
    if name == "install":
        from fleetsim.locust_adapter.node import install

        return install
    if name == "EngineBridge":
        from fleetsim.locust_adapter.bridge import EngineBridge

        return EngineBridge
    if name == "ScenarioShape":
        from fleetsim.locust_adapter.shapes import ScenarioShape

        return ScenarioShape
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
