"""fleetsim's Locust command-line options (``events.init_command_line_parser``).

The master (or a local run) needs them: workers receive the scenario, the CSMS
URLs and the run folder from the master with their first station index. A
worker reads only ``--fleetsim-worker-dir``, once at start (Locust later copies
the master's options over the worker's own).
"""

from __future__ import annotations

import functools
from typing import Any

__all__ = ["add_options", "compute_locust_defaults_once"]


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


def compute_locust_defaults_once() -> None:
    """Locust's worker tells custom options from its own by testing each option of every
    spawn message against ``argument_parser.default_args_dict()``, called once *per option*
    (``WorkerRunner.handle_message``): each call builds and runs Locust's whole argument
    parser, ~5 ms on a quiet core, ~70 options, once a second per worker during a ramp.
    With 6 workers on 2 cores that alone saturated the box and every Locust process missed
    heartbeats for over 60 s at 100,000 stations (issue 13). The defaults cannot change
    within a process (config files are ignored there), so they are computed once; the
    dict is only read (membership tests and the web UI's extra arguments)."""
    from locust import argument_parser

    current = argument_parser.default_args_dict
    if getattr(current, "cache_info", None) is None:
        argument_parser.default_args_dict = functools.cache(current)
