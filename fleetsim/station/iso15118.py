"""ISO 15118 cars on OCPP 2.0.1 and 2.1 stations: charging needs (K15) and Plug & Charge (M, C07).

Which cars speak ISO 15118, and which of those use Plug & Charge, is decided from the
station id and the session's planned arrival (a stable hash,
:func:`fleetsim.drivers.iso15118mix.protocol`), so the plan and its random streams are
unchanged. The shares come from the archetype's vehicle mix (``vehicles.iso15118_share``
and ``pnc_share`` in ``drivers_models/``, [A]) when the scenario says
``ocpp.iso15118_share: vehicles``, else from the scenario's numbers, whose [A] values
(``scenarios/realistic_201.yaml`` before the vehicle mix had them) are:

- ``ISO15118_SHARE`` [A] 0.20 of cars negotiate with ISO 15118-2 (the rest: IEC 61851
  PWM only); scenario key ``ocpp.iso15118_share``;
- ``PNC_SHARE`` [A] 0.10 of all cars (half of the ISO 15118 ones) authorize with a
  contract certificate (Plug & Charge); scenario key ``ocpp.pnc_share``;
- ``INSTALL_SHARE`` [A] 0.05 of Plug & Charge sessions first fetch a contract
  certificate (Get15118EVCertificate Install).

An ISO 15118 car sends, after TransactionEvent Started, NotifyEVChargingNeeds
(energy, currents, departure) and then NotifyEVChargingSchedule (its own plan: the
EVSE's power until departure). A Plug & Charge car has its contract certificate
checked (GetCertificateStatus with OCSP request data) and authorizes with its eMAID
and ``iso15118CertificateHashData`` instead of an RFID token. No EXI is encoded: the
Get15118EVCertificate request carries a base64 placeholder the CSMS answers with a
real (self-signed CA) contract certificate. 2.1 stations send the same flows in 2.1's
shape: NotifyEVChargingNeeds with its ``timestamp``, Get15118EVCertificate for ISO
15118-20 with ``maximumContractCertificateChains`` and ``prioritizedEMAIDs`` (2.1 M01);
1.6 stations send none (1.6 has no ISO 15118 messages).
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from typing import TYPE_CHECKING, Any

from fleetsim.drivers.iso15118mix import NONE, PNC, draw, protocol
from fleetsim.station.dispatch import const

if TYPE_CHECKING:
    from fleetsim.station.connector import Connector
    from fleetsim.station.core import StationCore

__all__ = ["INSTALL_SHARE", "ISO15118_SHARE", "PNC_SHARE", "authorize_payload", "on_plug"]

ISO15118_SHARE = 0.20   # [A]
PNC_SHARE = 0.10        # [A] of all cars; at most ISO15118_SHARE
INSTALL_SHARE = 0.05    # [A] of Plug & Charge sessions
_MO_CA = "fleetsim MO sub-CA"  # the contract certificates' (simulated) issuer


def _draw(st: StationCore, c: Connector, salt: str) -> float:
    s = c.session
    return draw(salt, st.station_id, c.connector_id, s.arrival_s if s is not None else 0.0)


def _protocol(st: StationCore, c: Connector) -> str:
    """PNC, ISO15118 or NONE for the car plugged into ``c``: shares from its vehicle mix
    (``ocpp.iso15118_share: vehicles``) or the scenario's numbers."""
    s = c.session
    if st.version_prefix not in _V2 or s is None:
        return NONE
    if st.cfg.iso15118_from_vehicles:
        return protocol(st.station_id, s, s.vehicle.iso15118_share, s.vehicle.pnc_share)
    return protocol(st.station_id, s, st.cfg.iso15118_share, st.cfg.pnc_share)


def emaid(st: StationCore, c: Connector) -> str:
    """The car's contract id (an eMAID-shaped id with the fleet's token prefix)."""
    return f"FSEMA{zlib.crc32(f'{st.station_id}/{c.connector_id}'.encode()):08X}"


def _hash_data(st: StationCore, c: Connector) -> dict[str, str]:
    """OCSPRequestDataType of the car's contract certificate (2.0.1 C07/M06)."""
    return {"hashAlgorithm": "SHA256",
            "issuerNameHash": hashlib.sha256(_MO_CA.encode()).hexdigest(),
            "issuerKeyHash": hashlib.sha256(b"fleetsim MO key").hexdigest(),
            "serialNumber": format(zlib.crc32(emaid(st, c).encode()), "x"),
            "responderURL": "http://ocsp.fleetsim.invalid/"}


_V2 = ("2.0.1/", "2.1/")


def is_pnc(st: StationCore, c: Connector) -> bool:
    return _protocol(st, c) == PNC


def on_plug(st: StationCore, c: Connector, t: float) -> None:
    """The car's ISO 15118 messages at plug-in (after TransactionEvent Started)."""
    speaks = _protocol(st, c)
    if speaks == NONE or c.session is None or not st.connected:
        return
    s = c.session
    evse, volts = c.connector_id, int(c.evse.voltage_v)
    departure = st.clock.iso(st.clock.wall(s.departure_s))
    needs: dict[str, Any] = {"departureTime": departure}
    if c.evse.dc:  # a DC car (dc_fast): its limits, energy and state of charge
        car = s.vehicle
        peak_w = int(min(c.evse.max_power_w, car.dc_peak_kw * 1000 or c.evse.max_power_w))
        needs.update(requestedEnergyTransfer="DC", dcChargingParameters={
            "evMaxCurrent": int(peak_w / volts) + 1, "evMaxVoltage": volts + 50,
            "evMaxPower": peak_w, "energyAmount": int(s.energy_kwh * 1000),
            "evEnergyCapacity": int(car.battery_kwh * 1000),
            "stateOfCharge": round(s.soc_start * 100)})
    else:
        amps = int(min(32.0, c.evse.max_power_w / (volts * max(c.evse.phases, 1))))
        needs.update(requestedEnergyTransfer="AC_three_phase" if c.evse.phases == 3
                     else "AC_single_phase",
                     acChargingParameters={"energyAmount": int(s.energy_kwh * 1000),
                                           "evMinCurrent": 6, "evMaxCurrent": amps,
                                           "evMaxVoltage": volts})
    v21 = st.version_prefix == "2.1/"
    request: dict[str, Any] = {"evseId": evse, "chargingNeeds": needs}
    if v21:
        request["timestamp"] = st.clock.iso(t)
    st.call("NotifyEVChargingNeeds", const(request), t)
    schedule = {"id": 1, "chargingRateUnit": "W", "duration": int(s.departure_s - s.arrival_s),
                "chargingSchedulePeriod": [{"startPeriod": 0,
                                            "limit": float(c.evse.max_power_w)}]}
    st.call("NotifyEVChargingSchedule", const({"timeBase": st.clock.iso(t), "evseId": evse,
                                               "chargingSchedule": schedule}), t)
    if speaks == PNC:
        if _draw(st, c, "install") < INSTALL_SHARE:
            exi = base64.b64encode(f"CertificateInstallationReq {emaid(st, c)}".encode())
            cert: dict[str, Any] = {"iso15118SchemaVersion": "urn:iso:15118:2:2013:MsgDef",
                                    "action": "Install", "exiRequest": exi.decode()}
            if v21:  # ISO 15118-20: the car may hold several contracts, ours first
                cert.update(iso15118SchemaVersion="urn:iso:std:iso:15118:-20:CommonMessages",
                            maximumContractCertificateChains=1,
                            prioritizedEMAIDs=[emaid(st, c)])
            st.call("Get15118EVCertificate", const(cert), t)
        st.call("GetCertificateStatus", const({"ocspRequestData": _hash_data(st, c)}), t)


def authorize_payload(st: StationCore, c: Connector, tag: str) -> dict[str, Any]:
    """Authorize: Plug & Charge (eMAID and certificate hash data) or the RFID token."""
    if is_pnc(st, c):
        return {"idToken": {"idToken": emaid(st, c), "type": "eMAID"},
                "iso15118CertificateHashData": [_hash_data(st, c)]}
    return {"idToken": {"idToken": tag, "type": "ISO14443"}}
