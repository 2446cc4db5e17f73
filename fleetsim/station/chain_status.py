"""OCPP 2.1 GetCertificateChainStatus: a station asks the CSMS for the OCSP status of a chain.

With ``ocpp.chain_status_interval`` set, a 2.1 station asks after each accepted boot, and
then every interval, for the revocation status of its V2G certificate chain (leaf and
sub-CA, source OCSP) — 2.1's one-request replacement for a GetCertificateStatus per
certificate. fleetsim's stations hold no real V2G chain: the hash data are derived from the
station id (stable, unique per station), so a CSMS that did not issue them answers Unknown.
A ``Revoked`` answer is counted as the fault ``certificate_revoked``.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fleetsim.station.v2 import Station2

__all__ = ["arm"]

P = dict[str, Any]


def _hash_data(station_id: str, level: str) -> P:
    h = hashlib.sha256(f"{level}/{station_id}".encode()).hexdigest()
    issuer = hashlib.sha256(f"issuer/{level}".encode()).hexdigest()
    return {"hashAlgorithm": "SHA256", "issuerNameHash": issuer,
            "issuerKeyHash": hashlib.sha256(issuer.encode()).hexdigest(),
            "serialNumber": h[:20]}


def request(station_id: str) -> P:
    return {"certificateStatusRequests": [
        {"certificateHashData": _hash_data(station_id, level), "source": "OCSP",
         "urls": ["http://ocsp.fleetsim.invalid/"]} for level in ("leaf", "subca")]}


def arm(st: Station2, t: float) -> None:
    """After a boot: ask now, then every ``chain_status_s`` (a scenario interval)."""
    st.at(t, _ask, st, name="chain_status")


def _ask(t: float, st: Station2) -> None:
    if not st.connected or st.stopping:
        return
    body = request(st.station_id)
    st.call("GetCertificateChainStatus", lambda: body, t, on_result=lambda r, now: _answer(st, r))
    st.at(t + st.cfg.chain_status_s / st.cfg.interval_factor, _ask, st, name="chain_status")


def _answer(st: Station2, r: P) -> None:
    if any(s.get("status") == "Revoked" for s in r.get("certificateStatus", ())):
        st.rec.fault("certificate_revoked")
