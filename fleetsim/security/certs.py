"""Mint a test PKI for OCPP security profiles 2 and 3 (OCPP 1.6 Security Whitepaper,
"Security profiles"; OCPP 2.0.1 part 2 §A "Security"): a CA, a CSMS server certificate
and one client certificate per station whose subject CN is the station id, which is
what a CSMS checks under profile 3.

Everything is ECDSA P-256 with SHA-256 (one of the algorithms both specs allow) and
fast enough to give every station its own key (~20 µs a key; well under a
millisecond per station with signing and PEM).
Private keys are written with mode 0600 and never printed.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["CertPaths", "mint", "paths"]

_VALID = dt.timedelta(days=825)


@dataclass(frozen=True, slots=True)
class CertPaths:
    """The files of a ``fleetsim certs`` folder."""

    root: Path

    @property
    def ca(self) -> Path:
        return self.root / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.root / "ca.key"

    @property
    def server_cert(self) -> Path:
        return self.root / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.root / "server.key"

    @property
    def stations(self) -> Path:
        return self.root / "stations"

    def station_cert(self, station_id: str) -> Path:
        return self.stations / f"{station_id}.pem"

    def station_key(self, station_id: str) -> Path:
        return self.stations / f"{station_id}.key"


def paths(root: str | Path) -> CertPaths:
    return CertPaths(Path(root))


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fleetsim test PKI"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write(path: Path, data: bytes, *, secret: bool = False) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if secret else 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _cert(subject: x509.Name, key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey,
          issuer: x509.Name, issuer_key: ec.EllipticCurvePrivateKey, *, now: dt.datetime,
          serial: int, ca: bool = False, server_hosts: Sequence[str] = (),
          client: bool = False) -> x509.Certificate:
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
         .public_key(public).serial_number(serial)
         .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + _VALID)
         .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None),
                        critical=True))
    if ca:
        b = b.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    if server_hosts:
        alt: list[x509.GeneralName] = []
        for h in server_hosts:
            try:
                alt.append(x509.IPAddress(ipaddress.ip_address(h)))
            except ValueError:
                alt.append(x509.DNSName(h))
        b = b.add_extension(x509.SubjectAlternativeName(alt), critical=False)
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                            critical=False)
    if client:
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]),
                            critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def mint(out: str | Path, station_ids: Sequence[str], *,
         hosts: Sequence[str] = ("localhost", "127.0.0.1", "::1"),
         now: dt.datetime | None = None) -> CertPaths:
    """Write ca.pem/.key, server.pem/.key and stations/<id>.pem/.key under ``out``."""
    p = paths(out)
    p.stations.mkdir(parents=True, exist_ok=True)
    now = now or dt.datetime.now(dt.UTC)
    pem = serialization.Encoding.PEM
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("fleetsim test CA")
    ca = _cert(ca_name, ca_key, ca_name, ca_key, now=now, serial=1, ca=True)
    _write(p.ca, ca.public_bytes(pem))
    _write(p.ca_key, _key_pem(ca_key), secret=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _cert(_name(hosts[0] if hosts else "localhost"), server_key, ca_name, ca_key,
                   now=now, serial=2, server_hosts=hosts)
    _write(p.server_cert, server.public_bytes(pem) + ca.public_bytes(pem))
    _write(p.server_key, _key_pem(server_key), secret=True)
    for i, sid in enumerate(station_ids):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _cert(_name(sid), key, ca_name, ca_key, now=now, serial=1000 + i, client=True)
        _write(p.station_cert(sid), cert.public_bytes(pem))
        _write(p.station_key(sid), _key_pem(key), secret=True)
    return p
