"""``fleetsim plan``: write the session plan of a scenario or of one archetype as CSV.

    fleetsim plan SCENARIO [--days D] [--stations N] [--seed S] [--start ISO] --out sessions.csv
    fleetsim plan SCENARIO --tags-out tags.txt     # the idTags a run uses, one a line
    fleetsim plan --model NAME --stations N --days D [--seed S] [--start ISO] --out sessions.csv

By default a scenario is planned for its run's simulated length (duration x
time_factor): exactly the sessions and idTags ``fleetsim run`` uses.

The CLI module wires :func:`add_arguments` and :func:`run`; problems raise
:class:`~fleetsim.exceptions.FleetsimError` subclasses, printed as one line.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from fleetsim.drivers.iso15118mix import ISO15118, PNC, protocol
from fleetsim.drivers.registry import DEFAULT_EPOCH, plan_archetype, plan_fleet
from fleetsim.drivers.session import PlanStats, StationPlan
from fleetsim.drivers.table import plan_hash, sessions_csv
from fleetsim.exceptions import ScenarioError
from fleetsim.scenario import build_fleet, load_scenario, with_overrides
from fleetsim.scenario.fleet import StationSpec

__all__ = ["add_arguments", "iso15118_line", "run", "summary"]

_WHERE = "fleetsim plan"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``fleetsim plan``."""
    parser.add_argument("scenario", nargs="?", help="scenario YAML (or use --model)")
    parser.add_argument("--model", help="plan one driver model/archetype, e.g. workplace_ac")
    parser.add_argument("--stations", type=int, help="number of stations (--model: required)")
    parser.add_argument("--days", type=float,
                        help="simulated days to plan (default: the scenario's duration x "
                             "time_factor; --model: required)")
    parser.add_argument("--seed", type=int, help="random seed (default: the scenario's, or 1)")
    parser.add_argument("--start", help="epoch, ISO 8601, read as the sites' local time "
                                        "(default: the scenario's clock.start or 2026-01-05T00:00Z)")
    parser.add_argument("--connectors", type=int, help="--model: connectors per station "
                                                       "(default: the archetype's)")
    parser.add_argument("--models-dir", default="drivers_models",
                        help="--model: where archetype YAML files are (default: drivers_models)")
    parser.add_argument("--out", default="sessions.csv", help="CSV to write (default: sessions.csv)")
    parser.add_argument("--tags-out", help="also write the distinct idTags the plan uses, sorted, "
                                           "one a line (a CSMS allow-list)")


def _start(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ScenarioError(_WHERE, "--start", f"expected ISO 8601 like 2026-01-05T06:00:00Z, "
                                               f"got {text!r}") from None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def run(ns: argparse.Namespace) -> int:
    """Plan, write ``ns.out``, print a one-paragraph summary; 0 on success."""
    start = _start(ns.start)
    if ns.days is not None and ns.days <= 0:
        raise ScenarioError(_WHERE, "--days", f"must be > 0, got {ns.days:g}")
    if ns.stations is not None and ns.stations < 1:
        raise ScenarioError(_WHERE, "--stations", f"must be >= 1, got {ns.stations}")
    specs: list[StationSpec] | None
    scen: Any = None  # the scenario, when planning one
    if ns.model is not None:
        if ns.scenario is not None:
            raise ScenarioError(_WHERE, "--model", "give a SCENARIO or --model, not both")
        if ns.stations is None or ns.days is None:
            raise ScenarioError(_WHERE, "--model", "needs --stations N and --days D")
        seed = 1 if ns.seed is None else ns.seed
        epoch = start or DEFAULT_EPOCH
        plans = plan_archetype(ns.model, stations=ns.stations, days=ns.days, seed=seed,
                               start=epoch, connectors=ns.connectors, models_dir=ns.models_dir)
        specs, days, what = None, ns.days, f"model {ns.model}, seed {seed}"
        shares: tuple[float, float] | None = None  # the vehicle mix's
    else:
        if ns.scenario is None:
            raise ScenarioError(_WHERE, "", "give a SCENARIO file or --model NAME")
        s = with_overrides(load_scenario(ns.scenario), stations=ns.stations, seed=ns.seed)
        if start is not None:
            s = replace(s, clock=replace(s.clock, start=start))
        epoch = s.clock.epoch
        days = ns.days if ns.days is not None else s.duration_s * s.clock.time_factor / 86400.0
        specs, scen = build_fleet(s), s
        plans = plan_fleet(s, specs, horizon_s=days * 86400.0)
        what = f"scenario {s.name}, seed {s.seed}"
        o = s.ocpp
        shares = None if o.iso15118_from_vehicles else (o.iso15118_share, o.pnc_share)
    rows = sessions_csv(plans, specs, epoch, ns.out)
    if ns.tags_out:
        tags = sorted({x.id_tag for p in plans for x in p.sessions})
        with open(ns.tags_out, "w", encoding="utf-8") as f:
            f.write("".join(f"{t}\n" for t in tags))
    print(summary(plans, days=days, what=what, out=ns.out, rows=rows,
                  digest=plan_hash(plans, specs, epoch)) + _adhoc(plans, specs, scen))
    print(iso15118_line(plans, specs, shares))
    return 0


def _adhoc(plans: list[StationPlan], specs: list[StationSpec] | None, s: Any) -> str:
    """2.1 ad hoc payers (``ocpp.adhoc_share``): how many of the 2.1 stations' sessions."""
    if s is None or not specs or not s.ocpp.adhoc_share:
        return ""
    from fleetsim.station.payments import payment_kind

    kinds = [payment_kind(sp.seed, sp.station_id, x, s.ocpp.adhoc_share)
             for sp, p in zip(specs, plans, strict=True) if sp.version.value == "2.1"
             for x in p.sessions]
    qr, terminal = kinds.count("qr"), kinds.count("terminal")
    return (f" Ad hoc payment ({s.ocpp.adhoc_share:.0%} of 2.1 sessions): {qr + terminal:,} of "
            f"{len(kinds):,} ({terminal:,} at the terminal, {qr:,} by QR code).")


def summary(plans: list[StationPlan], *, days: float, what: str, out: str, rows: int,
            digest: str) -> str:
    """One paragraph: sessions by archetype, balked/queued, energy, file and hash."""
    st = PlanStats.of(plans)
    arrivals = st.sessions + st.balked
    per_arch = ", ".join(f"{name} {n:,}" for name, n in st.sessions_by_archetype)
    wait = f" (mean wait {st.queue_wait_s / st.queued / 60:.1f} min)" if st.queued else ""
    unsat = (f"; {st.unsatisfied / st.sessions:.1%} of sessions cannot get theirs within "
             f"their stay even uncontrolled" if st.unsatisfied else "")
    return (f"Planned {st.sessions:,} sessions at {st.stations:,} stations over {days:g} "
            f"day{'' if days == 1 else 's'} ({what}): {per_arch or 'none'}. Of {arrivals:,} "
            f"arrivals {st.balked:,} balked at busy stations and {st.queued:,} queued{wait}. "
            f"Wanted energy {st.energy_kwh:,.1f} kWh{unsat}. Wrote {rows:,} rows to {out} "
            f"(sha256 {digest[:16]}…).")


def iso15118_line(plans: list[StationPlan], specs: list[StationSpec] | None,
                  shares: tuple[float, float] | None) -> str:
    """Which planned cars speak ISO 15118 / Plug & Charge, per archetype: by each
    archetype's vehicle mix (``shares`` None) or the scenario's (ISO 15118, PnC) shares.
    The same decision the run's 2.x stations make (1.6 stations send no ISO 15118)."""
    if shares is not None and not any(shares):
        return ("ISO 15118: off in this scenario (ocpp.iso15118_share: vehicles takes each "
                "archetype's share from its vehicle mix).")
    ids = {x.index: x.station_id for x in specs} if specs is not None else {}
    counts: dict[str, list[int]] = {}
    for p in plans:
        sid = ids.get(p.station_index) or f"FS{p.station_index:06d}"
        n = counts.setdefault(p.archetype, [0, 0, 0])
        for x in p.sessions:
            iso, pnc = ((x.vehicle.iso15118_share, x.vehicle.pnc_share) if shares is None
                        else shares)
            speaks = protocol(sid, x, iso, pnc)
            n[0] += 1
            n[1] += speaks in (ISO15118, PNC)
            n[2] += speaks == PNC
    where = "the vehicle mix" if shares is None else "the scenario's shares"
    per = "; ".join(f"{a} {i:,} of {n:,} ({i / n:.0%}), Plug & Charge {c:,}"
                    for a, (n, i, c) in sorted(counts.items()) if n)
    return f"ISO 15118 cars by {where}: {per or 'no sessions'}."
