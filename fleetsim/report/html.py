"""``report.html``: one self-contained page per run (plots inlined as base64 PNG).

No external assets (no scripts, fonts, stylesheets or links to fetch), so the file
can be attached to a CI run or mailed and still open offline. Every piece of text
from the results folder is escaped.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from fleetsim.report.results import (
    PLOTS,
    REPORT,
    SCENARIO,
    SESSIONS,
    SLO_JSON,
    ActionStats,
    RunSummary,
    load_summary,
)
from fleetsim.report.sessions import SessionsDigest, load_sessions
from fleetsim.report.units import format_ms, format_rate, format_value
from fleetsim.report.verdicts import Verdict, read_slo_json

__all__ = ["render_html", "write_html"]

_CAPTIONS = {
    "latency.png": "Latency percentiles per action over time (connected stations shaded)",
    "latency_cdf.png": "Latency distribution per action over the whole run",
    "throughput.png": "Messages and errors per second",
    "stations.png": "Stations connected and booted",
    "fleet_power.png": "Fleet power and vehicles on the simulated clock",
    "storm.png": "Reconnect storm: stations connected and booted, and the offline queue, "
                 "around the injected fault (headline times marked)",
    "compare.png": "Latency against the baseline (fleetsim compare)",
}

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#222}
h1{margin-bottom:.1em}.sub{color:#666;margin-top:0}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{padding:.25em .7em;border-bottom:1px solid #ddd}
th{text-align:left;background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
.warn{background:#fff3cd;border:1px solid #e0b000;padding:.7em 1em;border-radius:4px;margin:1em 0}
.pass{color:#0a6b2d;font-weight:600}.fail{color:#b00020;font-weight:600}
figure{margin:1em 0}img{max-width:100%;border:1px solid #eee}figcaption{color:#555}
pre{background:#f7f7f7;padding:1em;overflow:auto}
"""


def write_html(results_dir: Path) -> Path:
    """Write ``results_dir/report.html`` from the folder (run plots first to include them)."""
    results_dir = Path(results_dir)
    summary = load_summary(results_dir)
    sessions = load_sessions(results_dir) if (results_dir / SESSIONS).exists() else None
    verdicts = read_slo_json(results_dir / SLO_JSON) if (results_dir / SLO_JSON).exists() else None
    plots = [results_dir / PLOTS / name for name in _CAPTIONS
             if (results_dir / PLOTS / name).is_file()]
    scenario = results_dir / SCENARIO
    text = scenario.read_text(encoding="utf-8", errors="replace") if scenario.is_file() else None
    path = results_dir / REPORT
    path.write_text(render_html(summary, sessions=sessions, verdicts=verdicts, plots=plots,
                                scenario_yaml=text), encoding="utf-8")
    return path


def render_html(summary: RunSummary, *, sessions: SessionsDigest | None = None,
                verdicts: Sequence[Verdict] | None = None, plots: Sequence[Path] = (),
                scenario_yaml: str | None = None) -> str:
    """The page as a string; ``plots`` are PNG files inlined in the given order."""
    title = f"fleetsim report: {summary.scenario}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="sub">started {escape(summary.started_at or "?")}, '
        f"{_number(summary.duration_s, '.1f')} s wall time, fleetsim "
        f"{escape(summary.fleetsim_version or '?')}</p>",
        _run_notices(summary),
    ]
    if verdicts is not None:
        parts.append(_slo_section(verdicts))
    parts += [_facts(summary), _actions(summary.actions), _errors(summary), _faults(summary)]
    if sessions is not None or summary.sessions:
        parts.append(_sessions(summary, sessions))
    parts.append("<h2>Plots</h2>")
    for png in plots:
        data = base64.b64encode(png.read_bytes()).decode("ascii")
        caption = _CAPTIONS.get(png.name, png.name)
        parts.append(f'<figure><img src="data:image/png;base64,{data}" alt="{escape(caption)}">'
                     f"<figcaption>{escape(caption)}</figcaption></figure>")
    if not plots:
        parts.append("<p>No plots in this folder (run <code>fleetsim report</code>).</p>")
    if scenario_yaml is not None:
        parts.append(f"<details><summary>scenario.yaml as run</summary>"
                     f"<pre>{escape(scenario_yaml)}</pre></details>")
    parts.append("</body></html>")
    return "\n".join(p for p in parts if p)


def _run_notices(summary: RunSummary) -> str:
    """Banners above everything: a run that stopped early, a saturated generator."""
    notices = ""
    if not summary.completed:
        notices += ('<div class="warn"><strong>&#9888; This run did not complete</strong>: '
                    f"{escape(summary.failure or 'no reason recorded')}. The numbers below "
                    "cover only the part that ran.</div>")
    warnings = "".join(f"<li>{escape(w)}</li>" for w in summary.generator_warnings)
    if not summary.generator_valid:
        return notices + (
            '<div class="warn"><strong>&#9888; This run is not valid: the generator measured '
            "itself</strong> (a saturated or starved engine, or stations queueing behind their "
            "own calls), so the response latencies below overstate the CSMS's; the service "
            f"figure is still the CSMS's own time. Why, and the fix:<ul>{warnings}</ul></div>")
    if warnings:
        notices += f'<div class="warn">Generator warnings:<ul>{warnings}</ul></div>'
    return notices


def _slo_section(verdicts: Sequence[Verdict]) -> str:
    failed = sum(not v.passed for v in verdicts)
    head = (f'<p class="fail">{failed} of {len(verdicts)} SLO(s) failed.</p>' if failed else
            f'<p class="pass">All {len(verdicts)} SLO(s) passed.</p>')
    rows = [(f'<span class="{"pass" if v.passed else "fail"}">{"PASS" if v.passed else "FAIL"}'
             "</span>", escape(v.expression), escape(format_value(v.observed, v.unit)),
             escape(format_value(v.threshold, v.unit)), escape(v.reason)) for v in verdicts]
    return ("<h2>SLOs</h2><p>Each expression is a failure condition: the run fails when it "
            "holds.</p>" + head +
            _table(("verdict", "fails when", "observed", "threshold", "reason"), rows,
                   numeric=(2, 3), raw=True))


def _facts(s: RunSummary) -> str:
    versions = ", ".join(f"{v}: {n:,}" for v, n in s.versions.items()) or "-"
    gen = s.generator
    rows = [
        ("scenario", f"{s.scenario} ({s.scenario_file})" if s.scenario_file else s.scenario),
        ("seed", "-" if s.seed is None else str(s.seed)),
        ("duration", f"{_number(s.duration_s, '.1f')} s wall, time factor {s.time_factor:g}"),
        ("OCPP versions (stations)", versions),
        ("stations", _pairs(s.stations)),
        ("messages", _pairs(s.messages)),
        ("generator", "valid" if s.generator_valid else "NOT VALID (see the warning above)"),
        ("station pipes", _pipes(s.pipes)),
        *((f"connect + handshake {v}", f"{_number(c.get('count'), ',.0f')} opened, p50 "
           f"{_ms(c.get('p50_ms'))}, p99 {_ms(c.get('p99_ms'))}, max {_ms(c.get('max_ms'))}")
          for v, c in s.connect.items()),
        ("boot recovery", _boot(s.boot)),
        ("event-loop lag p99 / max", f"{_ms(gen.get('loop_lag_p99_ms'))} / "
                                     f"{_ms(gen.get('loop_lag_max_ms'))}"),
        ("late sends, CPU", f"{_number(gen.get('late_sends'), ',.0f')}, "
                            f"{_number(gen.get('cpu_percent'), '.0f')} %"),
    ]
    return "<h2>Run</h2>" + _table(("", ""), rows)


def _actions(actions: Mapping[str, ActionStats]) -> str:
    if not actions:
        return "<h2>Actions</h2><p>No calls were made.</p>"
    rows = []
    # the message mix: each action's share of the CALLs sent ("A→B" rows are flows, not CALLs)
    total = sum(a.calls for a in actions.values() if "→" not in a.key)
    for a in sorted(actions.values(), key=lambda a: a.key):
        svc, resp = a.latency("service"), a.latency("response")
        own = a.waited_own / a.count if a.count else math.nan
        share = "-" if "→" in a.key or not total else format_rate(a.calls / total)
        rows.append((a.key, f"{a.calls:,}", share, f"{a.errors:,}", format_rate(a.error_rate),
                     *(format_ms(svc[m]) for m in ("p50", "p90", "p99", "p999", "max")),
                     *(format_ms(resp[m]) for m in ("p50", "p99", "max")),
                     "-" if math.isnan(own) else format_rate(own), f"{a.censored:,}"))
    head = ("action", "calls", "share of calls", "errors", "error rate", "service p50", "p90", "p99", "p99.9",
            "max", "response p50", "p99", "max", "queued behind own", "timeouts (censored)")
    return ("<h2>Actions</h2><p><strong>Service</strong>: from when the CALL left the "
            "station to its answer: the CSMS's time. <strong>Response</strong>: from when "
            "the call was due to its answer (coordinated omission corrected): what the "
            "station saw, including time queued behind its own earlier calls. "
            "Timeouts count at the time they were given up (censored: at least that); "
            "CALLERRORs at their real answer time.</p>"
            + _table(head, rows, numeric=range(1, 15)))


def _pipes(p: Mapping[str, Any]) -> str:
    if not p:
        return "-"
    state = "SATURATED" if p.get("saturated") else "ok"
    return (f"{state}: {_number(p.get('utilisation', math.nan) * 100, '.0f')} % busy at service "
            f"p50 {_ms(p.get('service_p50_ms'))}; "
            f"{_number(p.get('waited_own_share', math.nan) * 100, '.1f')} % of calls queued "
            f"behind their own station's calls")


def _boot(b: Mapping[str, Any]) -> str:
    if not b or not b.get("booted"):
        return "-"
    return (f"{_number(b.get('booted'), ',.0f')} boots, {_number(b.get('retried'), ',.0f')} "
            f"needed more than one BootNotification; first due to Accepted p50 "
            f"{_ms(b.get('p50_ms'))}, max {_ms(b.get('max_ms'))}")


def _errors(s: RunSummary) -> str:
    total = [(kind, f"{n:,}") for kind, n in sorted(s.errors_by_kind.items(), key=lambda x: -x[1])]
    per_action = [(a.key, kind, f"{n:,}") for a in sorted(s.actions.values(), key=lambda a: a.key)
                  for kind, n in a.errors_by_kind.items() if n]
    if not any(n for _, n in s.errors_by_kind.items()) and not per_action:
        return "<h2>Errors</h2><p>No errors.</p>" + _said(s.csms_said)
    text = f"<h2>Errors</h2><p>{_number(s.errors.get('total'), ',.0f')} in total.</p>"
    text += _table(("kind", "count"), total, numeric=(1,)) if total else ""
    text += (_table(("action", "kind", "count"), per_action, numeric=(2,))
             if per_action else "")
    return text + _said(s.csms_said)


def _said(said: Mapping[str, Any]) -> str:
    """What the CSMS said: its CALLERROR descriptions and the idTags it refused."""
    text = ""
    errs = [(str(e.get("action", "")), str(e.get("code", "")), str(e.get("description", "")),
             f"{int(e.get('count', 0)):,}") for e in said.get("callerrors") or ()]
    if errs:
        text += "<h3>What the CSMS said (top CALLERROR descriptions)</h3>" + _table(
            ("action", "code", "description", "count"), errs, numeric=(3,))
    tags = [(str(e.get("action", "")), str(e.get("status", "")), str(e.get("id_tag", "")),
             f"{int(e.get('count', 0)):,}") for e in said.get("refused_id_tags") or ()]
    if tags:
        text += "<h3>Refused idTags</h3>" + _table(("action", "status", "idTag", "count"),
                                                   tags, numeric=(3,))
    return text


def _faults(s: RunSummary) -> str:
    """What fleetsim injected on purpose, and how fast the fleet came back."""
    if not s.faults_injected:
        return ""
    rows = [(escape(k), _number(n, ",.0f")) for k, n in sorted(s.faults_injected.items())]
    out = ("<h2>Injected faults</h2><p>Done by fleetsim on purpose (scenario "
           "<code>faults:</code>); the errors above include what followed.</p>"
           + _table(("fault", "count"), rows, numeric=(1,)))
    if s.storm_events:
        def t(v: float) -> str:
            return "not reached" if math.isnan(v) else f"{v:g} s"
        out += _table(("event", "at", "stations", "99 % connected", "all connected",
                       "all booted", "offline queue max", "drain max"),
                      [(escape(x.event), f"{x.event_at_s:g} s", f"{x.disconnected:,}",
                        t(x.t_99_connected_s), t(x.t_100_connected_s), t(x.t_all_accepted_s),
                        _number(x.offline_replay.get("max_queue_depth"), ",.0f"),
                        t(x.offline_replay.get("drain_s_max", math.nan)))
                       for x in s.storm_events], numeric=(2, 6))
    return out


def _sessions(s: RunSummary, digest: SessionsDigest | None) -> str:
    text = "<h2>Charging sessions</h2>"
    if s.sessions:
        text += f"<p>Run summary: {escape(_pairs(s.sessions))}.</p>"
    if digest is None:
        return text
    text += (f"<p>sessions.csv: {digest.sessions:,} sessions, {digest.stopped:,} stopped; "
             f"{digest.energy_kwh:,.1f} kWh delivered of {digest.wanted_kwh:,.1f} kWh wanted.</p>")
    if digest.by_archetype:
        text += _table(("archetype", "sessions", "energy [kWh]", "wanted [kWh]"),
                       [(k, f"{a.sessions:,}", f"{a.energy_kwh:,.1f}", f"{a.wanted_kwh:,.1f}")
                        for k, a in digest.by_archetype.items()], numeric=(1, 2, 3))
    if digest.by_stop_reason:
        text += _table(("stop reason", "sessions"),
                       [(k, f"{n:,}") for k, n in digest.by_stop_reason.items()], numeric=(1,))
    return text


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], *, numeric: Sequence[int] = (),
           raw: bool = False) -> str:
    """An HTML table; cells are escaped unless ``raw`` (then the caller escaped them).
    Columns in ``numeric`` are right-aligned."""
    def row_html(row: Sequence[str]) -> str:
        return "".join(f'<td{" class=n" if i in numeric else ""}>{v if raw else escape(v)}</td>'
                       for i, v in enumerate(row))

    header = "".join(f"<th>{escape(h)}</th>" for h in head) if any(head) else ""
    body = "".join(f"<tr>{row_html(row)}</tr>" for row in rows)
    return f"<table>{f'<tr>{header}</tr>' if header else ''}{body}</table>"


def _pairs(values: Mapping[str, float]) -> str:
    return ", ".join(f"{k} {v:,.6g}" for k, v in values.items()) or "-"


def _number(value: object, spec: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return "-"
    return format(value, spec)


def _ms(value: object) -> str:
    return format_ms(float(value)) if isinstance(value, int | float) else "-"
