"""A run's embedded CSMS: its security settings and commands, taken from the scenario.

Both ways of running (one in-process engine, or Locust workers) start the embedded
CSMS with ``EmbeddedCsms(..., **embedded_options(s, out))`` and, once the run's
simulated clock has started, call :func:`start_commands` so that the CSMS's
commands (``csms_commands:``) fire on the same simulated clock as the stations.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fleetsim.exceptions import FleetsimError
from fleetsim.scenario.model import Scenario

__all__ = ["COMMANDS_FILE", "embedded_options", "start_commands"]

COMMANDS_FILE = "csms_commands.json"


def embedded_options(s: Scenario, out: Path) -> dict[str, Any]:
    """Extra ``EmbeddedCsms`` keyword arguments for ``s`` (TLS, mTLS, Basic, commands)."""
    opts: dict[str, Any] = {}
    tls = s.csms.tls
    if tls is not None:
        if tls.server_cert is None or tls.server_key is None:
            raise FleetsimError("csms.tls: the embedded CSMS needs server_cert and server_key "
                                "(or tls.certs: a folder made by `fleetsim certs`)")
        opts.update(tls_cert=tls.server_cert, tls_key=tls.server_key)
        if tls.client_certs is not None:
            if tls.ca is None:
                raise FleetsimError("csms.tls: mutual TLS needs ca (the CA of the station "
                                    "certificates)")
            opts["client_ca"] = tls.ca
            ca_key = Path(tls.ca).with_suffix(".key")  # `fleetsim certs` puts it beside
            if ca_key.is_file():
                opts["ca_key"] = str(ca_key)  # station CSRs are signed by the trusted CA
    if s.csms.password is not None:
        opts["password"] = s.csms.password
    if any(r.mode == "kill" for r in s.faults.csms_restarts):
        opts["durable"] = True  # a crash then loses nothing the CSMS acknowledged
    if s.csms_commands:
        path = out / COMMANDS_FILE
        path.unlink(missing_ok=True)  # written once the clock starts (start_commands)
        opts["commands_file"] = str(path)
    return opts


def start_commands(s: Scenario, out: Path, *, origin_unix: float,
                   epoch_unix: float | None = None, run_s: float | None = None) -> None:
    """Hand the CSMS its commands and the run's clock (no-op without ``csms_commands``).

    ``origin_unix`` is the Unix time at which the simulated clock read its epoch; the
    commands end when the run's stop begins, ``run_s`` (default its duration) later.
    Only the embedded CSMS reads the file; a CSMS under test is not commanded.
    """
    if not s.csms_commands:
        return
    from fleetsim.csms.commands import write_commands_file

    if epoch_unix is None:

        epoch_unix = s.clock.epoch.timestamp()

    write_commands_file(out / COMMANDS_FILE, s.csms_commands, epoch_unix=epoch_unix,
                        factor=s.clock.time_factor, origin_unix=origin_unix, seed=s.seed,
                        until_unix=origin_unix + (s.duration_s if run_s is None else run_s))
