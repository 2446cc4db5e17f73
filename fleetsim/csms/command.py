"""``fleetsim csms``: run the embedded reference CSMS in the foreground.

Contract: once listening, exactly one line ``fleetsim csms listening on
ws://HOST:PORT`` goes to stdout and, with ``--ready-file``, JSON
``{"url", "port", "pid"}`` is written there atomically. SIGINT/SIGTERM stop
it cleanly (ledger flushed, exit 0). A startup error (port in use, ledger
not writable, unreadable token file) prints one line to stderr and exits 2.
Logs go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sqlite3
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import orjson

from fleetsim.csms.config import MEMORY_DB, CsmsConfig, read_passwords, read_tokens
from fleetsim.csms.server import CsmsServer, serve
from fleetsim.csms.workers import Workers
from fleetsim.exceptions import FleetsimError

__all__ = ["add_arguments", "run"]

_LOGGER = logging.getLogger("fleetsim.csms")
_EXIT_USAGE = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``fleetsim csms`` options to ``parser``."""
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument(
        "--port", type=int, default=9000, help="TCP port; 0 picks a free one (default 9000)"
    )
    parser.add_argument(
        "--db", default=MEMORY_DB, metavar="PATH", help="SQLite ledger file, or :memory: (default)"
    )
    parser.add_argument(
        "--heartbeat-interval",
        type=int,
        default=60,
        metavar="S",
        help="heartbeat interval in Accepted boots (default 60)",
    )
    parser.add_argument(
        "--token-prefix",
        default="FS",
        metavar="PREFIX",
        help="idTags/idTokens starting with this are Accepted (default FS; '' disables)",
    )
    parser.add_argument(
        "--tokens", metavar="FILE", help="file of accepted tokens, one per line (# comments)"
    )
    parser.add_argument(
        "--pending-first",
        type=int,
        default=0,
        metavar="N",
        help="answer each station's first N boots Pending (default 0)",
    )
    parser.add_argument(
        "--pending-interval",
        type=int,
        default=10,
        metavar="S",
        help="retry interval in Pending/Rejected boots (default 10)",
    )
    parser.add_argument(
        "--reject",
        nargs="+",
        action="extend",
        default=[],
        metavar="ID",
        help="station ids whose boots are Rejected",
    )
    parser.add_argument(
        "--ready-file", metavar="PATH", help="once listening, write {url, port, pid} JSON here"
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        metavar="N",
        help="serve from N processes sharing the port (SO_REUSEPORT)",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="stderr log level (default INFO)",
    )
    parser.add_argument("--tls-cert", metavar="PEM", help="serve wss:// with this certificate "
                        "(security profiles 2 and 3)")
    parser.add_argument("--tls-key", metavar="PEM", help="the certificate's private key")
    parser.add_argument("--client-ca", metavar="PEM", help="profile 3: require a client "
                        "certificate signed by this CA whose CN is the station id")
    parser.add_argument("--ca-key", metavar="PEM", help="with --client-ca: that CA's key, "
                        "to sign station CSRs (SignCertificate, A02); default: an in-memory CA")
    parser.add_argument("--password-file", metavar="FILE", help="profiles 1/2: require HTTP "
                        "Basic; the file holds one template line (with {station_id}) or "
                        "station_id:password lines")
    parser.add_argument("--commands", metavar="JSON", help="send these commands to the "
                        "stations (a run writes this file; the CSMS waits for it)")
    parser.add_argument("--durable", action="store_true", help="commit the ledger before "
                        "each answer: a killed CSMS loses nothing it acknowledged (slower)")
    # Internal: set by the first process for the others under --processes.
    parser.add_argument("--worker-index", type=int, default=0, help=argparse.SUPPRESS)


def run(ns: argparse.Namespace) -> int:
    """Run the CSMS until SIGINT/SIGTERM; return the process exit code."""
    logging.basicConfig(
        level=ns.log_level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        config = config_from_args(ns)
    except FleetsimError as exc:
        return _fail(str(exc))
    try:
        return _loop_runner()(_main(config, ns))
    except KeyboardInterrupt:  # Ctrl-C before the signal handlers were installed
        return 0


def config_from_args(ns: argparse.Namespace) -> CsmsConfig:
    """The :class:`CsmsConfig` the parsed options describe (raises FleetsimError)."""
    if ns.processes < 1:
        raise FleetsimError(f"csms: --processes must be >= 1, got {ns.processes}")
    template, passwords = (read_passwords(ns.password_file) if ns.password_file
                           else (None, {}))
    if ns.tls_cert and not ns.tls_key:
        raise FleetsimError("csms: --tls-cert needs --tls-key")
    if ns.client_ca and not ns.tls_cert:
        raise FleetsimError("csms: --client-ca (mutual TLS) needs --tls-cert")
    return CsmsConfig(
        tls_cert=ns.tls_cert,
        tls_key=ns.tls_key,
        client_ca=ns.client_ca,
        ca_key=ns.ca_key,
        password_template=template,
        passwords=passwords,
        commands_file=ns.commands if ns.worker_index == 0 else None,
        host=ns.host,
        port=ns.port,
        db=ns.db,
        heartbeat_interval_s=ns.heartbeat_interval,
        token_prefix=ns.token_prefix or None,
        tokens=read_tokens(ns.tokens) if ns.tokens else frozenset(),
        pending_first=ns.pending_first,
        pending_interval_s=ns.pending_interval,
        reject_ids=frozenset(ns.reject),
        reuse_port=ns.processes > 1,
        transaction_id_stride=ns.processes,
        transaction_id_offset=ns.worker_index,
        durable=ns.durable,
    )


async def _main(config: CsmsConfig, ns: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    # Ctrl-C reaches the whole process group; under --processes only the first
    # process acts on it (and SIGTERMs the others), so none "dies unexpectedly".
    loop.add_signal_handler(signal.SIGINT, stop.set if ns.worker_index == 0 else _ignore)
    try:
        server = await serve(config)
    except FleetsimError as exc:
        return _fail(str(exc))
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        return _fail(f"cannot listen on {config.host}:{config.port}: {reason}")
    workers = None
    code = 0
    commands = None
    if config.commands_file is not None:
        from fleetsim.csms.commands import CommandRunner

        runner = CommandRunner(server, config.commands_file)
        commands = asyncio.create_task(runner.run())
    try:
        if ns.processes > 1 and ns.worker_index == 0:
            options = shared_options(ns)
            workers = Workers(options=options, port=server.port, count=ns.processes - 1)
            await workers.start()
        print(f"fleetsim csms listening on {server.url}", flush=True)
        if ns.ready_file:
            write_ready_file(ns.ready_file, url=server.url, port=server.port)
        await _wait(stop, workers)
    except FleetsimError as exc:
        code = _fail(str(exc))
    finally:
        if commands is not None:
            commands.cancel()
        if workers is not None:
            await workers.stop()
        code = await _close(server) or code
    return code


def shared_options(ns: argparse.Namespace) -> list[str]:
    """The options every process of a ``--processes N`` CSMS runs with."""
    options = [
        *("--host", ns.host, "--db", ns.db, "--token-prefix", ns.token_prefix),
        *("--heartbeat-interval", str(ns.heartbeat_interval)),
        *("--pending-first", str(ns.pending_first), "--pending-interval", str(ns.pending_interval)),
        *("--processes", str(ns.processes), "--log-level", ns.log_level),
    ]
    if ns.durable:
        options.append("--durable")
    if ns.tokens:
        options += ["--tokens", ns.tokens]
    if ns.reject:
        options += ["--reject", *ns.reject]
    for flag, value in (("--tls-cert", ns.tls_cert), ("--tls-key", ns.tls_key),
                        ("--client-ca", ns.client_ca), ("--ca-key", ns.ca_key),
                        ("--password-file", ns.password_file)):
        if value:
            options += [flag, value]
    return options


async def _wait(stop: asyncio.Event, workers: Workers | None) -> None:
    waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(stop.wait())]
    if workers is not None:
        waiters.append(asyncio.ensure_future(workers.wait_any_exit()))
    done, pending = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    for task in done:
        task.result()  # a worker that died raises FleetsimError here


async def _close(server: CsmsServer) -> int:
    try:
        await server.close()
    except (FleetsimError, sqlite3.Error) as exc:
        return _fail(f"could not flush the ledger {server.config.db}: {exc}")
    where = server.config.db if server.config.db != MEMORY_DB else "memory"
    _LOGGER.info("stopped; ledger flushed to %s", where)
    return 0


def write_ready_file(path: str | Path, *, url: str, port: int) -> None:
    """Write ``{"url", "port", "pid"}`` to ``path`` atomically (temp file + rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(orjson.dumps({"url": url, "port": port, "pid": os.getpid()}))
        os.replace(tmp, path)
    except OSError as exc:
        raise FleetsimError(f"cannot write ready file {path}: {exc.strerror or exc}") from exc


def _ignore() -> None:
    pass


def _fail(message: str) -> int:
    print(f"fleetsim csms: {message}", file=sys.stderr, flush=True)
    return _EXIT_USAGE


def _loop_runner() -> Callable[[Coroutine[Any, Any, int]], int]:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency off Windows
        return asyncio.run
    return uvloop.run
