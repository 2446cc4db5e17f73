"""The embedded CSMS stops commanding stations when the run's stop begins.

The run's end closes its stations one by one as each is answered (paced at the connect
rate); a command crossing a close came back as ``CALLERROR:1000`` (issue 18's end).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from fleetsim.csms.commands import CommandRunner, write_commands_file


def _runner(path: Path, until_unix: float | None) -> CommandRunner:
    now = time.time()
    write_commands_file(path, [], epoch_unix=now, factor=1.0, origin_unix=now, seed=1,
                        until_unix=until_unix)
    server: Any = SimpleNamespace(config=SimpleNamespace(tokens=[]))  # no station to command
    return CommandRunner(server, path)


async def test_no_command_is_sent_once_the_runs_stop_began(tmp_path: Path) -> None:
    runner = _runner(tmp_path / "commands.json", until_unix=time.time() + 0.3)
    await asyncio.wait_for(runner.run(), 5)  # returns at the stop, not when cancelled


async def test_without_an_end_it_commands_until_cancelled(tmp_path: Path) -> None:
    task = asyncio.get_running_loop().create_task(
        _runner(tmp_path / "commands.json", until_unix=None).run())
    done, _ = await asyncio.wait({task}, timeout=0.5)
    task.cancel()
    assert not done
