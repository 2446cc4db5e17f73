"""What a scenario's security profile means for the stations' engine."""

from __future__ import annotations

from typing import Any

from fleetsim.scenario.model import CsmsTarget
from fleetsim.security.tls import client_context, per_station_contexts

__all__ = ["engine_security"]


def engine_security(csms: CsmsTarget) -> dict[str, Any]:
    """``EngineOptions`` keyword arguments: password (template), TLS context(s).

    Profile 1/2: ``password`` (``{station_id}`` is replaced per station). Profile 2:
    one shared context verifying the CSMS against ``tls.ca``. Profile 3: each
    station's own context with ``<client_certs>/<station_id>.pem``/``.key``.
    """
    out: dict[str, Any] = {"password": csms.password,
                           "compression": csms.compression == "deflate"}
    tls = csms.tls
    if tls is None:
        return out
    if tls.client_certs is not None:
        out["ssl_context_for"] = per_station_contexts(tls.client_certs, ca=tls.ca,
                                                      verify=tls.verify)
    else:
        out["ssl_context"] = client_context(ca=tls.ca, verify=tls.verify)
    return out
