"""TLS contexts for stations (clients) and the embedded CSMS (server).

Profile 2: the station verifies the CSMS certificate against a CA bundle (the
system store when none is given) and its host name; turning verification off is
possible for lab CSMSs with self-made certificates and is said so loudly.
Profile 3: the station also presents its own certificate, ``<dir>/<id>.pem``
with key ``<dir>/<id>.key`` (or both in the ``.pem``). TLS 1.2 is the minimum
both specs accept.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path

__all__ = ["client_context", "peer_common_name", "per_station_contexts", "server_context"]


def client_context(*, ca: str | Path | None = None, verify: bool = True,
                   cert: str | Path | None = None, key: str | Path | None = None) -> ssl.SSLContext:
    """A station's TLS context; raises OSError/SSLError when a file is missing or bad."""
    ctx = ssl.create_default_context(cafile=str(ca) if ca else None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if cert is not None:
        ctx.load_cert_chain(str(cert), str(key) if key else None)
    return ctx


def per_station_contexts(cert_dir: str | Path, *, ca: str | Path | None = None,
                         verify: bool = True) -> Callable[[str], ssl.SSLContext]:
    """Profile 3: station id → its context, built when the station connects.

    Contexts are not kept: each holds a copy of the CA store, and a reconnect is
    rare enough to pay the ~0.3 ms again rather than keep thousands in memory.
    """
    root = Path(cert_dir)

    def context(station_id: str) -> ssl.SSLContext:
        cert = root / f"{station_id}.pem"
        key = root / f"{station_id}.key"
        return client_context(ca=ca, verify=verify, cert=cert, key=key if key.exists() else None)

    return context


def server_context(*, cert: str | Path, key: str | Path,
                   client_ca: str | Path | None = None) -> ssl.SSLContext:
    """The CSMS's context; with ``client_ca`` every station must present a certificate
    signed by it (profile 3)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(cert), str(key))
    if client_ca is not None:
        ctx.load_verify_locations(cafile=str(client_ca))
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def peer_common_name(peercert: dict[str, object] | None) -> str | None:
    """The subject CN of a verified peer certificate (``SSLObject.getpeercert()``)."""
    if not peercert:
        return None
    for rdn in peercert.get("subject", ()):  # type: ignore[attr-defined]
        for name, value in rdn:
            if name == "commonName":
                return str(value)
    return None
