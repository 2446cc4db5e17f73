"""Station-side OCPP security: events, passwords, keys and certificates.

OCPP 2.0.1 part 2 §A (A01 password, A02/A03 certificate signing, A04 security
events, M03–M05 certificate store) and the OCPP 1.6 Security Whitepaper,
edition 3 (the same use cases on 1.6J). Everything here is rare per station and
lives in ``st.extra["sec"]``, allocated on first use: an idle station that never
meets a security message carries none of it. The P-256 key is generated only when
the station is asked for a CSR (``cryptography``, imported then).
"""

from __future__ import annotations

import hashlib
import os
import ssl
import tempfile
from typing import TYPE_CHECKING, Any

from fleetsim.station.dispatch import const
from fleetsim.station.lifecycle import extra, reconnect_when_idle

if TYPE_CHECKING:
    from fleetsim.station.core import StationCore

__all__ = ["OUTAGE_EVENT", "after_boot", "after_outage", "certificate_signed", "delete_certificate", "install_certificate",
           "installed_certificates", "load_own_certificate", "note_connect_failure",
           "own_password", "security_event", "send_csr", "set_password"]

# 1.6 Security Whitepaper ed. 3 spells the CSMS "CentralSystem", the station "ChargePoint"
_NAMES_16 = {"FailedToAuthenticateAtCsms": "FailedToAuthenticateAtCentralSystem",
             "CsmsFailedToAuthenticate": "CentralSystemFailedToAuthenticate",
             "InvalidCsmsCertificate": "InvalidCentralSystemCertificate",
             "InvalidChargingStationCertificate": "InvalidChargePointCertificate"}
# A reconnect after a long outage. Neither the 2.0.1/2.1 Appendix list of security events
# (ocpp's v201 SecurityEventType; the 2.1 appendix adds DiscardedRenewedClientCertificate
# only) nor the 1.6 Security Whitepaper's list has a standard name for it; both lists are
# open ("type" is any string up to 50 characters), so this vendor-specific one, the same
# in both versions. How long was "long" is StationConfig.outage_event_s.
OUTAGE_EVENT = "ReconnectedAfterLongOutage"
PASSWORD_CHARS = (16, 40)   # A01.FR.?? / whitepaper: BasicAuthPassword is 16-40 characters


def _sec(st: StationCore) -> dict[str, Any]:
    sec: dict[str, Any] = extra(st).setdefault("sec", {})
    return sec


def is_v16(st: StationCore) -> bool:
    return st.version_prefix == "1.6/"


# ---------------------------------------------------------------- security events (A04)
def security_event(st: StationCore, t: float, kind: str, tech_info: str | None = None) -> None:
    """SecurityEventNotification of ``kind`` (2.0.1 names; 1.6 spelling applied).

    While offline the event waits for the next accepted boot (A04.FR.02: critical
    events are not lost), otherwise it is sent now.
    """
    if is_v16(st):
        kind = _NAMES_16.get(kind, kind)
    p: dict[str, Any] = {"type": kind[:50], "timestamp": st.clock.iso(t)}
    if tech_info:
        p["techInfo"] = tech_info[:255]
    if not st.connected or not st.booted:
        _sec(st).setdefault("pending", []).append(p)
        return
    st.call("SecurityEventNotification", const(p), t)


def after_outage(st: StationCore, t: float, offline_since: float) -> None:
    """Back (at ``t``) from offline since ``offline_since``: after an outage longer than
    ``outage_event_s``, a security event, sent once the boot is accepted (queued like
    every event while not booted), or at once on a resume."""
    outage = st.cfg.outage_event_s
    offline_wall_s = t - offline_since
    if outage and st.boots and offline_wall_s > outage / st.cfg.interval_factor:
        security_event(st, t, OUTAGE_EVENT, f"offline {offline_wall_s * st.clock.factor:.0f} s")


def note_connect_failure(st: StationCore, kind: str, detail: str | None, now: float) -> None:
    """Engine hook: a refused password or an untrusted CSMS certificate is a security event,
    reported once the station is connected again (A04: FailedToAuthenticateAtCsms,
    InvalidCsmsCertificate)."""
    if kind == "http_401":
        security_event(st, now, "FailedToAuthenticateAtCsms", "HTTP 401 on connect")
    elif kind == "tls_error" and detail and "certificate verify failed" in detail:
        security_event(st, now, "InvalidCsmsCertificate", detail)


def after_boot(st: StationCore, t: float, reboot_reason: str | None) -> None:
    """A boot was accepted: what happened while away (failed logins, then the reset or
    firmware install that caused the boot), in the order it happened."""
    sec = (st.extra or {}).get("sec")
    for p in (sec or {}).pop("pending", ()):
        st.call("SecurityEventNotification", const(p), t)
    if reboot_reason is not None:
        security_event(st, t, "FirmwareUpdated" if reboot_reason == "FirmwareUpdate"
                       else "ResetOrReboot", reboot_reason)


# ---------------------------------------------------------------- password (A01)
def set_password(st: StationCore, value: str, t: float) -> bool:
    """A01 / whitepaper "Update Charge Point Password": store, then reconnect with it."""
    lo, hi = PASSWORD_CHARS
    if not lo <= len(value) <= hi:
        return False
    _sec(st)["password"] = value
    security_event(st, t, "ReconfigurationOfSecurityParameters", "BasicAuthPassword")
    st.at(t, reconnect_when_idle, st, name="sec_reconnect")  # after the answer is out
    return True


def own_password(st: StationCore) -> str | None:
    """The password the CSMS set (A01), or None: the scenario's applies."""
    sec = (st.extra or {}).get("sec")
    return None if not sec else sec.get("password")


# ---------------------------------------------------------------- key and CSR (A02, A03)
def _private_key(st: StationCore) -> Any:
    sec = _sec(st)
    key = sec.get("key")
    if key is None:
        from cryptography.hazmat.primitives.asymmetric import ec

        key = sec["key"] = ec.generate_private_key(ec.SECP256R1())
    return key


def send_csr(st: StationCore, t: float, cert_type: str = "ChargingStationCertificate") -> None:
    """SignCertificate with a PKCS#10 CSR for the station's P-256 key (CN = station id)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fleetsim"),
                      x509.NameAttribute(NameOID.COMMON_NAME, st.station_id)])
    csr = (x509.CertificateSigningRequestBuilder().subject_name(name)
           .sign(_private_key(st), hashes.SHA256()))
    p: dict[str, Any] = {"csr": csr.public_bytes(serialization.Encoding.PEM).decode()}
    if not is_v16(st):
        p["certificateType"] = cert_type
    _sec(st)["csr_type"] = cert_type
    st.call("SignCertificate", const(p), t)


def certificate_signed(st: StationCore, chain_pem: str, t: float) -> str:
    """CertificateSigned: Accepted when the leaf is ours (our key, our CN), then reconnect
    with it under profile 3 (A02.FR.?: the new certificate is used from the next
    connection); otherwise Rejected and InvalidChargingStationCertificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    sec = _sec(st)
    key = sec.get("key")
    try:
        chain = x509.load_pem_x509_certificates(chain_pem.encode())
    except ValueError:
        chain = []
    pub = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    ok = bool(chain) and key is not None and (
        chain[0].public_key().public_bytes(der, pub) == key.public_key().public_bytes(der, pub))
    if ok:
        cns = chain[0].subject.get_attributes_for_oid(x509.oid.NameOID.COMMON_NAME)
        ok = bool(cns) and cns[0].value == st.station_id
    if not ok:
        security_event(st, t, "InvalidChargingStationCertificate", "CertificateSigned rejected")
        return "Rejected"
    sec["chain"] = chain_pem
    sec["serial"] = chain[0].serial_number
    if sec.get("csr_type", "ChargingStationCertificate") == "ChargingStationCertificate" \
            and st.cfg.security_profile == 3:
        st.at(t, reconnect_when_idle, st, name="sec_reconnect")
    return "Accepted"


def load_own_certificate(st: StationCore, ctx: ssl.SSLContext) -> ssl.SSLContext:
    """Engine hook (profile 3): present the certificate the CSMS signed, if there is one.

    ``ssl`` loads keys only from files: they go through a 0600 file in /dev/shm
    (memory, never the disk) that is removed at once.
    """
    sec = (st.extra or {}).get("sec")
    if not sec or "chain" not in sec:
        return ctx
    from cryptography.hazmat.primitives import serialization

    key_pem = sec["key"].private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption())
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    fd, path = tempfile.mkstemp(prefix="fleetsim-", suffix=".pem", dir=shm)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(sec["chain"].encode() + b"\n" + key_pem)
        ctx.load_cert_chain(path)
    finally:
        os.unlink(path)
    return ctx


# ---------------------------------------------------------------- certificate store (M03-M05)
def _hash_data(pem: str) -> dict[str, str] | None:
    """CertificateHashDataType of a PEM certificate (SHA256), or None if unreadable."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        return None
    if cert.issuer == cert.subject:
        issuer_key = cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    else:  # the issuer's key is not at hand: its identifier stands for it
        try:
            issuer_key = cert.extensions.get_extension_for_class(
                x509.AuthorityKeyIdentifier).value.key_identifier or b""
        except x509.ExtensionNotFound:
            issuer_key = cert.issuer.public_bytes()
    return {"hashAlgorithm": "SHA256",
            "issuerNameHash": hashlib.sha256(cert.issuer.public_bytes()).hexdigest(),
            "issuerKeyHash": hashlib.sha256(issuer_key).hexdigest(),
            "serialNumber": format(cert.serial_number, "x")[:40]}


def install_certificate(st: StationCore, cert_type: str, pem: str) -> bool:
    """Store a root certificate; False if it cannot be read."""
    hd = _hash_data(pem)
    if hd is None:
        return False
    store: list[tuple[str, dict[str, str]]] = _sec(st).setdefault("store", [])
    if not any(h == hd for _, h in store):
        store.append((cert_type, hd))
    return True


def installed_certificates(st: StationCore,
                           types: list[str] | None) -> list[tuple[str, dict[str, str]]]:
    sec = (st.extra or {}).get("sec") or {}
    return [(ty, hd) for ty, hd in sec.get("store", ()) if not types or ty in types]


def delete_certificate(st: StationCore, hash_data: dict[str, Any]) -> str:
    """Accepted, or NotFound (M04)."""
    sec = (st.extra or {}).get("sec") or {}
    store = sec.get("store", [])
    want = {k: str(v).lower() for k, v in hash_data.items() if k != "customData"}
    for i, (_, hd) in enumerate(store):
        if {k: v.lower() for k, v in hd.items()} == want:
            del store[i]
            return "Accepted"
    return "NotFound"
