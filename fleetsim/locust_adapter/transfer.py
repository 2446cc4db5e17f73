"""An engine's final folder, worker → master over Locust's own ZeroMQ channel.

A worker on another host writes ``workers/<tag>/`` on its own disk. When its
engine child has stopped and written its final files, the worker sends the
folder to the master in chunks of custom messages; the master writes them into
its run folder, checks every file's size, and acknowledges. Nobody copies
folders by hand, and the master never reads a worker's disk.

A worker that shares the master's disk (``--processes N``, or a shared mount)
finds the master's run marker (:data:`RUN_ID_FILE`, a nonce also sent in the
run context) in the run folder and writes there directly: nothing to send.

Messages::

    fleetsim_files      worker → master  {"tag", "name", "offset", "data": bytes}
                                         {"tag", "done": {name: size, ...}}
    fleetsim_files_ack  master → worker  {"tag", "ok": bool, "error": str | None}
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["CHUNK_BYTES", "FILES", "FILES_ACK", "RUN_ID_FILE", "FolderReceiver",
           "folder_messages", "new_run_id", "shares_disk"]

FILES, FILES_ACK = "fleetsim_files", "fleetsim_files_ack"
CHUNK_BYTES = 1 << 20  # far below ZeroMQ's and msgpack's limits; the master stays responsive
RUN_ID_FILE = ".fleetsim-run"


def new_run_id(out: Path) -> str:
    """Write a fresh nonce into ``out``: a worker that can read it shares the master's disk."""
    run_id = secrets.token_hex(16)
    out.mkdir(parents=True, exist_ok=True)
    (out / RUN_ID_FILE).write_text(run_id, encoding="ascii")
    return run_id


def shares_disk(out_dir: str, run_id: str | None) -> bool:
    """Whether this process sees the master's run folder (same host or a shared mount)."""
    if not run_id:
        return True  # a master without a marker (older): the old shared-disk behaviour
    try:
        return (Path(out_dir) / RUN_ID_FILE).read_text(encoding="ascii").strip() == run_id
    except OSError:
        return False


def folder_messages(folder: Path, tag: str) -> Iterator[dict[str, Any]]:
    """The messages that carry ``folder``'s files, then the manifest that closes them."""
    sizes: dict[str, int] = {}
    for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
        size = 0
        with open(path, "rb") as f:
            while True:
                data = f.read(CHUNK_BYTES)
                if not data and size:
                    break
                yield {"tag": tag, "name": path.name, "offset": size, "data": data}
                size += len(data)
                if not data:
                    break  # an empty file: one empty chunk creates it
        sizes[path.name] = size
    yield {"tag": tag, "done": sizes}


class FolderReceiver:
    """The master's side: chunks into ``<run>/workers/<tag>/``, then size checks."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.complete: set[str] = set()
        self.errors: dict[str, str] = {}
        self._next: dict[tuple[str, str], int] = {}  # (tag, file) → the next byte expected

    def _dir(self, tag: str) -> Path:
        if not tag or "/" in tag or tag.startswith("."):
            raise ValueError(f"bad worker tag {tag!r}")
        return self.out / "workers" / tag

    def accept(self, data: dict[str, Any]) -> dict[str, Any] | None:
        """Take one message; returns the acknowledgement once a folder is complete."""
        tag = str(data.get("tag", ""))
        try:
            folder = self._dir(tag)
            if "done" in data:
                return self._finish(tag, folder, {str(k): int(v)
                                                  for k, v in data["done"].items()})
            name = str(data["name"])
            if "/" in name or name.startswith("."):
                raise ValueError(f"bad file name {name!r}")
            offset, chunk = int(data["offset"]), bytes(data["data"])
            expected = self._next.get((tag, name), 0)
            if offset != expected:  # a chunk lost or out of order: never a file with a hole
                raise ValueError(f"{name}: a chunk at byte {offset}, expected byte {expected}")
            folder.mkdir(parents=True, exist_ok=True)
            with open(folder / f".{name}.part", "ab" if offset else "wb") as f:
                f.write(chunk)
            self._next[tag, name] = offset + len(chunk)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self.errors.setdefault(tag, f"{type(exc).__name__}: {exc}")
            return None
        return None

    def _finish(self, tag: str, folder: Path, sizes: dict[str, int]) -> dict[str, Any]:
        error = self.errors.get(tag)
        if error is None:
            for name, size in sizes.items():
                part = folder / f".{name}.part"
                got = part.stat().st_size if part.exists() else -1
                if got != size:
                    error = f"{name}: {got} of {size} bytes arrived"
                    break
        if error is None:
            # final figures last: worker.json present means the folder is whole
            for name in sorted(sizes, key=lambda n: (n in ("recorder.json", "worker.json"), n)):
                os.replace(folder / f".{name}.part", folder / name)
            self.complete.add(tag)
        else:
            self.errors[tag] = error
        return {"tag": tag, "ok": error is None, "error": error}
