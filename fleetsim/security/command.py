"""``fleetsim certs``: a test CA, a server certificate and one certificate per station."""

from __future__ import annotations

import argparse
import time

__all__ = ["add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--stations", type=int, required=True, metavar="N",
                   help="station certificates to mint (CN = station id)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--prefix", default="FS", help="station id prefix (stations.id_prefix)")
    p.add_argument("--digits", type=int, default=6, help="station id digits (stations.id_digits)")
    p.add_argument("--host", action="append", default=None, metavar="NAME",
                   help="server certificate host name or IP (repeatable; default localhost, "
                        "127.0.0.1, ::1)")


def run(ns: argparse.Namespace) -> int:
    if ns.stations < 0:
        raise SystemExit("fleetsim certs: --stations must be >= 0")
    from fleetsim.security.certs import mint

    ids = [f"{ns.prefix}{i:0{ns.digits}d}" for i in range(ns.stations)]
    t0 = time.perf_counter()
    p = mint(ns.out, ids, hosts=tuple(ns.host or ("localhost", "127.0.0.1", "::1")))
    dt = time.perf_counter() - t0
    print(f"{p.ca} (CA), {p.server_cert} (server), {len(ids)} station certificates in "
          f"{p.stations}/ ({dt:.1f} s); private keys are mode 0600 — keep them out of "
          "version control")
    return 0
