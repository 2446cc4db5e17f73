"""The station's answers to the CSMS's security requests, per version.

1.6: the Security Whitepaper edition 3 messages (CertificateSigned,
DeleteCertificate, ExtendedTriggerMessage, GetInstalledCertificateIds, GetLog,
InstallCertificate, SignedUpdateFirmware). 2.0.1/2.1: A02/A03 (CertificateSigned,
TriggerMessage SignChargingStationCertificate), M03–M05 (certificate store) and
L01 with a signature. Merged into each version's handler table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fleetsim.station import lifecycle as lc
from fleetsim.station import security as sec
from fleetsim.station.dispatch import Handler
from fleetsim.station.signed_firmware import firmware_status, start_signed_firmware
from fleetsim.station.smart_charging import parse_time

if TYPE_CHECKING:
    from fleetsim.station.core import StationCore

__all__ = ["HANDLERS_2", "HANDLERS_16"]

P = dict[str, Any]


def certificate_signed(st: StationCore, p: P, now: float) -> P:
    return {"status": sec.certificate_signed(st, p["certificateChain"], now)}


def install_certificate(st: StationCore, p: P, now: float) -> P:
    ok = sec.install_certificate(st, p["certificateType"], p["certificate"])
    if ok:
        sec.security_event(st, now, "ReconfigurationOfSecurityParameters", "InstallCertificate")
    return {"status": "Accepted" if ok else "Rejected"}


def installed_ids_16(st: StationCore, p: P, now: float) -> P:
    found = sec.installed_certificates(st, [p["certificateType"]])
    if not found:
        return {"status": "NotFound"}
    return {"status": "Accepted", "certificateHashData": [hd for _, hd in found]}


def installed_ids_2(st: StationCore, p: P, now: float) -> P:
    found = sec.installed_certificates(st, p.get("certificateType"))
    if not found:
        return {"status": "NotFound"}
    return {"status": "Accepted", "certificateHashDataChain": [
        {"certificateType": ty, "certificateHashData": hd} for ty, hd in found]}


def delete_certificate(st: StationCore, p: P, now: float) -> P:
    status = sec.delete_certificate(st, p["certificateHashData"])
    if status == "Accepted":
        sec.security_event(st, now, "ReconfigurationOfSecurityParameters", "DeleteCertificate")
    return {"status": status}


def signed_update_firmware(st: StationCore, p: P, now: float) -> P:
    """1.6 SignedUpdateFirmware: Accepted or InvalidCertificate."""
    fw = p["firmware"]
    return {"status": start_signed_firmware(st, now, fw, p["requestId"],
                                            parse_time(fw["retrieveDateTime"]) or 0.0)}


def update_firmware_2(st: StationCore, p: P, now: float) -> P:
    """L01: with signature and signing certificate the signed sequence, else the plain one."""
    fw = p["firmware"]
    retrieve = parse_time(fw["retrieveDateTime"]) or 0.0
    if fw.get("signature") and fw.get("signingCertificate"):
        return {"status": start_signed_firmware(st, now, fw, p["requestId"], retrieve)}
    lc.start_firmware(st, now, retrieve_unix=retrieve, request_id=p["requestId"])
    return {"status": "Accepted"}


def get_log_16(st: StationCore, p: P, now: float) -> P:
    """Whitepaper "Get Security Log" / diagnostics: Uploading → Uploaded (no file moves)."""
    lc.start_upload(st, now, action="LogStatusNotification", request_id=p["requestId"])
    kind = "security" if p["logType"] == "SecurityLog" else "diagnostics"
    return {"status": "Accepted", "filename": f"{kind}-{st.station_id}.log"[:255]}


def extended_trigger(st: StationCore, p: P, now: float) -> P:
    """1.6 ExtendedTriggerMessage: the whitepaper's triggers, the rest as TriggerMessage."""
    what = p["requestedMessage"]
    if what == "SignChargePointCertificate":
        sec.send_csr(st, now)
    elif what == "FirmwareStatusNotification":
        firmware_status(st, now, "Idle", None)  # SignedFirmwareStatusNotification
    elif what == "LogStatusNotification":
        st.call("LogStatusNotification", lambda: {"status": "Idle"}, now)
    else:
        from fleetsim.station.handlers16 import trigger

        return trigger(st, p, now)  # type: ignore[arg-type]
    return {"status": "Accepted"}


def trigger_2(st: StationCore, p: P, now: float) -> P:
    """F06 plus A02/A03: SignChargingStationCertificate, SignV2GCertificate."""
    what = p["requestedMessage"]
    if what == "SignChargingStationCertificate":
        sec.send_csr(st, now, "ChargingStationCertificate")
    elif what == "SignV2GCertificate":
        sec.send_csr(st, now, "V2GCertificate")
    else:
        from fleetsim.station.handlers2_service import trigger

        return trigger(st, p, now)  # type: ignore[arg-type]
    return {"status": "Accepted"}


HANDLERS_16: dict[str, Handler] = {
    "CertificateSigned": certificate_signed,
    "DeleteCertificate": delete_certificate,
    "ExtendedTriggerMessage": extended_trigger,
    "GetInstalledCertificateIds": installed_ids_16,
    "GetLog": get_log_16,
    "InstallCertificate": install_certificate,
    "SignedUpdateFirmware": signed_update_firmware,
}

HANDLERS_2: dict[str, Handler] = {
    "CertificateSigned": certificate_signed,
    "DeleteCertificate": delete_certificate,
    "GetInstalledCertificateIds": installed_ids_2,
    "InstallCertificate": install_certificate,
    "TriggerMessage": trigger_2,
    "UpdateFirmware": update_firmware_2,
}
