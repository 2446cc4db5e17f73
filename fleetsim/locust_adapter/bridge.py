"""The Locust side of one engine child: spawn it lazily, command it, replay its samples.

Never at import: ``--processes N`` forks after the locustfile is imported, and a
child started before the fork would be shared. The first station a worker
starts spawns the child (``sys.executable -m fleetsim.locust_adapter.child``, a
clean interpreter that gevent never patched) under a gevent lock; a writer
greenlet batches start/stop commands into the child's stdin, a reader greenlet
turns its sample batches into ``events.request.fire`` calls. :meth:`shutdown`
(on ``events.quitting``) asks it to stop all stations gracefully and kills it if
it lingers; if the worker dies anyway, the child sees EOF on stdin (or its parent pid
change within a second) and stops.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import gevent
import gevent.event
import gevent.lock
import psutil
from locust.env import Environment

import fleetsim
from fleetsim.locust_adapter.failures import call_failure, fault_failure
from fleetsim.locust_adapter.wire import RunContext, decode, encode
from fleetsim.scenario.model import StationsConfig

__all__ = ["REQUEST_TYPE", "EngineBridge"]

REQUEST_TYPE = "OCPP"
_YIELD_EVERY = 4000  # fired samples between yields to the hub (worker heartbeats)
log = logging.getLogger(__name__)


class EngineBridge:
    """One engine child per Locust worker process."""

    def __init__(self, environment: Environment, *, tag: str,
                 on_fatal: Callable[[str], None], call_timeout_ms: float = 0.0,
                 stations: StationsConfig | None = None, engines: int = 1) -> None:
        self.env, self.tag, self.on_fatal = environment, tag, on_fatal
        self.call_timeout_ms = call_timeout_ms
        self._lock = gevent.lock.Semaphore()
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: gevent.Greenlet[Any, Any] | None = None
        self._writer: gevent.Greenlet[Any, Any] | None = None
        self._ops: list[tuple[str, int]] = []
        self._wake = gevent.event.Event()
        self._bye = gevent.event.Event()
        self._closing = False
        self._ps = psutil.Process()
        self._cpu0 = sum(self._ps.cpu_times()[:2])
        self._t0 = time.monotonic()
        self.samples = 0
        self.held = self.held_max = 0  # stations started and not stopped; their most
        self.fatal: str | None = None
        self.live: dict[str, Any] | None = None  # the engine's latest live snapshot
        self.on_live: Callable[[dict[str, Any]], None] | None = None
        self.out_dir: str | None = None  # this host's run folder, if not the master's
        # the stop's length (node): these stations' settings, the engines sharing the rate
        self.stations, self.engines = stations, engines

    @property
    def pid(self) -> int | None:
        """The child's pid while it runs."""
        return None if self._proc is None else self._proc.pid

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # ------------------------------------------------------------------ commands
    def ensure(self, ctx: RunContext) -> None:
        """Start the child if it is not running (idempotent, safe from many greenlets)."""
        if self.alive:
            return
        with self._lock:
            # after a fatal error the test is being stopped: no new child until the next test
            if self.alive or self._closing or self.fatal is not None:
                return
            self._spawn(ctx)

    def start(self, index: int) -> None:
        self.held += 1
        self.held_max = max(self.held_max, self.held)
        self._ops.append(("start", index))
        self._wake.set()

    def stop(self, index: int) -> None:
        self.held -= 1
        self._ops.append(("stop", index))
        self._wake.set()

    def shutdown(self, timeout_s: float) -> None:
        """Stop every station gracefully, wait up to ``timeout_s``, then kill."""
        self._closing = True
        proc = self._proc
        if proc is None:
            return
        by_unix = time.time() + timeout_s  # the child cuts its graceful waits to fit
        cpu = self.cpu_percent()
        self._flush_ops()
        self._write(encode({"op": "quit", "locust_cpu_percent": cpu, "by_unix": by_unix,
                            "wait_s": timeout_s}))
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            log.error("engine child %s did not stop within %.0f s; killing it", proc.pid,
                      timeout_s)
            proc.kill()
            proc.wait()
        if self._reader is not None:
            self._reader.join(timeout=2.0)
        if self._writer is not None:
            self._writer.kill(block=False)

    def cpu_percent(self) -> float:
        """This Locust process's own CPU share since the bridge was made."""
        wall = time.monotonic() - self._t0
        return round((sum(self._ps.cpu_times()[:2]) - self._cpu0) / wall * 100, 1) if wall else 0.0

    # ------------------------------------------------------------------ internals
    def _spawn(self, ctx: RunContext) -> None:
        if self.out_dir is not None and ctx.out_dir:
            ctx = dataclasses.replace(ctx, out_dir=self.out_dir)
        stderr: IO[bytes] | None = None
        if ctx.out_dir:
            folder = Path(ctx.out_dir) / "workers" / self.tag
            folder.mkdir(parents=True, exist_ok=True)
            stderr = open(folder / "child.log", "ab")  # noqa: SIM115 - the child owns it
        env = dict(os.environ)
        root = str(Path(fleetsim.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "fleetsim.locust_adapter.child"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, env=env,
            start_new_session=True,  # Ctrl-C goes to Locust, which tells the child to quit
            close_fds=True)
        if stderr is not None:
            stderr.close()
        self._bye.clear()
        self._write(encode({"op": "init", "tag": self.tag, "ctx": ctx.to_wire()}))
        self._reader = gevent.spawn(self._read, self._proc)
        self._writer = gevent.spawn(self._write_loop)
        log.debug("engine child %s started for worker %s", self._proc.pid, self.tag)

    def _write(self, data: bytes) -> None:
        proc = self._proc
        if proc is None or proc.stdin is None or proc.poll() is not None:
            return
        try:
            proc.stdin.write(data)
            proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # the child is gone; the reader reports why

    def _write_loop(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            gevent.sleep(0.01)  # gather the spawn burst into one command
            self._flush_ops()

    def _flush_ops(self) -> None:
        ops, self._ops = self._ops, []
        out = bytearray()
        i = 0
        while i < len(ops):  # consecutive ops of one kind become one command, order kept
            op = ops[i][0]
            j = i
            while j < len(ops) and ops[j][0] == op:
                j += 1
            out += encode({"op": op, "stations": [k for _, k in ops[i:j]]})
            i = j
        if out:
            self._write(bytes(out))

    def _read(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        while True:
            line = proc.stdout.readline()
            if not line:
                break
            try:
                msg = decode(line)
            except ValueError:
                log.error("engine child %s wrote a malformed line: %.200r", proc.pid, line)
                continue
            kind = msg.get("t")
            if kind == "samples":
                self._fire(msg)
            elif kind == "live":
                self.live = msg.get("snap")
                if self.on_live is not None and self.live is not None:
                    self.on_live(self.live)
            elif kind == "warning":
                log.warning("%s", msg.get("message"))
            elif kind == "fatal":
                self.fatal = str(msg.get("message"))
                log.error("fleetsim: %s", self.fatal)
                self.on_fatal(self.fatal)
            elif kind == "bye":
                self._bye.set()
        code = proc.wait()
        if not self._closing and self.fatal is None:
            self.fatal = f"engine child {proc.pid} exited with code {code} during the run"
            log.error("fleetsim: %s", self.fatal)
            self.on_fatal(self.fatal)

    def _fire(self, msg: dict[str, Any]) -> None:
        fire: Any = self.env.events.request.fire  # locust's EventHook.fire is untyped
        fired = 0
        ok = msg.get("ok", ())
        # Locust's "Average size": each answer's share of its key's answer bytes, the
        # remainder on the first ones, so Locust's sum is the exact byte count
        answers: dict[str, int] = {}
        for key, _, n in ok:
            answers[key] = answers.get(key, 0) + n
        left = {key: (divmod(b, answers[key]) if answers.get(key) else (0, 0))
                for key, b in msg.get("bytes", {}).items()}
        for key, ms, n in ok:
            each, extra = left.get(key, (0, 0))
            for _ in range(n):
                size = each
                if extra:
                    size, extra = each + 1, extra - 1
                fire(request_type=REQUEST_TYPE, name=key, response_time=ms,
                     response_length=size, exception=None, context={})
            if key in left:
                left[key] = (each, extra)
            fired += n
            if fired >= _YIELD_EVERY:
                gevent.sleep(0)
                fired = 0
        for key, kind, ms, n in msg.get("err", ()):
            if kind == "interrupted":
                continue  # stopped by the run itself, not by the CSMS (summary.json counts it)
            exc = call_failure(kind)
            rt = max(ms, self.call_timeout_ms) if kind == "timeout" else ms
            for _ in range(n):
                fire(request_type=REQUEST_TYPE, name=key, response_time=rt, response_length=0,
                     exception=exc, context={})
        for kind, n in msg.get("faults", ()):
            named = fault_failure(kind)
            if named is None:
                continue
            name, exc = named
            for _ in range(n):
                fire(request_type=REQUEST_TYPE, name=name, response_time=0.0,
                     response_length=0, exception=exc, context={})
        self.samples += sum(n for _, _, n in msg.get("ok", ()))
