"""Dependencies point one way: each layer imports in a fresh interpreter without what it must not load."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("websockets", "uvloop", "locust", "gevent", "matplotlib")


@pytest.mark.parametrize(("module", "forbidden"), [
    ("fleetsim.scenario", HEAVY),
    ("fleetsim.drivers", HEAVY),
    ("fleetsim.station", HEAVY),
    ("fleetsim.metrics", HEAVY),
    ("fleetsim.transport", ("locust", "gevent", "matplotlib")),
    ("fleetsim.report", ("websockets", "uvloop", "locust", "gevent", "matplotlib")),
    ("fleetsim.csms.ledger", ("locust", "gevent", "matplotlib")),
    ("fleetsim.locust_adapter.child", ("locust", "gevent", "matplotlib")),
    # the engine child starts after the run's origin: every import is its stations' lateness
    ("fleetsim.locust_adapter.child", ("fleetsim.csms", "fleetsim.run.standalone")),
    ("fleetsim.run.distributed", ("locust", "gevent", "matplotlib")),
])
def test_layer_does_not_load(module: str, forbidden: tuple[str, ...]) -> None:
    code = (f"import sys, {module}; "
            f"print(','.join(m for m in {forbidden!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"{module} loads {out.stdout.strip()}"


def test_a_locust_worker_does_not_load_numpy() -> None:
    """Six Locust workers carry 100,000 stations: numpy (14 MiB each) stays in the engines
    and the master. What a worker runs: the locustfile, its view, the bridge, the scenario."""
    code = ("import sys, yaml\n"
            "import fleetsim.locustfile\n"
            "from locust.env import Environment\n"
            "from fleetsim.locust_adapter.bridge import EngineBridge\n"
            "from fleetsim.locust_adapter.webui import FleetView\n"
            "from fleetsim.scenario import parse_scenario\n"
            "FleetView(Environment(), is_worker=True, is_master=False)\n"
            "parse_scenario(yaml.safe_load(open('scenarios/quickstart.yaml')))\n"
            "print('numpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
