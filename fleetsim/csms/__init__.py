"""The embedded reference CSMS: a real OCPP 1.6J/2.0.1/2.1 server on loopback.

Built on the ``ocpp`` library and sharing no protocol code with
:mod:`fleetsim.station`, so that two independent implementations catch each
other's mistakes. Everything a station did is kept in a SQLite ledger.

* :func:`serve` — start one on the running event loop (tests);
* :class:`EmbeddedCsms` — run one in its own process (``python -m fleetsim.csms``);
* :class:`Ledger` — read what it recorded (``Ledger.open_readonly(path)``).
"""

from fleetsim.csms.config import MEMORY_DB, CsmsConfig, read_tokens
from fleetsim.csms.ledger import Ledger
from fleetsim.csms.process import EmbeddedCsms
from fleetsim.csms.records import (
    MessageCount,
    MeterValueRow,
    SeqNoAnomaly,
    StationRow,
    TransactionRow,
)
from fleetsim.csms.server import CsmsServer, serve
from fleetsim.csms.versions import OcppVersion

__all__ = [
    "MEMORY_DB",
    "CsmsConfig",
    "CsmsServer",
    "EmbeddedCsms",
    "Ledger",
    "MessageCount",
    "MeterValueRow",
    "OcppVersion",
    "SeqNoAnomaly",
    "StationRow",
    "TransactionRow",
    "read_tokens",
    "serve",
]
