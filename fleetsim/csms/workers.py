"""``--processes N``: extra CSMS processes sharing the port with SO_REUSEPORT.

The first process binds (learning the port when it was 0), then starts N-1
copies of itself on that port; the kernel spreads new connections over all N.
Each copy has its own event loop and backend and writes the same ledger file
(SQLite WAL serialises the batched commits). 1.6 transaction ids stay unique
because process *i* issues only ids congruent to *i*+1 modulo N. Boot counts
for ``--pending-first`` are per process — a station's retries on one
connection reach the same process. On Linux a copy dies with its parent.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable, Sequence

from fleetsim.exceptions import FleetsimError
from fleetsim.lifeline import die_with_parent

__all__ = ["Workers"]

_START_TIMEOUT_S = 30.0
_STOP_TIMEOUT_S = 10.0


class Workers:
    """The N-1 extra processes of one CSMS; the first process owns them."""

    def __init__(self, *, options: Sequence[str], port: int, count: int) -> None:
        """``options``: the CSMS command-line options every process shares."""
        self._argvs = [
            [*options, "--port", str(port), "--worker-index", str(i)] for i in range(1, count + 1)
        ]
        self._procs: list[asyncio.subprocess.Process] = []
        self._stopping = False

    async def start(self) -> None:
        """Start every worker and wait until each listens (or raise FleetsimError)."""
        preexec: Callable[[], None] | None = (
            die_with_parent if sys.platform.startswith("linux") else None
        )
        for argv in self._argvs:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "fleetsim.csms",
                *argv,
                stdout=asyncio.subprocess.PIPE,
                preexec_fn=preexec,
            )
            self._procs.append(proc)
        for index, proc in enumerate(self._procs, start=1):
            assert proc.stdout is not None
            try:
                line = await asyncio.wait_for(proc.stdout.readline(), _START_TIMEOUT_S)
            except TimeoutError:
                line = b""
            if not line.startswith(b"fleetsim csms listening on"):
                raise FleetsimError(f"csms worker {index} did not start (see its log above)")

    async def wait_any_exit(self) -> None:
        """Return when the workers are being stopped; raise if one exits on its own."""
        waits = [asyncio.ensure_future(p.wait()) for p in self._procs]
        if not waits:
            await asyncio.Event().wait()
        try:
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
        if not self._stopping:
            code = next(iter(done)).result()
            raise FleetsimError(f"a csms worker exited unexpectedly (code {code})")

    async def stop(self) -> None:
        """SIGTERM every worker, wait for it to flush and exit, SIGKILL stragglers."""
        self._stopping = True
        for proc in self._procs:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        for proc in self._procs:
            try:
                await asyncio.wait_for(proc.wait(), _STOP_TIMEOUT_S)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()

    @property
    def pids(self) -> list[int]:
        """Process ids of the workers."""
        return [p.pid for p in self._procs]
