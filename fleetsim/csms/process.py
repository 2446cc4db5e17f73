"""The embedded CSMS in its own OS process, for tests and local load tests.

``EmbeddedCsms`` runs ``python -m fleetsim.csms`` with the given policy and
waits until the child has written its ready file (never a fixed sleep). Its
own process means its own core and its own event loop: a CSMS sharing the
load generator's loop would distort both. It runs in its own session, so a
Ctrl-C in the terminal stops the run gracefully while the CSMS still answers the
stations' last messages; its owner stops it afterwards (on Linux it also gets
SIGTERM should the thread that started it die).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson

import fleetsim
from fleetsim.csms.config import MEMORY_DB
from fleetsim.exceptions import FleetsimError
from fleetsim.lifeline import die_with_parent

__all__ = ["EmbeddedCsms"]

_POLL_S = 0.02
_TAIL_CHARS = 2000


class EmbeddedCsms:
    """A CSMS child process: ``with EmbeddedCsms(db=path) as csms: ... csms.url``.

    Configuration is keyword-only and mirrors :class:`CsmsConfig`. ``port=0``
    picks a free port on the first start; :meth:`restart` reuses it. A child
    that dies while starting raises :class:`FleetsimError` with the tail of its
    stderr (kept in ``log_file`` if given, else a private temp file).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        db: str | Path = MEMORY_DB,
        heartbeat_interval_s: int = 60,
        token_prefix: str | None = "FS",
        tokens: Iterable[str] = (),
        pending_first: int = 0,
        pending_interval_s: int = 10,
        reject_ids: Iterable[str] = (),
        log_file: str | Path | None = None,
        processes: int = 1,
        start_timeout_s: float = 20.0,
        tls_cert: str | Path | None = None,
        tls_key: str | Path | None = None,
        client_ca: str | Path | None = None,
        ca_key: str | Path | None = None,
        password: str | None = None,
        passwords: Mapping[str, str] | None = None,
        commands_file: str | Path | None = None,
        durable: bool = False,
    ) -> None:
        self.host = host
        self._port = port
        self.db = str(db)
        self.heartbeat_interval_s = heartbeat_interval_s
        self.token_prefix = token_prefix
        self.tokens = tuple(tokens)
        self.pending_first = pending_first
        self.pending_interval_s = pending_interval_s
        self.reject_ids = tuple(reject_ids)
        self.log_file = None if log_file is None else Path(log_file)
        self.processes = processes
        self.start_timeout_s = start_timeout_s
        self.tls_cert, self.tls_key, self.client_ca = tls_cert, tls_key, client_ca
        self.ca_key = ca_key
        # HTTP Basic (profiles 1/2): a template with {station_id}, or a table; handed to the
        # child in a 0600 file, never on its command line (ps would show it)
        self._password, self._passwords = password, dict(passwords or {})
        self.commands_file = commands_file
        self.durable = durable
        self._proc: subprocess.Popen[bytes] | None = None
        self._tmp: Path | None = None
        self._url: str | None = None

    # -- facts -------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``ws://host:port`` of the running CSMS (append ``/<station_id>``)."""
        if self._url is None:
            raise FleetsimError("the embedded CSMS has not been started")
        return self._url

    @property
    def port(self) -> int:
        """The port listened on (known once started; kept across restarts)."""
        if self._port == 0:
            raise FleetsimError("the embedded CSMS has not been started")
        return self._port

    @property
    def db_path(self) -> Path | None:
        """The ledger file, or None for an in-memory ledger."""
        return None if self.db == MEMORY_DB else Path(self.db)

    @property
    def pid(self) -> int | None:
        """The child's process id while it runs."""
        return None if self._proc is None else self._proc.pid

    @property
    def running(self) -> bool:
        """Whether the child process is alive."""
        return self._proc is not None and self._proc.poll() is None

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> EmbeddedCsms:
        """Start the child and wait until it listens; returns self."""
        if self.running:
            raise FleetsimError("the embedded CSMS is already running")
        tmp = self._tmp = self._tmp or Path(tempfile.mkdtemp(prefix="fleetsim-csms-"))
        ready = tmp / "ready.json"
        ready.unlink(missing_ok=True)
        log_path = self.log_file or tmp / "stderr.log"
        with open(log_path, "ab") as log:
            log_start = log.tell()
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "fleetsim.csms", *self._options(tmp, ready)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                env=_child_env(),
                start_new_session=True,  # the terminal's Ctrl-C is for the run, not for us
                preexec_fn=die_with_parent if sys.platform.startswith("linux") else None,
            )
        try:
            info = self._wait_ready(ready, log_path, log_start)
        except BaseException:
            self.close()  # the stderr tail is in the exception; leave nothing behind
            raise
        self._url, self._port = str(info["url"]), int(info["port"])
        return self

    def stop(self, timeout_s: float = 10.0) -> int | None:
        """SIGTERM the child (it flushes its ledger), wait, SIGKILL if it lingers.

        Returns its exit code (None if it was not running). Idempotent.
        """
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                return proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
        return proc.wait()

    def kill(self) -> None:
        """SIGKILL the child: a crash, with up to one flush interval of ledger lost."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
        if proc is not None:
            proc.wait()

    def restart(self) -> EmbeddedCsms:
        """Stop (if running) and start again on the same port and ledger."""
        self.stop()
        return self.start()

    def close(self) -> None:
        """Stop the child and remove the private temp folder."""
        self.stop()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> EmbeddedCsms:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------

    def _options(self, tmp: Path, ready: Path) -> list[str]:
        options = [
            *("--host", self.host, "--port", str(self._port), "--db", self.db),
            *("--heartbeat-interval", str(self.heartbeat_interval_s)),
            *("--token-prefix", self.token_prefix or ""),
            *("--pending-first", str(self.pending_first)),
            *("--pending-interval", str(self.pending_interval_s)),
            *("--processes", str(self.processes), "--ready-file", str(ready)),
        ]
        if self.tokens:
            tokens = tmp / "tokens.txt"
            tokens.write_text("".join(f"{t}\n" for t in self.tokens), encoding="utf-8")
            options += ["--tokens", str(tokens)]
        if self.reject_ids:
            options += ["--reject", *self.reject_ids]
        if self.durable:
            options.append("--durable")
        for flag, value in (("--tls-cert", self.tls_cert), ("--tls-key", self.tls_key),
                            ("--client-ca", self.client_ca), ("--ca-key", self.ca_key),
                            ("--commands", self.commands_file)):
            if value is not None:
                options += [flag, str(value)]
        if self._password is not None or self._passwords:
            secret = tmp / "passwords.txt"
            text = (self._password + "\n" if self._password is not None else
                    "".join(f"{k}:{v}\n" for k, v in self._passwords.items()))
            fd = os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            options += ["--password-file", str(secret)]
        return options

    def _wait_ready(self, ready: Path, log_path: Path, log_start: int) -> dict[str, Any]:
        proc = self._proc
        assert proc is not None
        deadline = time.monotonic() + self.start_timeout_s
        while not ready.exists():
            if proc.poll() is not None:
                self._proc = None
                tail = _tail(log_path, log_start)
                raise FleetsimError(
                    f"embedded CSMS exited with code {proc.returncode} while starting: {tail}"
                )
            if time.monotonic() > deadline:
                self.kill()
                tail = _tail(log_path, log_start)
                raise FleetsimError(
                    f"embedded CSMS not ready within {self.start_timeout_s:g} s: {tail}"
                )
            # Wait for the child to exit or the poll interval to pass.
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(_POLL_S)
        info: dict[str, Any] = orjson.loads(ready.read_bytes())
        return info


def _child_env() -> dict[str, str]:
    """The environment with fleetsim importable, whatever the working directory."""
    env = dict(os.environ)
    root = str(Path(fleetsim.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


def _tail(path: Path, start: int) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(start)
            text = f.read().decode("utf-8", "replace").strip()
    except OSError:
        return "(no log)"
    return text[-_TAIL_CHARS:] or "(no output)"
