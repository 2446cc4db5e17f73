"""fleetsim's Locust command-line options (``events.init_command_line_parser``).

The master (or a local run) needs them: workers receive the scenario, the CSMS
URLs and the run folder from the master with their first station index. A
worker reads only ``--fleetsim-worker-dir``, once at start (Locust later copies
the master's options over the worker's own).
"""

from __future__ import annotations

from typing import Any

__all__ = ["add_options"]


def add_options(parser: Any) -> None:
    """Register ``--fleetsim-*`` on Locust's parser (hidden from the web UI: set at start)."""
    group = parser  # Locust's own parser: only it understands include_in_web_ui
    group.add_argument("--fleetsim-scenario", metavar="FILE", default=None,
                       include_in_web_ui=False,
                       help="scenario YAML: station identities, OCPP versions, drivers, CSMS; "
                            "--users defaults to stations.count, --spawn-rate to connect_rate, "
                            "--run-time (headless) to duration; a load: section becomes the "
                            "load shape")
    group.add_argument("--fleetsim-csms", metavar="URL", default=None, include_in_web_ui=False,
                       help="CSMS base URL for every version (overrides csms.target; with "
                            "target: embedded and no URL the master starts the embedded CSMS)")
    group.add_argument("--fleetsim-out", metavar="DIR", default=None, include_in_web_ui=False,
                       help="run folder (default results/<scenario>-<UTC stamp>); workers write "
                            "workers/<tag>/ inside it, the master merges them at the end")
    group.add_argument("--fleetsim-seed", type=int, default=None, include_in_web_ui=False,
                       help="override the scenario's seed")
    group.add_argument("--fleetsim-metrics-port", type=int, metavar="PORT", default=None,
                       include_in_web_ui=False,
                       help="serve Prometheus metrics of the merged fleet figures on PORT "
                            "(master or local run; the web UI also serves /metrics)")
    group.add_argument("--fleetsim-no-merge", action="store_true", default=False,
                       include_in_web_ui=False,
                       help="leave the merge to the caller (fleetsim run does it)")
    group.add_argument("--fleetsim-worker-dir", metavar="DIR", default=None,
                       include_in_web_ui=False,
                       help="worker on another host: keep the engine's folder in DIR/<run>/ "
                            "(default: the master's run folder path on this host); its final "
                            "files reach the master over Locust's messages either way")
