"""OCPP 2.1: the station's answers to the CSMS requests new in 2.1, on top of 2.0.1's.

2.1 keeps every 2.0.1 CSMS → station request (:mod:`fleetsim.station.handlers2`);
each group of new ones lives in its own module, merged here.
"""

from __future__ import annotations

from fleetsim.station.der import DER_HANDLERS
from fleetsim.station.dispatch import Handler
from fleetsim.station.handlers2 import HANDLERS
from fleetsim.station.streams import STREAM_HANDLERS

__all__ = ["HANDLERS21"]

HANDLERS21: dict[str, Handler] = {**HANDLERS, **DER_HANDLERS, **STREAM_HANDLERS}
