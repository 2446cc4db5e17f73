"""Security flows end to end: stations of every version against the embedded CSMS, over
real WebSockets on 127.0.0.1 (wss:// with mutual TLS where profile 3 applies).

The CSMS (built on ``ocpp``: it validates every request and response against the
official schemas) signs the stations' CSRs with the CA its TLS handshake trusts,
rotates their passwords and pushes signed firmware; its ledger records what they
report.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from fleetsim.csms import CsmsConfig, serve
from fleetsim.csms.authority import Authority
from fleetsim.csms.handlers_security import authority_of
from fleetsim.scenario.model import OcppVersion
from fleetsim.security.certs import mint
from fleetsim.security.tls import per_station_contexts
from fleetsim.station import StationConfig
from tests.integration.fleet import VERSIONS, Fleet, sess, wait_for
from tests.integration.test_protocol_depth import csms_call

CFG = StationConfig(heartbeat_interval_s=3600, call_timeout_wall_s=3)


def _events(server: object, kind: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for sid, _k, detail, _at in server.ledger.events(kind=kind):  # type: ignore[attr-defined]
        out.setdefault(sid, []).append(detail)
    return out


async def test_certificate_signing_then_profile_3_reconnect_with_the_new_certificate(
        tmp_path: Path) -> None:
    ids = ["S000", "S001", "S002"]
    certs = mint(tmp_path / "pki", ids)
    server = await serve(CsmsConfig(port=0, heartbeat_interval_s=3600,
                                    tls_cert=str(certs.server_cert), tls_key=str(certs.server_key),
                                    client_ca=str(certs.ca), ca_key=str(certs.ca_key)))
    fleet = Fleet(server.url, VERSIONS, ids=ids,
                  config=dataclasses.replace(CFG, security_profile=3),
                  ssl_context_for=per_station_contexts(certs.stations, ca=certs.ca))
    try:
        fleet.start()
        await wait_for(lambda: all(st.booted for st in fleet.stations), 10, "booted over mTLS")
        minted = _events(server, "client_certificate")
        for st, sid in zip(fleet.stations, ids, strict=True):
            if st.version_prefix == "1.6/":
                r = await csms_call(server, sid, "ExtendedTriggerMessage",
                                    {"requestedMessage": "SignChargePointCertificate"})
            else:
                r = await csms_call(server, sid, "TriggerMessage",
                                    {"requestedMessage": "SignChargingStationCertificate"})
            assert r.status == "Accepted"
        await wait_for(lambda: all(len(v) >= 2 for v in _events(
            server, "client_certificate").values()), 10,
            "every station reconnecting with a second certificate")
        issued = _events(server, "certificate_issued")
        seen = _events(server, "client_certificate")
        for sid in ids:
            assert len(issued[sid]) == 1
            assert seen[sid][0] == minted[sid][0]   # first: the certificate from `certs`
            assert seen[sid][-1] == issued[sid][0]  # then: the one the CSMS just signed
        outcomes = server.ledger.command_outcomes()
        assert outcomes[("CertificateSigned", "Accepted")] == 3
        assert server.refused_cert == 0
        assert not fleet.rec.faults.get("connection_lost")  # reconnecting is no fault
    finally:
        await fleet.finish()
        await server.close()


async def test_password_rotation_and_reconnect_with_the_new_password() -> None:
    template = "old-password-{station_id}"
    server = await serve(CsmsConfig(port=0, heartbeat_interval_s=3600,
                                    password_template=template))
    fleet = Fleet(server.url, VERSIONS, config=dataclasses.replace(CFG, security_profile=1),
                  password=template)
    try:
        fleet.start()
        await wait_for(lambda: all(st.booted for st in fleet.stations), 10, "booted with Basic")
        for st, sid in zip(fleet.stations, fleet.ids, strict=True):
            new = f"rotated-{sid}-0123456789"
            if st.version_prefix == "1.6/":
                r = await csms_call(server, sid, "ChangeConfiguration",
                                    {"key": "AuthorizationKey", "value": new})
                assert r.status == "Accepted"
            else:
                r = await csms_call(server, sid, "SetVariables", {"setVariableData": [{
                    "component": {"name": "SecurityCtrlr"},
                    "variable": {"name": "BasicAuthPassword"}, "attributeValue": new}]})
                assert r.set_variable_result[0]["attribute_status"] == "Accepted"
        await wait_for(lambda: {r.station_id: r.boots for r in server.ledger.stations()}
                       == dict.fromkeys(fleet.ids, 2) and all(st.booted for st in fleet.stations),
                       10, "every station back with its new password")
        assert server.refused_auth == 0  # the new password was accepted at once
        assert set(_events(server, "password_set")) == set(fleet.ids)
        types = _events(server, "security_event")
        for sid in fleet.ids:
            assert "ReconfigurationOfSecurityParameters" in types[sid]
    finally:
        await fleet.finish()
        await server.close()


async def test_invalid_firmware_signature_is_reported_and_the_old_firmware_kept() -> None:
    server = await serve(CsmsConfig(port=0, heartbeat_interval_s=3600))
    fleet = Fleet(server.url, VERSIONS, config=CFG)  # factor 60: a firmware step is 1 s
    try:
        fleet.start()
        await wait_for(lambda: all(st.booted for st in fleet.stations), 10, "booted")
        ca = authority_of(server.backend)
        good = ca.sign_firmware("https://fw.example/good.bin")
        other = Authority.ephemeral().sign_firmware(good.location)  # signed by someone else
        for st, sid in zip(fleet.stations, fleet.ids, strict=True):
            fw = {"location": good.location, "retrieveDateTime": fleet.sim_iso(),
                  "signingCertificate": good.signing_certificate, "signature": other.signature}
            action = "SignedUpdateFirmware" if st.version_prefix == "1.6/" else "UpdateFirmware"
            r = await csms_call(server, sid, action, {"requestId": 5, "firmware": fw})
            assert r.status == "Accepted"
        await wait_for(lambda: all("InvalidSignature" in v for v in _events(
            server, "firmware_status").values()) and len(_events(server, "firmware_status")) == 3,
            10, "InvalidSignature from every station")
        walk = ["Downloading", "Downloaded", "InvalidSignature"]
        assert _events(server, "firmware_status") == {sid: walk for sid in fleet.ids}
        await wait_for(lambda: len(_events(server, "security_event")) == 3, 5, "security events")
        assert all(v == ["InvalidFirmwareSignature"]
                   for v in _events(server, "security_event").values())
        assert {r.station_id: r.boots for r in server.ledger.stations()} == dict.fromkeys(
            fleet.ids, 1)  # no reboot: the old firmware runs on
        for st in fleet.stations:
            payload = st.boot_payload()
            fwv = payload.get("firmwareVersion") or payload["chargingStation"]["firmwareVersion"]
            assert fwv == CFG.firmware
    finally:
        await fleet.finish()
        await server.close()


async def test_plug_and_charge_authorization_against_the_embedded_csms() -> None:
    from cryptography.x509 import ocsp

    server = await serve(CsmsConfig(port=0, heartbeat_interval_s=3600, token_prefix="NONE"))
    cfg = dataclasses.replace(CFG, iso15118_share=1.0, pnc_share=1.0, strict=True)
    fleet = Fleet(server.url, (OcppVersion.V201,), lambda i: (sess(180, 1200, index=i),),
                  config=cfg, connect_timeout_s=15)
    try:
        fleet.start()
        st = fleet.stations[0]
        await wait_for(lambda: st.connectors[0].charging, 15, "charging by Plug & Charge")
        sid = fleet.ids[0]
        assert _events(server, "ocsp")[sid] == [_hash_serial(st)]
        assert [e.startswith("FSEMA") for e in _events(server, "pnc_authorize")[sid]] == [True]
        wanted = ("NotifyEVChargingNeeds", "NotifyEVChargingSchedule", "GetCertificateStatus",
                  "Authorize")

        def counts() -> dict[str, int]:
            return {m.action: m.count for m in server.ledger.message_counts()}

        # the ledger commits in batches: wait for it to hold all four, then check each once
        await wait_for(lambda: all(a in counts() for a in wanted), 10, "the ledger's counts")
        for action in wanted:
            assert counts()[action] == 1, action
        # the transaction runs on under the contract it was authorised with: once the
        # TransactionEvent that carries its token (Updated, Authorized) is answered, the CSMS
        # has accepted the eMAID and the session was not ended as DeAuthorized
        te = fleet.rec.actions["2.0.1/TransactionEvent"]
        await wait_for(lambda: te.answered >= 2, 10, "the Authorized TransactionEvent's answer")
        assert st.connectors[0].tx is not None and st.connectors[0].charging
        assert not fleet.rec.said.refusals, fleet.rec.said.refusals
        assert not fleet.rec.faults, fleet.rec.faults
        assert not fleet.rec.conformance, fleet.rec.conformance  # strict: answers schema-valid
        ca = authority_of(server.backend)  # the OCSP answer is real: parse and verify it
        der = ca.ocsp_good(ca.contract_certificate("FSEMA-X", 77))
        resp = ocsp.load_der_ocsp_response(der)
        assert resp.certificate_status == ocsp.OCSPCertStatus.GOOD and resp.serial_number == 77
    finally:
        await fleet.finish()
        await server.close()


def _hash_serial(st: object) -> str:
    from fleetsim.station.iso15118 import _hash_data

    return _hash_data(st, st.connectors[0])["serialNumber"]  # type: ignore[arg-type,attr-defined]
