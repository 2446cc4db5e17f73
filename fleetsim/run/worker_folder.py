"""``<run>/workers/<tag>/``: one engine process's exact figures, written and read here.

Every engine writes one — the in-process engine of ``fleetsim run --workers 0``
(tag ``engine``) as much as the child behind each Locust worker — and
:func:`fleetsim.run.merge.merge_run` makes the run's results from all of them, so
both ways of running share one results path. As the run goes: ``intervals.jsonl``
(one :class:`IntervalStats` a second), ``sessions.jsonl``, ``messages.jsonl``; at the
end ``recorder.json`` (:meth:`Recorder.to_wire`) and then ``worker.json`` (the
engine's facts, :func:`engine_facts`): ``worker.json`` present means the folder is whole.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from fleetsim.metrics.recorder import IntervalStats, Recorder

__all__ = ["IN_PROCESS_TAG", "WorkerFolder", "engine_facts", "read_lines", "worker_dirs"]

IN_PROCESS_TAG = "engine"  # the one engine of an in-process run (summary["cpu"]["engines"])


class WorkerFolder:
    """``<run>/workers/<tag>/``: what one engine measured, exactly, for the merge."""

    def __init__(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._intervals: IO[bytes] = open(path / "intervals.jsonl", "ab")  # noqa: SIM115
        self._sessions: IO[bytes] = open(path / "sessions.jsonl", "ab")  # noqa: SIM115
        self._messages: IO[bytes] = open(path / "messages.jsonl", "ab")  # noqa: SIM115

    def interval(self, stats: IntervalStats) -> None:
        self._intervals.write(orjson.dumps(stats.to_wire()) + b"\n")
        self._intervals.flush()  # the live progress line tails this file

    def sessions(self, rows: list[dict[str, Any]]) -> None:
        out = bytearray()
        for r in rows:
            tx = r.get("tx")
            row = {k: v for k, v in r.items() if k != "tx"}
            row["transaction_id"] = getattr(tx, "id", None) if tx is not None else None
            # did the CSMS take the session? 1.6: a transactionId came back; 2.x: its
            # TransactionEvent Started was answered
            row["csms_acknowledged"] = bool(getattr(tx, "acknowledged", False))
            out += orjson.dumps(row, default=str) + b"\n"
        self._sessions.write(out)

    def messages(self, rows: list[dict[str, Any]]) -> None:
        self._messages.write(b"".join(orjson.dumps(r) + b"\n" for r in rows))

    def close(self) -> None:
        self._intervals.close()
        self._sessions.close()
        self._messages.close()

    def finish(self, rec: Recorder, facts: dict[str, Any]) -> None:
        """Close the streams and write the final figures: the recorder, then the facts."""
        self.close()
        self._final("recorder.json", rec.to_wire())
        self._final("worker.json", facts)

    def _final(self, name: str, data: dict[str, Any]) -> None:
        tmp = self.path / f".{name}.tmp"
        tmp.write_bytes(orjson.dumps(data))
        tmp.replace(self.path / name)  # atomic: the merge never reads half a file


def engine_facts(tag: str, engine: Any, *, started: Iterable[int], booted: Iterable[int],
                 wall_s: float, cpu_percent: float, failure: str | None,
                 **extra: Any) -> dict[str, Any]:
    """``worker.json``: who ran which stations, and how the engine ended.

    ``engine`` is the :class:`fleetsim.transport.engine.Engine` (not imported here: this
    module stays free of websockets); ``extra`` adds what only one kind of engine knows
    (a Locust worker's own CPU, descriptor refusals, a late stop)."""
    started, booted = sorted(set(started)), sorted(set(booted))
    facts: dict[str, Any] = {
        "tag": tag, "pid": os.getpid(), "host": socket.gethostname(),
        "stations_started": len(started), "booted": len(booted),
        "booted_indices": booted, "started_indices": started,
        "connected_max": engine.connected_max, "wall_s": round(wall_s, 3),
        "cpu_percent": cpu_percent, "locust_cpu_percent": None,
        "connect_failures": engine.connect_failures, "first_error": engine.first_error,
        "fd_headroom": None, "fd_refused": 0, "fd_refused_since_s": None, "failure": failure,
        "stop": dict(engine.stop_phases)}
    facts.update(extra)
    return facts


def worker_dirs(run: Path) -> list[Path]:
    """``<run>/workers/*`` that an engine wrote, sorted by tag."""
    base = run / "workers"
    return sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []


def read_lines(path: Path) -> Iterator[dict[str, Any]]:
    """The JSON lines of ``path`` (none if it is missing); a line cut short is skipped."""
    if not path.exists():
        return
    with open(path, "rb") as f:
        for line in f:
            if line.strip():
                try:
                    yield orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue  # a line cut short by a killed process
