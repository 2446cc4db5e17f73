"""A Locust batch is built a slice of stations per turn of the engine child's loop.

Building a station (its fleet entry, session feed and station core) takes about
0.1 ms; a batch of 1,000 built in the start command's callback held the loop 96 ms
(issue 18). An engine child in this process, on the test's loop, against a real
WebSocket server on loopback.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from websockets.asyncio.server import serve
from websockets.typing import Subprotocol

from fleetsim.locust_adapter.child import BUILD_SLICE, EngineChild
from fleetsim.locust_adapter.wire import RunContext, decode, encode
from tests.transport.test_gauges import acks
from tests.transport.test_interval_steps import Turns

RAW = {"name": "build", "seed": 3, "duration": "60s",
       "stations": {"count": 64, "id_prefix": "BD", "connectors": 1, "versions": {"1.6": 1}},
       "drivers": {"model": "uniform"}}


async def until(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def test_a_batch_is_built_a_slice_a_turn_and_stations_stopped_before_it_never_start(
) -> None:
    server = await serve(acks(), "127.0.0.1", 0, ping_interval=None,
                         subprotocols=[Subprotocol("ocpp1.6")])
    url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    sent: list[dict[str, object]] = []
    ctx = RunContext(scenario=RAW, scenario_file="build.yaml", urls={"1.6": url},
                     origin_unix=time.time(), horizon_s=3600)
    child = EngineChild(ctx, lambda b: sent.append(decode(b)), "t0")
    commands = asyncio.StreamReader()
    run = asyncio.get_running_loop().create_task(child.run(commands))
    try:
        await until(lambda: any(m["t"] == "ready" for m in sent), 10, "the child to be ready")
        built: list[int] = []
        turns = Turns(lambda _: built.append(len(child.running)))
        n = 2 * BUILD_SLICE + 8
        child.start(list(range(n)))
        assert not child.running and len(child.to_build) == n  # nothing built in the command
        child.stop_some(list(range(2 * BUILD_SLICE, n)))  # stopped before they were built
        await until(lambda: not child.to_build, 10, "the batch to be built")
        turns.on = False
        # the loop ran between the slices, each slice handed to the engine whole
        assert BUILD_SLICE in built and 2 * BUILD_SLICE in built
        assert set(built) <= {0, BUILD_SLICE, 2 * BUILD_SLICE}
        eng = child.engine
        assert eng is not None
        await until(lambda: eng.gauges()["booted"] == 2 * BUILD_SLICE, 15,
                    "the built stations to boot")
        commands.feed_data(encode({"op": "quit"}))
        commands.feed_eof()
        assert await asyncio.wait_for(run, 30) == 0
    finally:
        run.cancel()
        server.close()
    assert child.started == set(range(2 * BUILD_SLICE))  # the stopped ones never started
    assert sent[-1]["t"] == "bye"
