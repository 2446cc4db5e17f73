"""The body of ``test_health``, run as ``python -m tests.locust_adapter.health_check DIR``."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import locust.runners

from fleetsim.locust_adapter.health import WORKER_LIVENESS_S, WorkerLiveness
from fleetsim.run.merge import liveness_warnings


def check(tmp_path: Path) -> None:
    clients = {"w1": SimpleNamespace(id="w1", heartbeat=0, state="running")}
    live = WorkerLiveness(SimpleNamespace(clients=clients))
    # Locust now waits a minute of missed heartbeats before it believes a worker dead
    assert locust.runners.HEARTBEAT_LIVENESS >= WORKER_LIVENESS_S
    w = clients["w1"]
    w.heartbeat = locust.runners.HEARTBEAT_LIVENESS - 2
    live.poll(1000.0)
    assert live.episodes == []  # two missed heartbeats: within Locust's own old patience
    w.heartbeat = locust.runners.HEARTBEAT_LIVENESS - 12
    live.poll(1010.0)
    w.heartbeat = locust.runners.HEARTBEAT_LIVENESS  # it heard from the worker again
    live.poll(1011.0)
    live.write(tmp_path, origin_unix=990.0)
    warnings = liveness_warnings(tmp_path)
    assert warnings == ["Locust worker w1 sent no heartbeat for 12 s from t=8 s (CPU-starved?); "
                        "its stations stayed with it"], warnings
    assert liveness_warnings(tmp_path / "nowhere") == []


def check_spawn_messages_do_not_rebuild_the_parser() -> None:
    """Locust's worker tests every option of every spawn message against its defaults,
    rebuilding its whole argument parser per option; fleetsim computes them once."""
    from locust import argument_parser, events

    from fleetsim.locust_adapter import install

    fresh = argument_parser.default_args_dict()  # before install: uncached
    install(events)
    built = 0
    original = argument_parser.get_empty_argument_parser

    def counting(*args: object, **kwargs: object) -> object:
        nonlocal built
        built += 1
        return original(*args, **kwargs)

    argument_parser.get_empty_argument_parser = counting  # type: ignore[assignment]
    try:
        options = {f"opt{i}": i for i in range(70)}  # a spawn message's parsed_options
        custom = [k for k in options if k not in argument_parser.default_args_dict()]
    finally:
        argument_parser.get_empty_argument_parser = original
    assert len(custom) == 70
    assert built <= 1, f"the parser was built {built} times for one spawn message"
    assert argument_parser.default_args_dict() == fresh


if __name__ == "__main__":
    check(Path(sys.argv[1]))
    check_spawn_messages_do_not_rebuild_the_parser()
    print("ok")
