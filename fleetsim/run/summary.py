"""``summary.json``: per action × version figures, run facts and generator health.

One engine (``fleetsim run --workers 0``) or many (the Locust path) make the
same summary, through the same merge (:mod:`fleetsim.run.merge`): ``generator`` is
the merged view (``generator.workers`` engines) and ``generator_workers`` lists each
engine's own health; the run is invalid when *any* engine was saturated (a merged
loop-lag histogram could hide one bad worker).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fleetsim import __version__
from fleetsim.metrics.recorder import ActionStats, Recorder
from fleetsim.run.results import CPU_LIMIT_PERCENT, generator_health
from fleetsim.run.selfcheck import pipe_check
from fleetsim.scenario.model import Scenario

__all__ = ["HEADLINE", "WorkerFigures", "action_figures", "build_summary", "workers_generator"]

HEADLINE = "service"
"""The figure an action's top-level ``p50_ms`` … ``max_ms`` repeat (README: "Which latency")."""


class WorkerFigures:
    """One engine process's exact totals and facts (from ``workers/<tag>/``)."""

    def __init__(self, tag: str, rec: Recorder, info: Mapping[str, Any]) -> None:
        self.tag, self.rec, self.info = tag, rec, info

    @property
    def cpu_percent(self) -> float:
        return float(self.info.get("cpu_percent") or 0.0)


def workers_generator(merged: Recorder, workers: Sequence[WorkerFigures]) -> dict[str, Any]:
    """Merged generator health with a per-worker breakdown; valid only if every worker was."""
    per = []
    warnings: list[str] = []
    for w in workers:
        g = generator_health(w.rec, w.cpu_percent)
        locust_cpu = w.info.get("locust_cpu_percent")
        if locust_cpu is not None and float(locust_cpu) >= CPU_LIMIT_PERCENT:
            g["warnings"].append(f"Locust worker process CPU {float(locust_cpu):.0f} % >= "
                                 f"{CPU_LIMIT_PERCENT:.0f} %: add workers or machines")
            g["valid"] = False
        per.append({"worker": w.tag, "host": w.info.get("host"), "pid": w.info.get("pid"),
                    "stations": w.info.get("stations_started", 0),
                    "locust_cpu_percent": locust_cpu, **g})
        # one engine needs no name: its warnings read as an in-process run's always did
        warnings += [m if len(workers) == 1 else f"worker {w.tag}: {m}" for m in g["warnings"]]
    gen = generator_health(merged, max((w.cpu_percent for w in workers), default=0.0))
    gen["warnings"] = warnings
    gen["valid"] = not warnings
    gen["busy_machine"] = any(g.get("busy_machine") for g in per)
    gen["workers"] = len(per)
    gen["per_worker"] = per  # moved to summary["generator_workers"] by build_summary
    return gen


def build_summary(s: Scenario, *, rec: Recorder, versions: Mapping[str, int], planned: int,
                  connected_max: int, booted: int, wall_s: float, started_at: str,
                  failure: str | None, generator: dict[str, Any],
                  csms_restarts: Sequence[Mapping[str, Any]] = (),
                  interrupted: bool = False) -> dict[str, Any]:
    """The summary dict (``sessions`` and ``storm`` are completed by
    :meth:`ResultsFolder.write_final`). ``csms_restarts`` are the injected restarts of
    the embedded CSMS (done by whoever owns it, not by an engine). An ``interrupted`` run
    (Ctrl-C) stopped cleanly but early: it is not ``completed``, and says so."""
    if interrupted and failure is None:
        failure = (f"interrupted by the user after {wall_s:.1f} s of the planned "
                   f"{s.duration_s:g} s")
    actions: dict[str, Any] = {}
    errors_total: dict[str, int] = {}
    for key, a in sorted(rec.actions.items()):
        for k, n in a.errors.items():
            errors_total[k] = errors_total.get(k, 0) + n
        actions[key] = action_figures(a)
    for key, h in sorted(rec.flows.items()):  # CSMS command → its effect, e.g. RemoteStart
        actions[key] = {"count": h.count, "sent": h.count, "errors": 0, "errors_by_kind": {},
                        "kind": "flow",
                        **{k: v for k, v in h.summary().items() if k != "count"}}
    for k, n in rec.faults.items():
        errors_total[k] = errors_total.get(k, 0) + n
    generator = dict(generator)
    # fleetsim report reads generator.* as numbers: the per-worker breakdown sits beside it
    per_worker = generator.pop("per_worker", None)
    pipes = pipe_check(rec, stations=sum(versions.values()) or planned, wall_s=wall_s,
                       time_factor=s.clock.time_factor)
    generator["pipes_saturated"] = pipes["saturated"]
    if pipes["saturated"]:  # the run measured its own queue: say so, and fail the gate
        generator["warnings"] = [*generator["warnings"], pipes["warning"]]
        generator["valid"] = False
    extra = {} if per_worker is None else {"generator_workers": per_worker}
    injected = rec.injected_summary()
    if csms_restarts:
        injected["by_kind"]["csms_restart"] = len(csms_restarts)
        injected["total"] += len(csms_restarts)
        injected["events"] = sorted([*injected["events"], *map(dict, csms_restarts)],
                                    key=lambda e: (e["at_s"], e["kind"]))
    return {
        "fleetsim_version": __version__, "scenario": s.name, "scenario_file": s.file,
        "seed": s.seed, "started_at": started_at,
        "duration_s": round(wall_s, 3),
        "time_factor": s.clock.time_factor, "versions": dict(versions),
        "clock": {"timestamps": s.clock.timestamps, "intervals": s.clock.intervals},
        "completed": failure is None, "failure": failure, "interrupted": interrupted,
        "stations": {"planned": planned, "connected_max": connected_max, "booted": booted},
        "messages": {"sent": sum(a.sent for a in rec.actions.values()),
                     "received": sum(a.answered for a in rec.actions.values())
                     + sum(rec.incoming.values())},
        "incoming_calls": dict(rec.incoming),
        "unconfirmed": rec.wire.summary(wall_s),  # 2.1 SEND / CALLRESULTERROR (no latency)
        "wire": {"compression": s.csms.compression, **rec.wire.bytes_summary()},
        "actions": actions,
        "errors": {"total": sum(errors_total.values()), "by_kind": errors_total},
        "generator": generator,
        **extra,
        "pipes": pipes,
        "connect": {v: h.summary() for v, h in sorted(rec.connect.items())},
        "boot": _boot(rec),
        "offline": rec.offline_summary(),
        # what the CSMS said when it refused: CALLERROR descriptions, refused idTags
        "csms_said": rec.said.summary(),
        # what fleetsim did on purpose (scenario faults:); errors above are what followed
        "faults_injected": injected,
        "conformance": dict(sorted(rec.conformance.items())),
        "sessions": {},
    }


def action_figures(a: ActionStats) -> dict[str, Any]:
    """One action's ``summary.json`` entry: calls and fates, the headline percentiles (the
    :data:`HEADLINE` figure's), then each figure in full.

    ``calls`` are first attempts; ``sent`` every CALL frame (retries and replays too);
    ``errors`` the calls that finally failed; ``retried_by_kind`` the failed attempts that
    were sent again; ``count`` the samples of the service figure (answers, CALLERRORs and
    timeouts; ``censored`` of them are timeouts, recorded at the time they were given up).
    """
    errs = dict(a.errors)
    queued: dict[str, Any] = dict(a.queued.summary())
    queued["by_cause"] = {c: {"calls": int(v[0]), "total_s": round(v[1], 3),
                              "max_ms": round(v[2] * 1000, 3)}
                          for c, v in sorted(a.queued_by.items())}
    figures = {"service": a.service.summary(), "response": a.response.summary(),
               "queued": queued}
    return {"count": a.service.count, "calls": a.first, "sent": a.sent,
            "retries": a.sent - a.first, "errors": sum(errs.values()), "errors_by_kind": errs,
            "retried_by_kind": dict(a.retried), "censored": a.censored,
            "late_answers": a.late,
            "answer_bytes_mean": round(a.answer_bytes / a.answered, 1) if a.answered else 0.0,
            "figure": HEADLINE,
            **{k: v for k, v in figures[HEADLINE].items() if k != "count"}, **figures}


def _boot(rec: Recorder) -> dict[str, Any]:
    """Boot recovery: from the first BootNotification due to Accepted, and how many it took."""
    h = rec.boot
    retried = sum(n for k, n in rec.boot_attempts.items() if int(k) > 1)
    return {"booted": h.count, "retried": retried,
            "attempts": dict(sorted(rec.boot_attempts.items(), key=lambda kv: int(kv[0]))),
            **{k: v for k, v in h.summary().items() if k != "count"}}
