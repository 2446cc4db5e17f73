"""Guards shared by every test."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _no_event_loop_left_running() -> Iterator[None]:
    """A test that leaves an event loop marked running in this thread breaks every later
    ``asyncio.run``: name the culprit, not its victim."""
    yield
    loop = asyncio._get_running_loop()
    if loop is not None:
        asyncio._set_running_loop(None)
        pytest.fail(f"left an event loop marked running in this thread: {loop!r}")
