"""Load a scenario YAML file into a validated :class:`Scenario`.

Every problem raises :class:`ScenarioError` naming the file, the key path and
what is wrong, e.g. ``scenarios/x.yaml: stations.versions.1.7: unknown OCPP
version (use 1.6, 2.0.1 or 2.1)``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from fleetsim.exceptions import ScenarioError
from fleetsim.scenario.commands import parse_commands
from fleetsim.scenario.expect import check_expected
from fleetsim.scenario.faults import parse_faults
from fleetsim.scenario.load import LoadShape, parse_load
from fleetsim.scenario.model import (
    DEFAULT_MEASURANDS,
    ClockConfig,
    CsmsTarget,
    DriversConfig,
    OcppConfig,
    OcppVersion,
    Scenario,
    StationsConfig,
)
from fleetsim.scenario.reader import Node
from fleetsim.scenario.reconnect import DEFAULT_PING_INTERVAL_S, parse_reconnect
from fleetsim.scenario.security import parse_tls

__all__ = ["load_scenario", "parse_scenario", "parse_version", "with_overrides"]

_VERSION_ALIASES = {"1.6": OcppVersion.V16, "16": OcppVersion.V16, "1.6j": OcppVersion.V16,
                    "2.0.1": OcppVersion.V201, "201": OcppVersion.V201,
                    "2.1": OcppVersion.V21, "21": OcppVersion.V21}


def parse_version(value: object) -> OcppVersion:
    """``1.6`` (YAML reads it as a float), ``"2.0.1"``, ``2.1`` → :class:`OcppVersion`."""
    v = _VERSION_ALIASES.get(str(value).strip().lower())
    if v is None:
        raise ValueError(f"unknown OCPP version {value!r} (use 1.6, 2.0.1 or 2.1)")
    return v


def load_scenario(path: str | Path, *,
                  prepare: Callable[[Any], None] | None = None) -> Scenario:
    """Read and validate ``path``; raises :class:`ScenarioError` with file and key path.

    ``prepare`` may edit the parsed YAML before validation (e.g. restore secrets).
    """
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(file, "", f"cannot read: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ScenarioError(file, "", f"invalid YAML: {where}{problem}") from None
    if prepare is not None and isinstance(data, dict):
        prepare(data)
    return parse_scenario(data, file=file)


def parse_scenario(data: object, *, file: str = "<scenario>") -> Scenario:
    root = Node(data, file=file)
    raw = copy.deepcopy(dict(root.data))
    name = root.string("name", Path(file).stem if file != "<scenario>" else "scenario")
    seed = root.integer("seed", 1, minimum=0)
    duration_s = root.duration_s("duration", "60s", positive=True)
    stations = _stations(root.child("stations"))
    csms = _csms(root.child("csms"), stations)
    clock = _clock(root.child("clock"))
    ocpp = _ocpp(root.child("ocpp"))
    drivers = _drivers(root.child("drivers"))
    slo = root.string_list("slo")
    expect_errors = root.string_list("expect_errors")
    bad = check_expected(expect_errors)
    if bad is not None:
        raise ScenarioError(file, "expect_errors", bad)
    load = _load(root.child("load"), stations, duration_s, clock)
    commands = parse_commands(root.raw("csms_commands"), file=file, epoch=clock.start)
    faults = parse_faults(root.raw("faults"), file=file, embedded=csms.embedded)
    reconnect = parse_reconnect(root.child("reconnect"))
    if faults.needs_pings and reconnect.ping_interval_s <= 0:
        if reconnect.ping_interval_given:  # pong_timeout relies on the station's liveness check
            raise ScenarioError(file, "reconnect.ping_interval",
                                "a pong_timeout fault needs station pings (ping_interval > 0)")
        reconnect = replace(reconnect, ping_interval_s=DEFAULT_PING_INTERVAL_S)
    root.finish()
    return Scenario(name=name, file=file, seed=seed, duration_s=duration_s, stations=stations,
                    csms=csms, clock=clock, ocpp=ocpp, drivers=drivers, slo=slo, raw=raw,
                    expect_errors=expect_errors,
                    load=load, csms_commands=commands, faults=faults, reconnect=reconnect)


def _load(n: Node, st: StationsConfig, duration_s: float, clock: ClockConfig) -> LoadShape | None:
    hour = clock.start.hour + clock.start.minute / 60 if clock.start else 0.0
    return parse_load(n, count=st.count, duration_s=duration_s,
                      connect_rate=st.connect_rate_per_s, time_factor=clock.time_factor,
                      start_hour=hour)


def with_overrides(s: Scenario, *, stations: int | None = None, duration_s: float | None = None,
                   seed: int | None = None, csms_url: str | None = None,
                   strict: bool = False) -> Scenario:
    """The scenario with command-line overrides applied (and recorded in ``raw``)."""
    raw = dict(s.raw)
    if stations is not None:
        if stations < 1:
            raise ScenarioError(s.file, "stations.count", "--stations must be >= 1")
        s = replace(s, stations=replace(s.stations, count=stations))
        raw["stations"] = {**dict(raw.get("stations") or {}), "count": stations}
    if duration_s is not None:
        s = replace(s, duration_s=duration_s)
        raw["duration"] = f"{duration_s:g}s"
    if seed is not None:
        s = replace(s, seed=seed)
        raw["seed"] = seed
    if strict:  # fleetsim run --strict: a conformance report of the CSMS
        s = replace(s, ocpp=replace(s.ocpp, strict=True))
        raw["ocpp"] = {**dict(raw.get("ocpp") or {}), "strict": True}
    if csms_url is not None:
        node = Node({"target": csms_url}, file="--csms", path="csms")
        csms = _csms(node, s.stations)
        s = replace(s, csms=replace(csms, url_template=s.csms.url_template,
                                    connect_timeout_s=s.csms.connect_timeout_s,
                                    call_timeout_s=s.csms.call_timeout_s,
                                    password=s.csms.password, tls=s.csms.tls))
        raw["csms"] = {**dict(raw.get("csms") or {}), "target": csms_url}
        if s.faults.csms_restarts and not s.csms.embedded:  # a CSMS under test is not ours
            s = replace(s, faults=replace(s.faults, csms_restarts=()))
            raw["faults"] = [f for f in raw.get("faults") or []
                             if not (isinstance(f, Mapping) and "csms_restart" in f)]
    if s.load is not None:  # shares and the end of the shape follow --stations / --duration
        s = replace(s, load=_load(Node(raw.get("load"), file=s.file, path="load"), s.stations,
                                  s.duration_s, s.clock))
    return replace(s, raw=raw)


def _stations(n: Node) -> StationsConfig:
    count = n.integer("count", minimum=1)
    prefix = n.string("id_prefix", "FS")
    digits = n.integer("id_digits", 6, minimum=1, maximum=12)
    if len(prefix) + max(digits, len(str(count))) > 48:  # 2.0.1 identity: string[0..48]
        raise n.error("station ids would exceed 48 characters", "id_prefix")
    if not prefix.replace("-", "").replace("_", "").isalnum() and prefix:
        raise n.error("use letters, digits, '-' or '_' only (it goes into a URL)", "id_prefix")
    connectors = n.integer("connectors", 1, minimum=1, maximum=16)
    versions = _versions(n, n.raw("versions", {"1.6": 1}))
    rate = n.number("connect_rate", 100.0, minimum=0.0, exclusive_min=True)
    sources = n.string_list("source_addresses")
    for i, addr in enumerate(sources):
        if not addr.startswith("127.") and addr not in ("::1", "0.0.0.0"):
            raise n.error(f"source address {addr!r}: only loopback or addresses of hosts you "
                          "run yourself; use 127.0.0.x here", f"source_addresses[{i}]")
    vendor = n.string("vendor", "fleetsim")
    model = n.string("model", "SimStation")
    stop_spread = n.duration_s("stop_spread", "2s")  # wall; 0s: every stop in one burst
    stop_rate = n.number("stop_rate", rate, minimum=0.0, exclusive_min=True)  # the ramp's
    n.finish()
    return StationsConfig(count=count, id_prefix=prefix, id_digits=digits, connectors=connectors,
                          versions=versions, connect_rate_per_s=rate, source_addresses=sources,
                          vendor=vendor, model=model, stop_spread_s=stop_spread,
                          stop_rate_per_s=stop_rate)


def _versions(n: Node, value: object) -> dict[OcppVersion, float]:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        value = {value: 1}
    if isinstance(value, list):
        value = {v: 1 for v in value}
    if not isinstance(value, Mapping) or not value:
        raise n.error("expected a mapping of version → share, e.g. {1.6: 0.5, 2.0.1: 0.5}",
                      "versions")
    out: dict[OcppVersion, float] = {}
    for k, share in value.items():
        try:
            v = parse_version(k)
        except ValueError as exc:
            raise n.error(str(exc), f"versions.{k}") from None
        if isinstance(share, bool) or not isinstance(share, int | float) or share < 0:
            raise n.error(f"share must be a number >= 0, got {share!r}", f"versions.{k}")
        out[v] = out.get(v, 0.0) + float(share)
    total = sum(out.values())
    if total <= 0:
        raise n.error("shares must not all be zero", "versions")
    return {v: s / total for v, s in out.items() if s > 0}


def _csms(n: Node, stations: StationsConfig) -> CsmsTarget:
    target = n.raw("target", "embedded")
    urls: dict[OcppVersion, str] = {}
    embedded = target == "embedded"
    if not embedded:
        if isinstance(target, str):
            urls = {v: target for v in OcppVersion}
        elif isinstance(target, Mapping):
            for k, url in target.items():
                try:
                    urls[parse_version(k)] = url
                except ValueError as exc:
                    raise n.error(str(exc), f"target.{k}") from None
            missing = [v.value for v in stations.versions if v not in urls]
            if missing:
                raise n.error(f"no URL for OCPP {', '.join(missing)} used in stations.versions",
                              "target")
        else:
            raise n.error("expected 'embedded', a ws:// or wss:// URL, or version → URL",
                          "target")
        for v, url in urls.items():
            if not isinstance(url, str) or not url.startswith(("ws://", "wss://")):
                raise n.error(f"{url!r} is not a ws:// or wss:// URL", f"target.{v.value}"
                              if isinstance(target, Mapping) else "target")
    template = n.string("url_template", "{url}/{station_id}")
    if "{station_id}" not in template:
        raise n.error("must contain {station_id}", "url_template")
    try:
        template.format(url="ws://x", station_id="y")
    except (KeyError, IndexError, ValueError):
        raise n.error("only {url} and {station_id} may be used", "url_template") from None
    t = CsmsTarget(
        embedded=embedded, urls=urls, url_template=template,
        connect_timeout_s=n.duration_s("connect_timeout", "10s", positive=True),
        call_timeout_s=n.duration_s("call_timeout", "30s", positive=True),
        password=n.raw("password"),
        heartbeat_interval_s=n.duration_s("heartbeat_interval", "300s", positive=True),
        token_prefix=n.string("token_prefix", ""),
        compression=n.string("compression", "off", choices=("off", "deflate")),
        tls=parse_tls(n.child("tls")),
    )
    if t.password is not None and not isinstance(t.password, str):
        raise n.error("expected text", "password")
    n.finish()
    return t


def _clock(n: Node) -> ClockConfig:
    factor = n.number("time_factor", 1.0, minimum=0.0, exclusive_min=True, maximum=1e6)
    start = n.timestamp("start", "2026-01-05T00:00:00Z") if n.has("start") else None
    # a real-time run without a start date is a real fleet now: stamp the wall clock
    # (a CSMS files old timestamps as historical and may skip its checks)
    default_stamps = "wall" if factor == 1.0 and start is None else "simulated"
    stamps = n.string("timestamps", default_stamps, choices=("simulated", "wall"))
    intervals = n.string("intervals", "wall", choices=("wall", "simulated"))
    n.finish()
    return ClockConfig(time_factor=factor, start=start, timestamps=stamps, intervals=intervals)


def _ocpp(n: Node) -> OcppConfig:
    meter = n.duration_s("meter_interval", "60s", positive=True)
    # 0s: back-to-back Heartbeats, each sent when the previous is answered (benchmarks)
    hb = n.duration_s("heartbeat_interval", None) if n.has("heartbeat_interval") else None
    measurands = n.string_list("measurands") or DEFAULT_MEASURANDS
    if "Energy.Active.Import.Register" not in measurands:
        raise n.error("must include Energy.Active.Import.Register", "measurands")
    authorize = n.boolean("authorize", True)
    strict = n.boolean("strict", False)
    v2x_share = n.number("v2x_share", 0.30, minimum=0.0, maximum=1.0)
    stream = n.duration_s("event_stream_interval", "0s") if n.has("event_stream_interval") else 0.0
    adhoc = n.number("adhoc_share", 0.0, minimum=0.0, maximum=1.0)
    priority = n.number("priority_share", 0.10, minimum=0.0, maximum=1.0)
    chain = (n.duration_s("chain_status_interval", "0s", positive=True)
             if n.has("chain_status_interval") else 0.0)
    # iso15118_share: vehicles → both shares from each archetype's vehicle mix (drivers_models)
    from_vehicles = n.raw("iso15118_share") == "vehicles"
    if isinstance(n.raw("iso15118_share"), str) and not from_vehicles:
        raise n.error(f"expected a share 0-1 or 'vehicles', got {n.raw('iso15118_share')!r}",
                      "iso15118_share")
    if from_vehicles and n.has("pnc_share"):
        raise n.error("leave it out with iso15118_share: vehicles (the vehicle mix has it)",
                      "pnc_share")
    mix = {k: 0.0 if from_vehicles and k != "local_auth_share"
           else n.number(k, 0.0, minimum=0.0, maximum=1.0)
           for k in ("iso15118_share", "pnc_share", "local_auth_share")}
    if mix["pnc_share"] > mix["iso15118_share"]:
        raise n.error("must not exceed iso15118_share (Plug & Charge cars speak ISO 15118)",
                      "pnc_share")
    rates = {k: n.number(k, 0.0, minimum=0.0, maximum=10_000.0)
             for k in ("security_events_per_day", "notify_events_per_day", "ems_limits_per_day")}
    outage = n.duration_s("outage_security_event", "1h")
    master_group = n.string("master_pass_group", "")
    if len(master_group) > 28:  # the card id adds 8 hex digits: an idToken is ≤ 36
        raise n.error("at most 28 characters", "master_pass_group")
    master_rate = n.number("master_pass_per_day", 0.0, minimum=0.0, maximum=10_000.0)
    if master_rate and not master_group:
        raise n.error("needs ocpp.master_pass_group (the cards' group)", "master_pass_per_day")
    message_ids = n.string("message_ids", "uuid", choices=("uuid", "counter"))
    # AllowOfflineTxForUnknownId (1.6 §9.1, 2.0.1 AuthCtrlr.OfflineTxForUnknownIdEnabled):
    # charge without the CSMS's word before the first boot or when Authorize failed
    offline_unknown = n.boolean("allow_offline_tx_for_unknown_id", False)
    n.finish()
    return OcppConfig(meter_interval_s=meter, heartbeat_interval_s=hb, measurands=measurands,
                      authorize=authorize, strict=strict, v2x_share=v2x_share,
                      event_stream_s=stream, message_ids=message_ids, **mix, **rates,
                      outage_security_event_s=outage, master_pass_group=master_group,
                      iso15118_from_vehicles=from_vehicles,
                      master_pass_per_day=master_rate,
                      adhoc_share=adhoc, chain_status_s=chain, priority_share=priority,
                      allow_offline_tx_for_unknown_id=offline_unknown)


def _drivers(n: Node) -> DriversConfig:
    mix_raw: Any = n.raw("mix")
    model = n.raw("model")
    if model is not None and mix_raw is not None:
        raise n.error("give either 'model' or 'mix', not both", "model")
    if model is not None:
        if not isinstance(model, str):
            raise n.error("expected a model name", "model")
        mix_raw = {model: 1}
    if mix_raw is None:
        mix_raw = {"uniform": 1}
    if not isinstance(mix_raw, Mapping) or not mix_raw:
        raise n.error("expected a mapping of model name → share", "mix")
    mix: dict[str, float] = {}
    for k, share in mix_raw.items():
        if isinstance(share, bool) or not isinstance(share, int | float) or share < 0:
            raise n.error(f"share must be a number >= 0, got {share!r}", f"mix.{k}")
        if share > 0:
            mix[str(k)] = float(share)
    if not mix:
        raise n.error("shares must not all be zero", "mix")
    total = sum(mix.values())
    overrides_raw = n.raw("overrides", {})
    if not isinstance(overrides_raw, Mapping):
        raise n.error("expected a mapping of model name → parameters", "overrides")
    overrides: dict[str, Mapping[str, Any]] = {}
    for k, v in overrides_raw.items():
        if not isinstance(v, Mapping):
            raise n.error("expected a mapping of parameters", f"overrides.{k}")
        if k not in mix:
            raise n.error(f"model {k!r} is not in the mix", f"overrides.{k}")
        overrides[str(k)] = dict(v)
    models_dir = n.string("models_dir", "drivers_models")
    n.finish()
    return DriversConfig(mix={k: s / total for k, s in mix.items()}, overrides=overrides,
                         models_dir=models_dir)
