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


if __name__ == "__main__":
    check(Path(sys.argv[1]))
    print("ok")
