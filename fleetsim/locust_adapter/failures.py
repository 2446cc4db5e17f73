"""What Locust's failure table shows: CALLERRORs, timeouts and connection trouble.

Locust groups failures by (request type, name, ``repr(exception)``); these
exceptions carry only the kind, never a station id, so the table stays short.
One instance per kind is cached: firing thousands of failures allocates nothing.
"""

from __future__ import annotations

__all__ = ["CallErrorReceived", "CallTimedOut", "ConnectionFailure", "FrameFault",
           "OcppFailure", "call_failure", "fault_failure"]


class OcppFailure(Exception):
    """Base of the failures fleetsim reports to Locust."""


class CallErrorReceived(OcppFailure):
    """The CSMS answered a CALL with a CALLERROR (OCPP-J §4.2.3)."""


class CallTimedOut(OcppFailure):
    """No answer within ``csms.call_timeout``."""


class ConnectionFailure(OcppFailure):
    """A connection could not be opened, or was lost with a CALL in flight."""


class FrameFault(OcppFailure):
    """The CSMS sent something a station could not use (malformed or unexpected frame)."""


_CALLS: dict[str, OcppFailure] = {}
_FAULTS: dict[str, OcppFailure | None] = {}


def call_failure(kind: str) -> OcppFailure:
    """``CALLERROR:<code>``, ``timeout``, ``connection_lost``, ``interrupted`` → exception."""
    exc = _CALLS.get(kind)
    if exc is None:
        if kind.startswith("CALLERROR:"):
            exc = CallErrorReceived(f"CALLERROR {kind.partition(':')[2]}")
        elif kind == "timeout":
            exc = CallTimedOut("no answer within the call timeout")
        else:
            exc = ConnectionFailure(kind.replace("_", " "))
        _CALLS[kind] = exc
    return exc


def fault_failure(kind: str) -> tuple[str, OcppFailure] | None:
    """(Locust name, exception) of a station-level fault; None if it is not the CSMS's doing."""
    if kind == "session_balked":  # the driver model's busy connector, not a failure
        return None
    if kind not in _FAULTS:
        _FAULTS[kind] = (FrameFault if kind.startswith(("received_", "unexpected_",
                                                        "unsupported_"))
                         else ConnectionFailure)(kind.replace("_", " "))
    exc = _FAULTS[kind]
    assert exc is not None
    return ("frames" if isinstance(exc, FrameFault) else "connection"), exc
