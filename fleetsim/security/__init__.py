"""OCPP security profiles: certificates (``fleetsim certs``), TLS contexts, secret masking.

Profile 1: HTTP Basic with a per-station password; 2: TLS (server verified) plus
Basic; 3: mutual TLS with a client certificate per station (CN = station id).
Minting certificates (:mod:`fleetsim.security.certs`) imports ``cryptography``;
import it where needed.
"""

from fleetsim.security.secrets import MASK, mask_secrets
from fleetsim.security.tls import (
    client_context,
    peer_common_name,
    per_station_contexts,
    server_context,
)

__all__ = [
    "MASK",
    "client_context",
    "mask_secrets",
    "peer_common_name",
    "per_station_contexts",
    "server_context",
]
