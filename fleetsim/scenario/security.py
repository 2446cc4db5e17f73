"""``csms.tls``: TLS for security profiles 2 and 3, parsed once at the edge.

```yaml
csms:
  password: "s3cret-{station_id}"   # profile 1 (and 2): HTTP Basic, one password per station
  tls:
    certs: certs/                   # a `fleetsim certs` folder: ca.pem, server.*, stations/
    ca: certs/ca.pem                # CA bundle for the CSMS certificate (default: system store)
    verify: true                    # verify the CSMS certificate and host name
    client_certs: certs/stations    # profile 3: <station_id>.pem and <station_id>.key
    server_cert: certs/server.pem   # the embedded CSMS's certificate and key
    server_key: certs/server.key
```

Paths are relative to the working directory. With ``certs`` the other paths
default into that folder (``client_certs`` only when ``mutual: true``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fleetsim.scenario.reader import Node

__all__ = ["TlsConfig", "parse_tls", "security_profile"]


@dataclass(frozen=True, slots=True)
class TlsConfig:
    ca: str | None = None
    verify: bool = True
    client_certs: str | None = None   # directory of <station_id>.pem/.key (profile 3)
    server_cert: str | None = None    # embedded CSMS only
    server_key: str | None = None

    @property
    def mutual(self) -> bool:
        return self.client_certs is not None


def parse_tls(n: Node) -> TlsConfig | None:
    """The ``tls`` mapping under ``csms`` (None when absent)."""
    if not n.data:
        n.finish()
        return None
    certs = n.string("certs", "") or None
    base = Path(certs) if certs else None
    mutual = n.boolean("mutual", False)

    def path(key: str, default: str | None) -> str | None:
        v = n.string(key, "") or None
        if v is None and base is not None and default is not None:
            v = str(base / default)
        return v

    cfg = TlsConfig(ca=path("ca", "ca.pem"), verify=n.boolean("verify", True),
                    client_certs=path("client_certs", "stations" if mutual else None),
                    server_cert=path("server_cert", "server.pem"),
                    server_key=path("server_key", "server.key"))
    for key, value in (("ca", cfg.ca), ("client_certs", cfg.client_certs)):
        if value is not None and not Path(value).exists():
            raise n.error(f"{value} does not exist (make one with `fleetsim certs`)", key)
    n.finish()
    return cfg


def security_profile(password: str | None, tls: TlsConfig | None) -> int:
    """OCPP security profile: 3 mutual TLS, 2 TLS + Basic, 1 Basic, 0 none."""
    if tls is not None and tls.mutual:
        return 3
    if tls is not None:
        return 2
    return 1 if password is not None else 0
