"""The OCPP versions the CSMS speaks and who may send which action.

The ``ocpp`` library lists every action of a version (its ``Action`` enums and
schema files) but not the direction a message flows in, so the spec's
direction tables live here. A test checks that, per version, the station-side
and CSMS-side sets partition the library's action enumeration exactly: a new
action in a future ``ocpp`` release fails that test until it is classified.
"""

from __future__ import annotations

import enum
import functools
import importlib
from types import ModuleType

__all__ = ["CSMS_ACTIONS", "SEND_ACTIONS", "STATION_ACTIONS", "OcppVersion"]


class OcppVersion(enum.Enum):
    """An OCPP version, identified by its WebSocket subprotocol (OCPP-J §3.1.2)."""

    V16 = "ocpp1.6"
    V201 = "ocpp2.0.1"
    V21 = "ocpp2.1"

    @property
    def subprotocol(self) -> str:
        """The ``Sec-WebSocket-Protocol`` token, e.g. ``ocpp2.0.1``."""
        return self.value

    @property
    def label(self) -> str:
        """The version as the ``ocpp`` library and the ledger spell it: ``1.6``, ``2.0.1``, ``2.1``."""
        return self.value.removeprefix("ocpp")

    @property
    def is_v2(self) -> bool:
        """True for 2.0.1 and 2.1, which share their message model."""
        return self is not OcppVersion.V16

    @property
    def package(self) -> str:
        """The ``ocpp`` package of this version: ``ocpp.v16``, ``ocpp.v201``, ``ocpp.v21``."""
        return "ocpp.v" + self.label.replace(".", "")

    @property
    def enums(self) -> ModuleType:
        """The ``ocpp.vXX.enums`` module of this version (imported on first use: ~0.2 s each)."""
        module: ModuleType = importlib.import_module(self.package + ".enums")
        return module

    def library_actions(self) -> frozenset[str]:
        """Every action name the ``ocpp`` library knows for this version."""
        return _library_actions(self)

    @classmethod
    def from_subprotocol(cls, subprotocol: str | None) -> OcppVersion | None:
        """The version for a subprotocol token, or None if not supported."""
        try:
            return cls(subprotocol)
        except ValueError:
            return None


@functools.cache
def _library_actions(version: OcppVersion) -> frozenset[str]:
    return frozenset(str(a.value) for a in version.enums.Action)


# OCPP 1.6 §4 "Operations initiated by Charge Point" plus the Security
# Whitepaper (edition 3) messages the ocpp library ships.
_V16_STATION = frozenset(
    {
        "Authorize",
        "BootNotification",
        "DataTransfer",
        "DiagnosticsStatusNotification",
        "FirmwareStatusNotification",
        "Heartbeat",
        "MeterValues",
        "StartTransaction",
        "StatusNotification",
        "StopTransaction",
        "LogStatusNotification",
        "SecurityEventNotification",
        "SignCertificate",
        "SignedFirmwareStatusNotification",
    }
)

# OCPP 2.0.1 Part 2 §"Messages": requests sent by the Charging Station.
_V201_STATION = frozenset(
    {
        "Authorize",
        "BootNotification",
        "ClearedChargingLimit",
        "DataTransfer",
        "FirmwareStatusNotification",
        "Get15118EVCertificate",
        "GetCertificateStatus",
        "Heartbeat",
        "LogStatusNotification",
        "MeterValues",
        "NotifyChargingLimit",
        "NotifyCustomerInformation",
        "NotifyDisplayMessages",
        "NotifyEVChargingNeeds",
        "NotifyEVChargingSchedule",
        "NotifyEvent",
        "NotifyMonitoringReport",
        "NotifyReport",
        "PublishFirmwareStatusNotification",
        "ReportChargingProfiles",
        "ReservationStatusUpdate",
        "SecurityEventNotification",
        "SignCertificate",
        "StatusNotification",
        "TransactionEvent",
    }
)

# OCPP 2.1 adds these Charging Station → CSMS requests.
_V21_STATION = _V201_STATION | frozenset(
    {
        "BatterySwap",
        "ClosePeriodicEventStream",
        "GetCertificateChainStatus",
        "NotifyDERAlarm",
        "NotifyDERStartStop",
        "NotifyPriorityCharging",
        "NotifySettlement",
        "OpenPeriodicEventStream",
        "PullDynamicScheduleUpdate",
        "ReportDERControl",
        "VatNumberValidation",
    }
)

STATION_ACTIONS: dict[OcppVersion, frozenset[str]] = {
    OcppVersion.V16: _V16_STATION,
    OcppVersion.V201: _V201_STATION,
    OcppVersion.V21: _V21_STATION,
}
"""Per version, the requests a station may send and the CSMS must answer."""

# OCPP 1.6 §5 "Operations initiated by Central System" plus the security
# extension's. DataTransfer flows both ways, so it is in both tables.
_V16_CSMS = frozenset(
    {
        "CancelReservation",
        "CertificateSigned",
        "ChangeAvailability",
        "ChangeConfiguration",
        "ClearCache",
        "ClearChargingProfile",
        "DataTransfer",
        "DeleteCertificate",
        "ExtendedTriggerMessage",
        "GetCompositeSchedule",
        "GetConfiguration",
        "GetDiagnostics",
        "GetInstalledCertificateIds",
        "GetLocalListVersion",
        "GetLog",
        "InstallCertificate",
        "RemoteStartTransaction",
        "RemoteStopTransaction",
        "ReserveNow",
        "Reset",
        "SendLocalList",
        "SetChargingProfile",
        "SignedUpdateFirmware",
        "TriggerMessage",
        "UnlockConnector",
        "UpdateFirmware",
    }
)

_V201_CSMS = frozenset(
    {
        "CancelReservation",
        "CertificateSigned",
        "ChangeAvailability",
        "ClearCache",
        "ClearChargingProfile",
        "ClearDisplayMessage",
        "ClearVariableMonitoring",
        "CostUpdated",
        "CustomerInformation",
        "DataTransfer",
        "DeleteCertificate",
        "GetBaseReport",
        "GetChargingProfiles",
        "GetCompositeSchedule",
        "GetDisplayMessages",
        "GetInstalledCertificateIds",
        "GetLocalListVersion",
        "GetLog",
        "GetMonitoringReport",
        "GetReport",
        "GetTransactionStatus",
        "GetVariables",
        "InstallCertificate",
        "PublishFirmware",
        "RequestStartTransaction",
        "RequestStopTransaction",
        "ReserveNow",
        "Reset",
        "SendLocalList",
        "SetChargingProfile",
        "SetDisplayMessage",
        "SetMonitoringBase",
        "SetMonitoringLevel",
        "SetNetworkProfile",
        "SetVariableMonitoring",
        "SetVariables",
        "TriggerMessage",
        "UnlockConnector",
        "UnpublishFirmware",
        "UpdateFirmware",
    }
)

_V21_CSMS = _V201_CSMS | frozenset(
    {
        "AFRRSignal",
        "AdjustPeriodicEventStream",
        "ChangeTransactionTariff",
        "ClearDERControl",
        "ClearTariffs",
        "GetDERControl",
        "GetPeriodicEventStream",
        "GetTariffs",
        "NotifyAllowedEnergyTransfer",
        "NotifyWebPaymentStarted",
        "RequestBatterySwap",
        "SetDERControl",
        "SetDefaultTariff",
        "UpdateDynamicSchedule",
        "UsePriorityCharging",
    }
)

CSMS_ACTIONS: dict[OcppVersion, frozenset[str]] = {
    OcppVersion.V16: _V16_CSMS,
    OcppVersion.V201: _V201_CSMS,
    OcppVersion.V21: _V21_CSMS,
}
"""Per version, the requests a CSMS sends; a station sending one gets NotSupported."""

# OCPP 2.1 Part 4 §4.2.5: SEND (MessageTypeId 6) carries unconfirmed messages
# from the station; the only one defined is NotifyPeriodicEventStream.
SEND_ACTIONS: dict[OcppVersion, frozenset[str]] = {
    OcppVersion.V16: frozenset(),
    OcppVersion.V201: frozenset(),
    OcppVersion.V21: frozenset({"NotifyPeriodicEventStream"}),
}
"""Per version, the SEND messages the CSMS accepts (no response is sent)."""
