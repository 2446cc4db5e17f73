"""Real processes for the Locust tests: Locust on loopback, engine children, no orphans."""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
LOCUSTFILE = ROOT / "fleetsim" / "locustfile.py"
CHILD_PID = re.compile(rb"fleetsim engine child (\d+) for worker")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def locust(*args: str, processes: int | None = None) -> list[str]:
    """A headless Locust command on a private master port (never the default 5557)."""
    port = str(free_port())
    cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
           "--only-summary", "--loglevel", "INFO", "--master-bind-host", "127.0.0.1",
           "--master-bind-port", port, "--master-port", port, *args]
    if processes is not None:
        cmd += ["--processes", str(processes)]
    return cmd


def run(cmd: Sequence[str], *, timeout: float, log: Path) -> subprocess.CompletedProcess[bytes]:
    with open(log, "wb") as f:
        return subprocess.run(list(cmd), stdout=f, stderr=subprocess.STDOUT, timeout=timeout,
                              cwd=ROOT, stdin=subprocess.DEVNULL, check=False)


def child_pids(run_dir: Path) -> set[int]:
    """Engine children that ever started for this run (each logs its pid first thing)."""
    pids = set()
    for log in run_dir.glob("workers/*/child.log"):
        pids.update(int(m) for m in CHILD_PID.findall(log.read_bytes()))
    return pids


def wait_for(predicate: Callable[[], bool], timeout: float, what: str,
             seen: Callable[[], str] | None = None) -> None:
    """Poll ``predicate`` until true; on timeout say what was awaited (and ``seen()``)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            got = f" (seen: {seen()})" if seen is not None else ""
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}{got}")
        time.sleep(0.05)


def alive(pids: Iterable[int]) -> list[int]:
    out = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except psutil.NoSuchProcess:
            pass
    return out


async def fleetsim_async(*args: str, timeout_s: float) -> tuple[int, str]:
    """``python -m fleetsim ARGS`` without blocking the loop (a CSMS of the test may run on
    it); killed and re-raised after ``timeout_s``. Returns (exit code, stdout + stderr)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fleetsim", *args, cwd=ROOT, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace")

