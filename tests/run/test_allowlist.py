"""`fleetsim plan --tags-out` lists exactly the idTags a run uses (issue 12.3): a CSMS
whose allow-list was loaded from it accepts every tag of the run, over a real
WebSocket on loopback, through ``fleetsim run --workers 0``."""

from __future__ import annotations

from pathlib import Path

from fleetsim.cli import main
from tests.run.allowlist_csms import AllowListCsms

SCENARIO = """\
name: allowlist
seed: 9
duration: 12s
stations: {{count: 24, connectors: 2, id_prefix: AL-, versions: {{"1.6": 1}}, connect_rate: 200}}
csms: {{target: "ws://127.0.0.1:{port}"}}
clock: {{time_factor: 3600, start: 2026-01-07T06:00:00Z}}
ocpp: {{meter_interval: 900s, authorize: true}}
drivers:
  mix: {{public_ac: 0.5, uniform: 0.5}}
  overrides: {{uniform: {{sessions_per_day: 24, dwell_h: [0.5, 1.5]}}}}
"""


def test_an_allow_list_from_fleetsim_plan_accepts_every_tag_the_run_uses(
        tmp_path: Path) -> None:
    fake = AllowListCsms(set())
    with fake.running():
        scenario = tmp_path / "s.yaml"
        scenario.write_text(SCENARIO.format(port=fake.port))
        tags = tmp_path / "tags.txt"
        assert main(["plan", str(scenario), "--out", str(tmp_path / "plan.csv"),
                     "--tags-out", str(tags)]) == 0
        fake.allowed = set(tags.read_text().split())
        assert len(fake.allowed) > 40
        assert main(["run", str(scenario), "--workers", "0",
                     "--out", str(tmp_path / "run")]) == 0
    assert fake.started > 40, "the run plugged cars in"
    assert fake.seen and not fake.refused, sorted(fake.refused)[:5]
