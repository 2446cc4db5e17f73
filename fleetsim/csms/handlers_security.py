"""The CSMS's side of OCPP security, for both versions (2.0.1 part 2 §A, L, M; the 1.6
Security Whitepaper edition 3).

Mixins placed first among a session's bases, so their handlers replace the plain
acknowledgements of :mod:`fleetsim.csms.handlers_v16` / ``handlers_v2`` (``ocpp``
routes by method name). What stations report is recorded in the ledger's
``station_events``: security events, firmware and log statuses, certificates issued.
SignCertificate is answered Accepted for a CSR that names the station, and the
signed chain follows in a CertificateSigned (A02/A03). A password the CSMS set with
SetVariables SecurityCtrlr.BasicAuthPassword (1.6: ChangeConfiguration
AuthorizationKey) and the station accepted is the one its next handshake must carry.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from typing import TYPE_CHECKING, Any, ClassVar

from fleetsim.csms.session import route

if TYPE_CHECKING:
    from fleetsim.csms.authority import Authority
    from fleetsim.csms.backend import Backend

__all__ = ["SecurityV2", "SecurityV16", "authority_of", "password_of"]

_LOGGER = logging.getLogger("fleetsim.csms.security")


def authority_of(backend: Backend) -> Authority:
    """The backend's CA: the configured one, or a self-signed one made on first use."""
    ca: Authority | None = getattr(backend, "_authority", None)
    if ca is None:
        from fleetsim.csms.authority import Authority

        cfg = backend.config
        ca = (Authority.load(cfg.client_ca, cfg.ca_key)
              if cfg.client_ca is not None and cfg.ca_key is not None else Authority.ephemeral())
        backend._authority = ca  # type: ignore[attr-defined]
    return ca


def password_of(backend: Backend, station_id: str) -> str | None:
    """A password this CSMS set on the station and the station accepted (A01)."""
    passwords: dict[str, str] | None = getattr(backend, "_set_passwords", None)
    return None if passwords is None else passwords.get(station_id)


def _remember_password(backend: Backend, station_id: str, password: str) -> None:
    passwords: dict[str, str] | None = getattr(backend, "_set_passwords", None)
    if passwords is None:
        passwords = backend._set_passwords = {}  # type: ignore[attr-defined]
    passwords[station_id] = password


class _Security:
    """What both versions share."""

    station_id: str
    backend: Backend
    _call_result: ClassVar[Any]
    _call: ClassVar[Any]

    def _event(self, kind: str, detail: str) -> None:
        self.backend.ledger.record_event(self.station_id, kind, detail, self.backend.now_iso())

    def _sign(self, csr: str, certificate_type: str | None) -> str:
        signed = authority_of(self.backend).sign_csr(csr, self.station_id)
        if signed is None:
            self._event("csr_rejected", certificate_type or "")
            return "Rejected"
        chain, serial = signed
        self._event("certificate_issued", format(serial, "x"))
        task = asyncio.get_running_loop().create_task(
            self._send_signed(chain, certificate_type))
        _TASKS.add(task)
        task.add_done_callback(_TASKS.discard)
        return "Accepted"

    async def _send_signed(self, chain: str, certificate_type: str | None) -> None:
        await asyncio.sleep(0)  # the SignCertificate answer goes first
        kwargs: dict[str, Any] = {"certificate_chain": chain}
        if certificate_type is not None:
            kwargs["certificate_type"] = certificate_type
        try:
            result = await self.call(self._call.CertificateSigned(**kwargs), suppress=False)
            outcome = str(getattr(result, "status", "ok"))
        except Exception as exc:  # a timeout or CALLERROR: counted, never raised
            outcome = type(exc).__name__
        self.backend.ledger.count_command(self.station_id, "CertificateSigned", outcome)

    async def call(self, payload: Any, suppress: bool = True, unique_id: Any = None,
                   skip_schema_validation: bool = False) -> Any:
        """``ocpp``'s call(); a password the station accepted is remembered (A01)."""
        result = await super().call(payload, suppress, unique_id,  # type: ignore[misc]
                                    skip_schema_validation)
        password = _new_password(payload, result)
        if password is not None:
            _remember_password(self.backend, self.station_id, password)
            self._event("password_set", "")  # never the password itself
        return result

    @route("SecurityEventNotification")
    def on_security_event_notification(self, type: str, timestamp: str,
                                       **_: Any) -> object:
        self._event("security_event", type)
        return self._call_result.SecurityEventNotification()

    @route("LogStatusNotification")
    def on_log_status_notification(self, status: str, **_: Any) -> object:
        self._event("log_status", status)
        return self._call_result.LogStatusNotification()


_TASKS: set[asyncio.Task[None]] = set()


def _new_password(request: Any, result: Any) -> str | None:
    name = type(request).__name__
    if name == "ChangeConfiguration" and request.key == "AuthorizationKey":
        return str(request.value) if getattr(result, "status", None) == "Accepted" else None
    if name != "SetVariables":
        return None
    for data, res in zip(request.set_variable_data, getattr(result, "set_variable_result", []),
                         strict=False):
        comp, var = data.get("component", {}), data.get("variable", {})
        if (comp.get("name") == "SecurityCtrlr" and var.get("name") == "BasicAuthPassword"
                and res.get("attribute_status") == "Accepted"):
            return str(data["attribute_value"])
    return None


class SecurityV16(_Security):
    """1.6: SignCertificate, SignedFirmwareStatusNotification (Security Whitepaper ed. 3)."""

    @route("SignCertificate")
    def on_sign_certificate(self, csr: str, **_: Any) -> object:
        return self._call_result.SignCertificate(status=self._sign(csr, None))

    @route("SignedFirmwareStatusNotification")
    def on_signed_firmware_status_notification(self, status: str, **_: Any) -> object:
        self._event("firmware_status", status)
        return self._call_result.SignedFirmwareStatusNotification()


class SecurityV2(_Security):
    """2.0.1/2.1: SignCertificate (A02/A03), FirmwareStatusNotification (L01)."""

    @route("SignCertificate")
    def on_sign_certificate(self, csr: str, certificate_type: str | None = None,
                            **_: Any) -> object:
        return self._call_result.SignCertificate(status=self._sign(csr, certificate_type))

    @route("Authorize")
    def on_authorize(self, id_token: dict[str, Any],
                     iso15118_certificate_hash_data: list[dict[str, Any]] | None = None,
                     certificate: str | None = None, **_: Any) -> object:
        """C01, and C07 (Plug & Charge): certificateStatus when hash data or a chain came."""
        if iso15118_certificate_hash_data is None and certificate is None:
            token = id_token["id_token"]
            info: dict[str, Any] = {"status": self.backend.authorize(token, id_token.get("type"))}
            group = self.backend.config.master_pass_prefix
            if group and info["status"] == "Accepted" and token.startswith(group):
                # C16: the token is a master pass; the station stops, never starts, with it
                info["group_id_token"] = {"id_token": group, "type": "Central"}
                self._event("master_pass_authorize", token)
            return self._call_result.Authorize(id_token_info=info)
        # Plug & Charge: the contract (eMAID) is this CSMS's own, its certificate checked
        # by hash data (no eMSP behind it): Accepted
        info = {"status": "Accepted"}
        # the contract is now known here: the transaction that runs under it is valid too
        self.backend.issued_tokens.add(id_token["id_token"])
        self._event("pnc_authorize", id_token["id_token"])
        return self._call_result.Authorize(id_token_info=info, certificate_status="Accepted")

    @route("Get15118EVCertificate")
    def on_get_15118_ev_certificate(self, action: str, exi_request: str, **_: Any) -> object:
        """M01/M02: a contract certificate from this CSMS's CA (DER, base64; not EXI)."""
        from cryptography.hazmat.primitives.serialization import Encoding

        cert = authority_of(self.backend).contract_certificate(f"FSEMA-{self.station_id}")
        self._event("contract_certificate", action)
        der = cert.public_bytes(Encoding.DER)
        return self._call_result.Get15118EVCertificate(
            status="Accepted", exi_response=base64.b64encode(der).decode())

    @route("GetCertificateStatus")
    def on_get_certificate_status(self, ocsp_request_data: dict[str, Any], **_: Any) -> object:
        """M06: a real OCSP response (good), signed by this CSMS's CA."""
        ca = authority_of(self.backend)
        try:
            serial = int(ocsp_request_data["serial_number"], 16)
        except ValueError:
            return self._call_result.GetCertificateStatus(status="Failed")
        ocsp = ca.ocsp_good(ca.contract_certificate(f"FSEMA-{self.station_id}", serial))
        self._event("ocsp", ocsp_request_data["serial_number"])
        return self._call_result.GetCertificateStatus(
            status="Accepted", ocsp_result=base64.b64encode(ocsp).decode())

    @route("FirmwareStatusNotification")
    def on_firmware_status_notification(self, status: str, **_: Any) -> object:
        self._event("firmware_status", status)
        return self._call_result.FirmwareStatusNotification()
