"""Station-side security (2.0.1 §A/§M/L01, 1.6 Security Whitepaper ed. 3), sans-I/O.

Every message the station sends is checked against its version's official schema by
the harness; CSRs, chains and firmware signatures are real (``cryptography``).
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from fleetsim.scenario.model import OcppVersion
from fleetsim.station import StationConfig
from tests.station.harness import Exchange, make

VERSIONS = [OcppVersion.V16, OcppVersion.V201, OcppVersion.V21]
pytestmark = pytest.mark.parametrize("v", VERSIONS)
_KEY = ec.generate_private_key(ec.SECP256R1())


def booted(v: OcppVersion, **cfg: Any) -> Exchange:
    ex = Exchange(make(v, config=StationConfig(heartbeat_interval_s=300, **cfg)))
    ex.open()
    return ex


def _cert(cn: str, public: Any, *, key: Any = _KEY, issuer: str = "test CA") -> str:
    now = dt.datetime.now(dt.UTC)
    c = (x509.CertificateBuilder()
         .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
         .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
         .public_key(public).serial_number(x509.random_serial_number())
         .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=1))
         .sign(key, hashes.SHA256()))
    return c.public_bytes(serialization.Encoding.PEM).decode()


def _sign_request(v: OcppVersion, ex: Exchange) -> dict[str, Any]:
    if v is OcppVersion.V16:
        r = ex.csms("ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"})
    else:
        r = ex.csms("TriggerMessage", {"requestedMessage": "SignChargingStationCertificate"})
    assert r == {"status": "Accepted"}
    return ex.of("SignCertificate")[-1]


def test_csr_then_certificate_signed_then_reconnect_under_profile_3(v: OcppVersion) -> None:
    ex = booted(v, security_profile=3)
    assert ex.st.extra is None  # no key until one is asked for: idle stations stay small
    csr = x509.load_pem_x509_csr(_sign_request(v, ex)["csr"].encode())
    assert csr.is_signature_valid
    assert isinstance(csr.public_key(), ec.EllipticCurvePublicKey)
    assert csr.public_key().curve.name == "secp256r1"
    cn = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert cn == ex.st.station_id
    # a chain for someone else's key is refused, with a security event
    wrong = _cert(ex.st.station_id, ec.generate_private_key(ec.SECP256R1()).public_key())
    assert ex.csms("CertificateSigned", {"certificateChain": wrong}) == {"status": "Rejected"}
    assert ex.of("SecurityEventNotification")[-1]["type"] in (
        "InvalidChargingStationCertificate", "InvalidChargePointCertificate")
    good = _cert(ex.st.station_id, csr.public_key())
    assert ex.csms("CertificateSigned", {"certificateChain": good}) == {"status": "Accepted"}
    ex.run_until(ex.now + 1)
    assert ex.reconnect_if_asked()  # profile 3: the new certificate is used from now on
    assert ex.st.booted


def test_password_rotation_reconnects_with_the_new_password(v: OcppVersion) -> None:
    from fleetsim.station.security import own_password

    ex = booted(v)
    new = "n3w-Passw0rd-for-A01"
    if v is OcppVersion.V16:
        assert ex.csms("ChangeConfiguration", {"key": "AuthorizationKey", "value": "short"}) == {
            "status": "Rejected"}
        assert ex.csms("ChangeConfiguration", {"key": "AuthorizationKey", "value": new}) == {
            "status": "Accepted"}
        got = ex.csms("GetConfiguration", {"key": ["AuthorizationKey"]})
        assert got["configurationKey"][0]["value"] == ""  # write-only: never read back
    else:
        var = {"component": {"name": "SecurityCtrlr"}, "variable": {"name": "BasicAuthPassword"}}
        r = ex.csms("SetVariables", {"setVariableData": [{**var, "attributeValue": new}]})
        assert r["setVariableResult"][0]["attributeStatus"] == "Accepted"
        r = ex.csms("GetVariables", {"getVariableData": [var]})
        assert r["getVariableResult"][0]["attributeStatus"] == "Rejected"  # WriteOnly
    assert own_password(ex.st) == new
    assert ex.of("SecurityEventNotification")[-1]["type"] == "ReconfigurationOfSecurityParameters"
    ex.run_until(ex.now + 1)
    assert ex.reconnect_if_asked()


def test_certificate_store_install_list_delete(v: OcppVersion) -> None:
    ex = booted(v)
    ca_type = "CentralSystemRootCertificate" if v is OcppVersion.V16 else "CSMSRootCertificate"
    root = _cert("root", _KEY.public_key(), issuer="root")
    assert ex.csms("InstallCertificate", {"certificateType": ca_type, "certificate": "junk"}) == {
        "status": "Rejected"}
    assert ex.csms("InstallCertificate", {"certificateType": ca_type, "certificate": root}) == {
        "status": "Accepted"}
    if v is OcppVersion.V16:
        r = ex.csms("GetInstalledCertificateIds", {"certificateType": ca_type})
        hd = r["certificateHashData"][0]
        assert ex.csms("GetInstalledCertificateIds", {
            "certificateType": "ManufacturerRootCertificate"}) == {"status": "NotFound"}
    else:
        r = ex.csms("GetInstalledCertificateIds", {"certificateType": [ca_type]})
        hd = r["certificateHashDataChain"][0]["certificateHashData"]
    assert r["status"] == "Accepted"
    assert hd["serialNumber"] == format(x509.load_pem_x509_certificate(
        root.encode()).serial_number, "x")
    assert ex.csms("DeleteCertificate", {"certificateHashData": hd}) == {"status": "Accepted"}
    assert ex.csms("DeleteCertificate", {"certificateHashData": hd}) == {"status": "NotFound"}


def _firmware(location: str, *, valid: bool) -> dict[str, Any]:
    signer = _KEY if valid else ec.generate_private_key(ec.SECP256R1())
    sig = signer.sign(location.encode(), ec.ECDSA(hashes.SHA256()))
    return {"location": location, "retrieveDateTime": "2020-01-01T00:00:00.000Z",
            "signingCertificate": _cert("fw signer", _KEY.public_key()),
            "signature": base64.b64encode(sig).decode()}


def _update(v: OcppVersion, ex: Exchange, fw: dict[str, Any]) -> Any:
    action = "SignedUpdateFirmware" if v is OcppVersion.V16 else "UpdateFirmware"
    return ex.csms(action, {"requestId": 7, "firmware": fw})


def _statuses(v: OcppVersion, ex: Exchange) -> list[str]:
    action = ("SignedFirmwareStatusNotification" if v is OcppVersion.V16
              else "FirmwareStatusNotification")
    return [p["status"] for p in ex.of(action)]


def test_signed_firmware_walks_the_spec_sequence_and_reboots(v: OcppVersion) -> None:
    ex = booted(v)
    assert _update(v, ex, _firmware("https://fw.example/1.2.bin", valid=True)) == {
        "status": "Accepted"}
    ex.run_until(ex.now + 400)  # five steps of firmware_step_s
    assert ex.reconnect_if_asked()
    ex.run_until(ex.now + 1)
    assert _statuses(v, ex) == ["Downloading", "Downloaded", "SignatureVerified", "Installing",
                                "InstallRebooting", "Installed"]
    assert ex.st.boot_payload()[
        "firmwareVersion" if v is OcppVersion.V16 else "chargingStation"] != "0.1.0"
    assert "FirmwareUpdated" in [p["type"] for p in ex.of("SecurityEventNotification")]


def test_invalid_firmware_signature_is_reported_and_the_old_firmware_kept(
        v: OcppVersion) -> None:
    ex = booted(v)
    before = ex.st.boot_payload()
    assert _update(v, ex, _firmware("https://fw.example/evil.bin", valid=False)) == {
        "status": "Accepted"}
    ex.run_until(ex.now + 400)
    assert _statuses(v, ex) == ["Downloading", "Downloaded", "InvalidSignature"]
    assert [p["type"] for p in ex.of("SecurityEventNotification")] == ["InvalidFirmwareSignature"]
    assert not ex.reconnect_if_asked() and ex.st.booted  # no reboot
    assert ex.st.boot_payload() == before  # still the old firmware
    bad = {**_firmware("x", valid=True), "signingCertificate": "not a certificate"}
    assert _update(v, ex, bad) == {"status": "InvalidCertificate"}


def test_reset_and_failed_login_become_security_events(v: OcppVersion) -> None:
    from fleetsim.station.security import note_connect_failure

    ex = booted(v)
    ex.csms("Reset", {"type": "Soft" if v is OcppVersion.V16 else "Immediate"})
    ex.run_until(ex.now + 1)
    ex.st.on_close(ex.now)
    note_connect_failure(ex.st, "http_401", None, ex.now)  # the engine saw a 401
    ex.st.reconnect_after = None
    ex.now += 0.5
    ex.open()
    types = [p["type"] for p in ex.of("SecurityEventNotification")]
    assert types[0] == ("FailedToAuthenticateAtCentralSystem" if v is OcppVersion.V16
                        else "FailedToAuthenticateAtCsms")
    assert "ResetOrReboot" in types


def test_v16_get_log_and_extended_trigger(v: OcppVersion) -> None:
    if v is not OcppVersion.V16:
        pytest.skip("1.6 Security Whitepaper messages")
    ex = booted(v)
    r = ex.csms("GetLog", {"logType": "SecurityLog", "requestId": 3,
                           "log": {"remoteLocation": "ftp://logs.example/"}})
    assert r["status"] == "Accepted" and r["filename"].startswith("security-")
    ex.run_until(ex.now + 120)
    assert [(p["status"], p["requestId"]) for p in ex.of("LogStatusNotification")] == [
        ("Uploading", 3), ("Uploaded", 3)]
    for what, action in [("Heartbeat", "Heartbeat"),
                         ("FirmwareStatusNotification", "SignedFirmwareStatusNotification"),
                         ("LogStatusNotification", "LogStatusNotification"),
                         ("StatusNotification", "StatusNotification")]:
        n = len(ex.of(action))
        assert ex.csms("ExtendedTriggerMessage", {"requestedMessage": what}) == {
            "status": "Accepted"}, what
        assert len(ex.of(action)) > n, what


@pytest.mark.parametrize("boot", [True, False])
def test_reconnect_after_a_long_outage_is_a_security_event(v: OcppVersion, boot: bool) -> None:
    from fleetsim.scenario.reconnect import ReconnectConfig
    from fleetsim.station.security import OUTAGE_EVENT

    ex = booted(v, outage_event_s=600, reconnect=ReconnectConfig(boot_on_reconnect=boot))

    def outage(s: float) -> list[dict[str, Any]]:
        ex.st.on_close(ex.now)
        ex.run_until(ex.now + s)
        n = len(ex.of("SecurityEventNotification"))
        ex.open()
        return ex.of("SecurityEventNotification")[n:]

    assert outage(500) == []  # not long enough
    [event] = outage(700)
    assert event["type"] == OUTAGE_EVENT and event["techInfo"] == "offline 700 s"
    if boot:  # sent once the boot is accepted, not before
        assert ex.actions().index("SecurityEventNotification", len(ex.sent) - 5) > \
            ex.actions().index("BootNotification", len(ex.sent) - 5)
    assert outage(700)[0]["type"] == OUTAGE_EVENT  # each long outage, not only the first
