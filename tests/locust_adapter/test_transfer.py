"""The folder transfer worker → master (Locust messages), without Locust: chunks in, checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetsim.locust_adapter import transfer
from fleetsim.locust_adapter.transfer import (
    FolderReceiver,
    folder_messages,
    new_run_id,
    shares_disk,
)


def _folder(tmp: Path) -> Path:
    d = tmp / "worker" / "workers" / "w001-p7"
    d.mkdir(parents=True)
    (d / "intervals.jsonl").write_bytes(b"x" * 2500)
    (d / "sessions.jsonl").write_bytes(b"")
    (d / "recorder.json").write_bytes(b'{"a": 1}')
    (d / "worker.json").write_bytes(b'{"tag": "w001-p7"}')
    (d / ".worker.json.tmp").write_bytes(b"half")  # never sent
    return d


def test_a_folder_arrives_whole_in_chunks(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transfer, "CHUNK_BYTES", 1000)
    src = _folder(tmp_path)
    msgs = list(folder_messages(src, "w001-p7"))
    assert len(msgs) == 3 + 1 + 1 + 1 + 1  # 3 chunks, an empty file, two finals, manifest
    rx = FolderReceiver(tmp_path / "master")
    acks = [a for a in map(rx.accept, msgs) if a is not None]
    assert acks == [{"tag": "w001-p7", "ok": True, "error": None}]
    dst = tmp_path / "master" / "workers" / "w001-p7"
    assert sorted(p.name for p in dst.iterdir()) == sorted(
        ["intervals.jsonl", "sessions.jsonl", "recorder.json", "worker.json"])
    for p in dst.iterdir():
        assert p.read_bytes() == (src / p.name).read_bytes()


def test_a_lost_chunk_is_named_and_the_folder_stays_incomplete(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    monkeypatch.setattr(transfer, "CHUNK_BYTES", 1000)
    msgs = list(folder_messages(_folder(tmp_path), "w001-p7"))
    del msgs[1]  # the second chunk of intervals.jsonl never came
    rx = FolderReceiver(tmp_path / "master")
    (ack,) = [a for a in map(rx.accept, msgs) if a is not None]
    assert ack == {"tag": "w001-p7", "ok": False,
                   "error": "ValueError: intervals.jsonl: a chunk at byte 2000, "
                            "expected byte 1000"}
    assert not (tmp_path / "master" / "workers" / "w001-p7" / "worker.json").exists()


@pytest.mark.parametrize("bad", [{"tag": "../x", "name": "a", "offset": 0, "data": b""},
                                 {"tag": "w1", "name": "../../etc", "offset": 0, "data": b""},
                                 {"tag": "w1", "name": "a"}])
def test_bad_messages_are_counted_never_written_outside(tmp_path: Path,
                                                        bad: dict[str, object]) -> None:
    rx = FolderReceiver(tmp_path / "master")
    assert rx.accept(bad) is None
    assert rx.errors
    assert not (tmp_path / "etc").exists() and not (tmp_path / "x").exists()


def test_a_worker_sees_whether_it_shares_the_masters_disk(tmp_path: Path) -> None:
    run_id = new_run_id(tmp_path / "run")
    assert shares_disk(str(tmp_path / "run"), run_id)
    assert not shares_disk(str(tmp_path / "run"), "another-run")
    assert not shares_disk(str(tmp_path / "elsewhere"), run_id)
