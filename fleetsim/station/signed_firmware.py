"""Signed firmware updates: 1.6 SignedUpdateFirmware (Security Whitepaper ed. 3 §"Secure
firmware update") and 2.0.1 UpdateFirmware with a signature (L01).

Status sequence (SignedFirmwareStatusNotification on 1.6, FirmwareStatusNotification
on 2.0.1, each with the requestId): Downloading → Downloaded → SignatureVerified →
Installing → InstallRebooting → reboot → Installed. A signature that does not verify
against the signing certificate ends it after Downloaded with InvalidSignature and a
SecurityEventNotification InvalidFirmwareSignature; the station keeps its firmware and
does not reboot. An unreadable signing certificate is answered InvalidCertificate.

No file is moved: the image a station "downloads" is the UTF-8 bytes of the firmware
``location`` (the embedded CSMS signs the same bytes), so the signature check is real.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Any

from fleetsim.station import lifecycle as lc
from fleetsim.station.dispatch import const
from fleetsim.station.security import is_v16, security_event

if TYPE_CHECKING:
    from fleetsim.station.core import StationCore

__all__ = ["after_install_boot", "firmware_status", "start_signed_firmware"]

_STEPS = ("Downloading", "Downloaded", "SignatureVerified", "Installing", "InstallRebooting")


def _verify(cert: Any, signature: str, image: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    try:
        sig = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return False
    key = cert.public_key()
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(sig, image, ec.ECDSA(hashes.SHA256()))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(sig, image, padding.PKCS1v15(), hashes.SHA256())
        else:
            return False
    except InvalidSignature:
        return False
    return True


def start_signed_firmware(st: StationCore, t: float, fw: dict[str, Any], request_id: int,
                          retrieve_unix: float) -> str:
    """Answer status (Accepted or InvalidCertificate) and walk the sequence on timers."""
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(fw["signingCertificate"].encode())
    except ValueError:
        security_event(st, t, "InvalidFirmwareSigningCertificate", "unreadable certificate")
        return "InvalidCertificate"
    valid = _verify(cert, fw["signature"], fw["location"].encode())
    first = max(t, st.clock.wall_of_unix(retrieve_unix))
    step_wall = st.clock.interval_wall(st.cfg.firmware_step_s)
    steps = _STEPS if valid else ("Downloading", "Downloaded", "InvalidSignature")
    for i, status in enumerate(steps):
        st.at(first + i * step_wall, _step, st, status, request_id, name=f"sfw{i}")
    return "Accepted"


def firmware_status(st: StationCore, t: float, status: str, request_id: int | None) -> None:
    action = "SignedFirmwareStatusNotification" if is_v16(st) else "FirmwareStatusNotification"
    p: dict[str, Any] = {"status": status}
    if request_id is not None:
        p["requestId"] = request_id
    st.call(action, const(p), t)


def _step(t: float, st: StationCore, status: str, request_id: int) -> None:
    if not st.connected:
        return
    firmware_status(st, t, status, request_id)
    if status == "InvalidSignature":
        security_event(st, t, "InvalidFirmwareSignature", f"requestId {request_id}")
    elif status == "InstallRebooting":
        ex = lc.extra(st)
        ex["firmware"] = st.cfg.firmware + "+signed"
        ex["signed_fw_installed"] = request_id
        lc.request_reboot(st, t, "OnIdle", boot_reason="FirmwareUpdate")


def after_install_boot(st: StationCore, t: float) -> None:
    """After the reboot that installed it: Installed (with the requestId)."""
    request_id = (st.extra or {}).pop("signed_fw_installed", None)
    if request_id is not None:
        firmware_status(st, t, "Installed", request_id)
