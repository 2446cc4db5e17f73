"""OCPP 2.1: the station's answers to the CSMS requests new in 2.1, on top of 2.0.1's.

2.1 keeps every 2.0.1 CSMS → station request (:mod:`fleetsim.station.handlers2`);
each group of new ones lives in its own module, merged here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fleetsim.station.der import DER_HANDLERS
from fleetsim.station.dispatch import Handler
from fleetsim.station.handlers2 import HANDLERS
from fleetsim.station.payments import PAYMENT_HANDLERS, web_payment_start
from fleetsim.station.priority import PRIORITY_HANDLERS
from fleetsim.station.streams import STREAM_HANDLERS
from fleetsim.station.swap import SWAP_HANDLERS

if TYPE_CHECKING:
    from fleetsim.station.v2 import Station21

__all__ = ["HANDLERS21"]


def request_start21(st: Station21, p: dict[str, Any], now: float) -> dict[str, Any]:
    """RequestStartTransaction: for an EVSE whose driver pays on the web (QR code, C24) it
    authorises the waiting transaction; otherwise as in 2.0.1 (F01/F02)."""
    evse_id = p.get("evseId")
    if evse_id and 1 <= evse_id <= len(st.connectors):
        answer = web_payment_start(st, st.connectors[evse_id - 1], p, now)
        if answer is not None:
            return answer
    return HANDLERS["RequestStartTransaction"](st, p, now)


HANDLERS21: dict[str, Handler] = {**HANDLERS, **DER_HANDLERS, **STREAM_HANDLERS,
                                  **PAYMENT_HANDLERS, **PRIORITY_HANDLERS, **SWAP_HANDLERS,
                                  "RequestStartTransaction": request_start21}
