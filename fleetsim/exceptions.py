"""One exception tree for everything fleetsim raises on purpose.

The CLI catches :class:`FleetsimError` and prints ``str(exc)`` as one line; any
other exception escaping to the user is a bug.
"""

from __future__ import annotations

__all__ = [
    "CsmsUnreachable",
    "FleetsimError",
    "ModelError",
    "OutputPathError",
    "ProtocolError",
    "ResultsError",
    "ScenarioError",
    "TransportError",
]


class FleetsimError(Exception):
    """Base of every error fleetsim reports to its user."""


class ScenarioError(FleetsimError):
    """A scenario file is malformed. The message names file, key path and problem."""

    def __init__(self, file: str, path: str, problem: str) -> None:
        self.file, self.path, self.problem = file, path, problem
        where = f"{file}: {path}" if path else file
        super().__init__(f"{where}: {problem}")


class OutputPathError(FleetsimError):
    """An output path (``--out``, ``--db``) that cannot be written: bad input, exit 2."""


class ModelError(FleetsimError):
    """A driver-model definition is malformed or inconsistent (names file and key)."""


class ProtocolError(FleetsimError):
    """An OCPP-J frame could not be understood or violates the protocol."""


class TransportError(FleetsimError):
    """A connection could not be opened or was lost."""


class CsmsUnreachable(TransportError):
    """No station could reach the CSMS at all (wrong URL, nothing listening)."""


class ResultsError(FleetsimError):
    """A results folder is missing files or holds something unreadable."""
