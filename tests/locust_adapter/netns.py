"""Hosts for multi-host tests: Linux network namespaces on one bridge, each its own address.

``Hosts(["master", "w1", ...])`` makes one namespace per host plus a switch
namespace holding the bridge; every host gets ``eth0`` with an address in a
private /24 made for this test alone (10.213.<random>.0/24), reachable only from
the other hosts of the test. Names carry a random suffix, so parallel runs never
meet. On exit every process inside a host is stopped (by pid: ``ip netns pids``)
and the namespaces are deleted, which deletes their links too.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["Hosts", "netns_unavailable"]


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10,
                          check=check, stdin=subprocess.DEVNULL)


def netns_unavailable() -> str | None:
    """Why this machine cannot make namespaces for the test (None: it can)."""
    name = f"fsprobe{secrets.token_hex(3)}"
    try:
        done = _ip("netns", "add", name, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"no usable ip(8): {exc}"
    if done.returncode != 0:
        return f"ip netns add failed: {done.stderr.strip()}"
    _ip("netns", "del", name, check=False)
    return None


class Hosts:
    """Network namespaces joined by a bridge: one per host name."""

    def __init__(self, names: Sequence[str]) -> None:
        suffix = secrets.token_hex(3)
        self.ns = {h: f"fs{suffix}{i}" for i, h in enumerate(names)}
        self.switch = f"fs{suffix}sw"
        net = f"10.213.{secrets.randbelow(250) + 2}"
        self.addr = {h: f"{net}.{i + 1}" for i, h in enumerate(names)}
        self.procs: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> Hosts:
        try:
            self._create()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _create(self) -> None:
        _ip("netns", "add", self.switch)
        _ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.switch, "link", "set", "br0", "up")
        for i, (host, ns) in enumerate(self.ns.items()):
            _ip("netns", "add", ns)
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", f"p{i}",
                "netns", self.switch)
            _ip("-n", ns, "addr", "add", f"{self.addr[host]}/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
            _ip("-n", self.switch, "link", "set", f"p{i}", "master", "br0")
            _ip("-n", self.switch, "link", "set", f"p{i}", "up")

    def popen(self, host: str, cmd: Sequence[str], *, log: Path,
              hide: Sequence[Path] = (), **kw: Any) -> subprocess.Popen[bytes]:
        """Start ``cmd`` on ``host``; ``hide`` folders are covered by an empty tmpfs there
        (its own mount namespace), so that host cannot see what another host wrote."""
        wrap: list[str] = ["ip", "netns", "exec", self.ns[host]]
        if hide:
            mounts = " && ".join(f'mount -t tmpfs tmpfs "${i + 1}"' for i in range(len(hide)))
            wrap += ["sh", "-c", f'{mounts} && shift {len(hide)} && exec "$@"', "sh",
                     *map(str, hide)]
        with open(log, "wb") as out:
            proc = subprocess.Popen([*wrap, *cmd], stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True, **kw)
        self.procs.append(proc)
        return proc

    def pids(self) -> set[int]:
        """Every process inside the hosts now."""
        out: set[int] = set()
        for ns in (*self.ns.values(), self.switch):
            done = _ip("netns", "pids", ns, check=False)
            out.update(int(p) for p in done.stdout.split() if p.isdigit())
        return out

    def close(self, grace_s: float = 5.0) -> None:
        """Stop every process in the hosts (TERM, then KILL), then delete the namespaces."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            pids = self.pids()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + grace_s
            while self.pids() and time.monotonic() < deadline:
                for proc in self.procs:
                    proc.poll()  # reap our own children
                time.sleep(0.05)
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=grace_s)
        for ns in (*self.ns.values(), self.switch):
            _ip("netns", "del", ns, check=False)
