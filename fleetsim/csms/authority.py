"""The embedded CSMS's certificate authority: signs station CSRs and firmware images.

Written independently of :mod:`fleetsim.station` (the two sides share no protocol
code). With ``CsmsConfig.client_ca`` and ``ca_key`` it signs with that CA, so a
station's new certificate passes the profile-3 handshake; otherwise it makes its own
self-signed P-256 CA in memory on first use. Firmware: the embedded CSMS signs the
UTF-8 bytes of the firmware location (no file is moved; see the station's
signed_firmware module for the same convention, stated there from the spec side).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["Authority", "SignedFirmware"]

_VALID = dt.timedelta(days=365)


@dataclass(frozen=True, slots=True)
class SignedFirmware:
    location: str
    signing_certificate: str
    signature: str  # base64 ECDSA-SHA256 over location.encode()


class Authority:
    """A CA key and certificate; :meth:`sign_csr` issues client certificates."""

    def __init__(self, cert: x509.Certificate, key: Any) -> None:
        self.cert, self.key = cert, key
        self._serial = int.from_bytes(hashlib.sha256(cert.public_bytes(
            serialization.Encoding.DER)).digest()[:6], "big") << 16

    @classmethod
    def load(cls, cert_path: str | Path, key_path: str | Path) -> Authority:
        cert = x509.load_pem_x509_certificate(Path(cert_path).read_bytes())
        key = serialization.load_pem_private_key(Path(key_path).read_bytes(), None)
        return cls(cert, key)

    @classmethod
    def ephemeral(cls) -> Authority:
        """A self-signed CA that lives as long as this process."""
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fleetsim embedded CSMS CA")])
        now = dt.datetime.now(dt.UTC)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + _VALID)
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .sign(key, hashes.SHA256()))
        return cls(cert, key)

    @property
    def pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()

    def sign_csr(self, csr_pem: str, station_id: str) -> tuple[str, int] | None:
        """(leaf + CA chain in PEM, serial), or None: unreadable, badly signed, or not
        for this station (A02.FR.?: the CN must be the station's identity)."""
        try:
            csr = x509.load_pem_x509_csr(csr_pem.encode())
        except ValueError:
            return None
        if not csr.is_signature_valid:
            return None
        cns = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if not cns or cns[0].value != station_id:
            return None
        self._serial += 1
        now = dt.datetime.now(dt.UTC)
        leaf = (x509.CertificateBuilder().subject_name(csr.subject)
                .issuer_name(self.cert.subject).public_key(csr.public_key())
                .serial_number(self._serial)
                .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + _VALID)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]),
                               critical=False)
                .sign(self.key, hashes.SHA256()))
        chain = leaf.public_bytes(serialization.Encoding.PEM).decode() + self.pem
        return chain, self._serial

    def contract_certificate(self, emaid: str, serial: int | None = None) -> x509.Certificate:
        """An ISO 15118 contract certificate for ``emaid`` (CN), signed by this CA."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        if serial is None:
            self._serial += 1
            serial = self._serial
        return (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, emaid[:64])]))
                .issuer_name(self.cert.subject).public_key(key.public_key())
                .serial_number(max(serial, 1))
                .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + _VALID)
                .sign(self.key, hashes.SHA256()))

    def ocsp_good(self, cert: x509.Certificate) -> bytes:
        """A signed OCSP response (DER) saying ``cert`` is good (M06)."""
        from cryptography.x509 import ocsp

        now = dt.datetime.now(dt.UTC)
        return (ocsp.OCSPResponseBuilder()
                .add_response(cert=cert, issuer=self.cert, algorithm=hashes.SHA256(),
                              cert_status=ocsp.OCSPCertStatus.GOOD, this_update=now,
                              next_update=now + dt.timedelta(days=1), revocation_time=None,
                              revocation_reason=None)
                .responder_id(ocsp.OCSPResponderEncoding.HASH, self.cert)
                .sign(self.key, hashes.SHA256())
                .public_bytes(serialization.Encoding.DER))

    def sign_firmware(self, location: str) -> SignedFirmware:
        sig = self.key.sign(location.encode(), ec.ECDSA(hashes.SHA256()))
        return SignedFirmware(location, self.pem, base64.b64encode(sig).decode())
