"""No fleetsim process outlives the one that started it.

The processes a run starts (Locust master and forked workers, the embedded CSMS
and its copies) ask the kernel for SIGTERM when their parent dies (Linux
``PR_SET_PDEATHSIG``), so a ``kill -9`` of ``fleetsim run`` still stops the
whole tree gracefully; an engine child stops on EOF from its worker or when its
parent pid changes (checked every second). The run's own process becomes a *child subreaper*:
descendants whose parent died are re-parented to it instead of to init, so it
can find and stop every one of them before it exits (:func:`stop_descendants`).
Elsewhere than Linux both are no-ops; the engine child's parent-pid watchdog
and Locust's master-heartbeat timeout remain.

Stdlib and psutil only: every layer may use it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Iterable

import psutil

__all__ = ["ORPHAN_BOUND_S", "become_subreaper", "children", "die_with_parent",
           "stop_descendants"]

# how long a process whose parent died may take to stop its stations and exit:
# Locust master's wait for its workers' final files (30 s) + an engine's graceful stop
ORPHAN_BOUND_S = 60.0
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_LINUX = sys.platform.startswith("linux")


def _prctl(option: int, value: int) -> bool:
    if not _LINUX:
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return int(libc.prctl(option, value, 0, 0, 0)) == 0


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Have the kernel send ``sig`` to this process when its parent exits.

    Usable as ``preexec_fn`` (runs in the child between fork and exec) or right
    after a ``fork()``. If the parent is already gone (re-parented to init), the
    signal is raised at once: the death happened before the request.
    """
    parent = os.getppid()
    if _prctl(_PR_SET_PDEATHSIG, int(sig)) and parent == 1:
        os.kill(os.getpid(), sig)


def become_subreaper(on: bool = True) -> bool:
    """Orphaned descendants of this process are re-parented to it, not to init (or no more)."""
    return _prctl(_PR_SET_CHILD_SUBREAPER, int(on))


def children() -> set[int]:
    """This process's children now (to spare what existed before a run)."""
    with contextlib.suppress(psutil.Error):
        return {p.pid for p in psutil.Process().children()}
    return set()


def _descendants(spare: set[int]) -> list[psutil.Process]:
    found: list[psutil.Process] = []
    with contextlib.suppress(psutil.Error):
        stack = psutil.Process().children()
        while stack:
            p = stack.pop()
            if p.pid in spare:
                continue  # and its own children: e.g. the CSMS's extra processes
            found.append(p)
            with contextlib.suppress(psutil.Error):
                stack.extend(p.children())
    return found


def stop_descendants(*, wait_s: float, grace_s: float, spare: Iterable[int] = ()) -> list[str]:
    """Wait ``wait_s`` for the descendants to end; SIGTERM the rest, SIGKILL after ``grace_s``.

    The processes in ``spare`` and their subtrees are left alone. Returns one
    line per process that had to be stopped (``pid command: terminated`` or
    ``killed``), for the run's log; empty when the tree had already ended.
    """
    _, procs = psutil.wait_procs(_descendants(set(spare)), timeout=wait_s)
    stopped: list[str] = []
    for p in procs:
        with contextlib.suppress(psutil.Error):
            if p.status() == psutil.STATUS_ZOMBIE:
                continue
            stopped.append(f"{p.pid} {' '.join(p.cmdline()[1:4])}")
            p.terminate()
    _, alive = psutil.wait_procs(procs, timeout=grace_s)
    for p in alive:
        with contextlib.suppress(psutil.Error):
            p.kill()
    psutil.wait_procs(alive, timeout=5.0)
    killed = {p.pid for p in alive}
    return [f"{line}: {'killed' if int(line.split()[0]) in killed else 'terminated'}"
            for line in stopped]
