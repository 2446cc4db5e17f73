"""Which planned sessions' cars speak ISO 15118, and which authorize by Plug & Charge.

The shares are the archetype's (``vehicles.iso15118_share`` / ``pnc_share`` in
``drivers_models/``, [A]-tagged there, carried on each :class:`Vehicle`), or the
scenario's numbers when it gives them. Which sessions is decided by a stable hash of
station id, connector and planned arrival: the plan's random streams are not touched
(adding the shares changed no plan), and the same scenario and seed give the same cars,
in ``fleetsim plan`` and in the run. Pure: no station, no clock.
"""

from __future__ import annotations

import zlib

from fleetsim.drivers.session import Session

__all__ = ["ISO15118", "NONE", "PNC", "draw", "protocol"]

NONE, ISO15118, PNC = "", "iso15118", "pnc"


def draw(salt: str, station_id: str, connector_id: int, arrival_s: float) -> float:
    """A uniform [0, 1) number fixed by the session's identity."""
    return zlib.crc32(f"{salt}/{station_id}/{connector_id}/{arrival_s:.3f}".encode()) / 2**32


def protocol(station_id: str, session: Session, iso15118_share: float,
             pnc_share: float) -> str:
    """:data:`PNC`, :data:`ISO15118` or :data:`NONE` (IEC 61851 PWM only) for the car."""
    x = draw("15118", station_id, session.connector_id, session.arrival_s)
    if x < pnc_share:
        return PNC
    return ISO15118 if x < max(iso15118_share, pnc_share) else NONE
