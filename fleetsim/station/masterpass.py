"""Master pass (OCPP 2.0.1/2.1 part 2 C16): a service card that stops every transaction.

A technician (or a site operator) presents a master pass card at a station while cars
charge. The station asks the CSMS (Authorize, the card as an ISO14443 token); when the
answer puts the card in the group AuthCtrlr.MasterPassGroupId (``groupIdToken``), the
station, having no display to pick one, stops every transaction (C16: TransactionEvent
Ended, trigger StopAuthorized, stoppedReason MasterPass). A car that plugs in with a
master pass card gets no transaction (:meth:`fleetsim.station.v2.Station2._authorized`).
1.6 has no master pass.

Visits come as a Poisson process at ``ocpp.master_pass_per_day`` per station and
simulated day, drawn with the background incidents (0 by default; [A] 0.05 in
``scenarios/realistic_201.yaml``: a service stop every 20 station-days), and only while
a transaction runs (a card shown to an idle station changes nothing). The card's id is
the master pass group followed by a stable hash of the station id, so the embedded
CSMS (``CsmsConfig.master_pass_prefix``, default ``FSMASTER``) knows it.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

from fleetsim.station.dispatch import const
from fleetsim.station.localauth import is_master_pass, master_pass_group

if TYPE_CHECKING:
    from fleetsim.station.core import Payload, StationCore

__all__ = ["MASTER_PASS_PER_DAY", "card", "present"]

MASTER_PASS_PER_DAY = 0.05  # [A] the realistic_201 value; the scenario default is 0


def card(st: StationCore) -> str:
    """The station's technician's card id (an idToken of at most 36 characters)."""
    return f"{master_pass_group(st)}{zlib.crc32(st.station_id.encode()):08X}"[:36]


def present(st: StationCore, t: float) -> bool:
    """Show the card: Authorize, then stop every transaction if it is a master pass.
    False (nothing sent) when no group is configured or no transaction runs."""
    if not master_pass_group(st) or not any(c.tx is not None for c in st.connectors):
        return False
    st.call("Authorize", const({"idToken": {"idToken": card(st), "type": "ISO14443"}}), t,
            on_result=lambda p, now: _answered(st, p, now))
    return True


def _answered(st: StationCore, p: Payload, now: float) -> None:
    if not is_master_pass(st, p.get("idTokenInfo")):
        return  # an ordinary (or refused) card: a station with no UI does nothing with it
    for c in st.connectors:
        if c.tx is not None:
            st.end_session(c, now, reason="MasterPass")
