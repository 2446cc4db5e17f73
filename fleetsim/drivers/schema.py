"""The model-file schema: one validated YAML document → :class:`ArchetypeParams`.

Problems raise the scenario reader's path-tracking error, which
:mod:`fleetsim.drivers.modelfile` turns into a ``ModelError`` naming file and key.
"""

from __future__ import annotations

import re
from itertools import pairwise
from typing import Any

from fleetsim.drivers.archetype import (
    AcVariant,
    ArchetypeParams,
    ArrivalParams,
    Bucket,
    Calibration,
    EvseParams,
    IdTagParams,
    MarksParams,
    OccupancyParams,
    SocParams,
    SwapParams,
    VehicleClass,
)
from fleetsim.scenario.reader import Node

__all__ = ["parse_archetype"]

_QUANTILE_KEY = re.compile(r"^p(\d{1,2})$")


def parse_archetype(root: Node) -> ArchetypeParams:
    _meta(root)
    name = root.string("name")
    title = root.string("title", name)
    root.integer("version", 1, minimum=1)
    evse = _evse(_section(root, "evse"))
    arrival = _arrival(_section(root, "arrival"))
    marks = _marks(_section(root, "marks"), evse)
    vehicles_node = _section(root, "vehicles")
    efficiency = vehicles_node.number("efficiency", 0.9, minimum=0.0, exclusive_min=True,
                                      maximum=1.0)
    classes = _vehicle_classes(vehicles_node, evse)
    # which cars speak ISO 15118-2/-20 (high-level communication), and of those which
    # authorize by Plug & Charge: shares of this archetype's sessions (station/iso15118.py)
    iso15118 = vehicles_node.number("iso15118_share", 0.0, minimum=0.0, maximum=1.0)
    pnc = vehicles_node.number("pnc_share", 0.0, minimum=0.0, maximum=1.0)
    if pnc > iso15118:
        raise vehicles_node.error("must not exceed iso15118_share (Plug & Charge cars speak "
                                  "ISO 15118)", "pnc_share")
    vehicles_node.finish()
    soc = _soc(_section(root, "soc"), efficiency)
    id_tags = _id_tags(_section(root, "id_tags"))
    occupancy = _occupancy(_section(root, "occupancy"))
    swap = _swap(_section(root, "swap")) if root.has("swap") else None
    root.finish()
    if arrival.count_law == "bernoulli" and max(arrival.dow_factors) * \
            arrival.sessions_per_connector_day > 1.0:
        raise root.error("bernoulli needs rate x dow factor <= 1 on every day",
                         "arrival.sessions_per_connector_day")
    return ArchetypeParams(name=name, title=title, evse=evse, arrival=arrival, marks=marks,
                           vehicles=classes, soc=soc, id_tags=id_tags, occupancy=occupancy,
                           source_file=root.file, iso15118_share=iso15118, pnc_share=pnc,
                           swap=swap)


def _meta(n: Node) -> None:
    n.raw("source")
    n.raw("notes")


def _section(n: Node, name: str) -> Node:
    if not n.has(name):
        raise n.error("is required", name)
    child = n.child(name)
    _meta(child)
    return child


def _items(n: Node, name: str) -> list[Node]:
    v = n.raw(name)
    if not isinstance(v, list) or not v:
        raise n.error("expected a non-empty list", name)
    out = [Node(item, file=n.file, path=f"{n.key(name)}[{i}]") for i, item in enumerate(v)]
    for item in out:
        _meta(item)
    return out


def _num(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _numbers(n: Node, name: str, count: int, *, what: str = "") -> tuple[float, ...]:
    v = n.raw(name)
    if not isinstance(v, list) or len(v) != count or not all(_num(x) and x >= 0 for x in v):
        raise n.error(f"expected {count} numbers >= 0{what}", name)
    return tuple(float(x) for x in v)


def _profile(n: Node, name: str) -> tuple[float, ...]:
    v = n.raw(name)
    ok = isinstance(v, list) and len(v) == 24 and all(_num(x) and x >= 0 for x in v)
    if not ok or abs(sum(v) - 1.0) > 0.01:
        got = f" (sum {sum(v):.4f})" if ok else ""
        raise n.error(f"expected 24 numbers summing to 1{got}", name)
    total = float(sum(v))
    return tuple(float(x) / total for x in v)


def _range(n: Node, name: str, *, minimum: float = 0.0, maximum: float | None = None
           ) -> tuple[float, float]:
    v = n.raw(name)
    if (not isinstance(v, list) or len(v) != 2 or not all(_num(x) for x in v) or v[0] > v[1]
            or v[0] < minimum or (maximum is not None and v[1] > maximum)):
        top = f" <= {maximum:g}" if maximum is not None else ""
        raise n.error(f"expected [low, high] with {minimum:g} <= low <= high{top}", name)
    return float(v[0]), float(v[1])


def _optional(n: Node, name: str, **limits: Any) -> float | None:
    return None if n.raw(name) is None else n.number(name, **limits)


def _evse(n: Node) -> EvseParams:
    dc = n.boolean("dc", False)
    phases = n.integer("phases", 1 if dc else 3, minimum=1, maximum=3)
    e = EvseParams(max_power_kw=n.number("max_power_kw", minimum=0.0, exclusive_min=True),
                   phases=phases, voltage_v=n.number("voltage_v", minimum=0.0, exclusive_min=True),
                   dc=dc, connectors=n.integer("connectors", 1, minimum=1, maximum=16))
    n.finish()
    return e


def _arrival(n: Node) -> ArrivalParams:
    weekday = _profile(n, "weekday_profile")
    weekend = _profile(n, "weekend_profile") if n.raw("weekend_profile") is not None else weekday
    dow = _numbers(n, "dow_factors", 7, what=" (Monday..Sunday)")
    if not any(dow):
        raise n.error("must not all be 0", "dow_factors")
    law = n.string("count_law", "poisson", choices=("poisson", "bernoulli"))
    r = _optional(n, "gamma_shape_r", minimum=0.0, exclusive_min=True)
    if law == "bernoulli" and r is not None:
        raise n.error("gamma mixing needs count_law poisson", "gamma_shape_r")
    a = ArrivalParams(
        sessions_per_connector_day=n.number("sessions_per_connector_day", minimum=0.0,
                                            exclusive_min=True),
        weekday_profile=weekday, weekend_profile=weekend, dow_factors=dow, count_law=law,
        gamma_shape_r=r, gamma_scope_stations=n.integer("gamma_scope_stations", 1, minimum=1))
    n.finish()
    return a


def _marks(n: Node, evse: EvseParams) -> MarksParams:
    from_charge = n.boolean("dwell_from_charge", False)
    if from_charge and not evse.dc:
        raise n.error("only DC archetypes derive dwell from charge time", "dwell_from_charge")
    buckets = tuple(_bucket(b, from_charge) for b in _items(n, "buckets"))
    starts = [b.from_h for b in buckets]
    if starts != sorted(set(starts)):
        raise n.error("bucket from_h must be strictly increasing", "buckets")
    cal = n.child("calibration") if n.has("calibration") else None
    dwell_cal = energy_cal = None
    if cal is not None:
        _meta(cal)
        dwell_cal = _calibration(cal, "dwell_h") if cal.has("dwell_h") else None
        energy_cal = _calibration(cal, "energy_kwh") if cal.has("energy_kwh") else None
        cal.finish()
        if dwell_cal and any(b.ln_dwell_mu is None for b in buckets):
            raise cal.error("needs every bucket to have ln_dwell_h", "dwell_h")
    m = MarksParams(
        buckets=buckets,
        dwell_clip_h=_range(n, "dwell_clip_h", minimum=1e-3, maximum=168.0),
        energy_clip_kwh=_range(n, "energy_clip_kwh", minimum=1e-3),
        dwell_from_charge=from_charge,
        dc_idle_mean_min=n.number("dc_idle_mean_min", 0.0, minimum=0.0),
        dwell_calibration=dwell_cal, energy_calibration=energy_cal)
    n.finish()
    return m


def _bucket(n: Node, from_charge: bool) -> Bucket:
    energy = n.child("ln_energy_kwh")
    mu_e = energy.number("mu")
    sigma_e = energy.number("sigma", minimum=0.0, exclusive_min=True)
    energy.finish()
    fields: dict[str, Any] = {}
    kinds = [k for k in ("ln_dwell_h", "departure_h") if n.has(k)]
    if from_charge and kinds:
        raise n.error("dwell is derived from charge time here; remove it", kinds[0])
    if not from_charge and len(kinds) != 1:
        raise n.error("give exactly one of ln_dwell_h or departure_h")
    if "ln_dwell_h" in kinds:
        d = n.child("ln_dwell_h")
        fields = {"ln_dwell_mu": d.number("mu"),
                  "ln_dwell_sigma": d.number("sigma", minimum=0.0, exclusive_min=True),
                  "rho": n.number("rho", 0.0, minimum=-0.99, maximum=0.99)}
        d.finish()
    elif "departure_h" in kinds:
        d = n.child("departure_h")
        fields = {"departure_mean_h": d.number("mean", minimum=0.0, maximum=24.0),
                  "departure_sd_h": d.number("sd", minimum=0.0, maximum=6.0)}
        d.finish()
    b = Bucket(from_h=n.number("from_h", minimum=0.0, maximum=23.999), ln_energy_mu=mu_e,
               ln_energy_sigma=sigma_e, **fields)
    n.finish()
    return b


def _calibration(parent: Node, name: str) -> Calibration:
    n = parent.child(name)
    qs: list[tuple[float, float]] = []
    for key in list(n.data):
        m = _QUANTILE_KEY.match(str(key))
        if m:
            qs.append((int(m.group(1)) / 100.0, n.number(str(key), minimum=0.0,
                                                           exclusive_min=True)))
    qs.sort()
    if len(qs) < 2 or any(b[1] <= a[1] for a, b in pairwise(qs)):
        raise n.error("expected >= 2 quantiles p10, p50, ... with increasing values")
    mean = _optional(n, "mean", minimum=0.0, exclusive_min=True)
    n.finish()
    return Calibration(quantiles=tuple(qs), mean=mean)


def _vehicle_classes(n: Node, evse: EvseParams) -> tuple[VehicleClass, ...]:
    out: list[VehicleClass] = []
    for item in _items(n, "classes"):
        ac: list[AcVariant] = []
        for var in _items(item, "ac"):
            ac.append(AcVariant(phases=var.integer("phases", minimum=1, maximum=3),
                                max_a=var.number("max_a", minimum=6.0, maximum=80.0),
                                share=var.number("share", 1.0, minimum=0.0)))
            var.finish()
        if sum(v.share for v in ac) <= 0:
            raise item.error("shares must not all be 0", "ac")
        dc_peak = _range(item, "dc_peak_kw", minimum=0.0)
        if evse.dc and dc_peak[0] <= 0:
            raise item.error("a DC archetype needs cars that fast-charge (> 0)", "dc_peak_kw")
        s1 = item.number("dc_taper_start_soc", 0.5, minimum=0.0, maximum=1.0)
        s2 = item.number("dc_taper_end_soc", 0.8, minimum=s1, maximum=1.0)
        out.append(VehicleClass(
            name=item.string("name"), share=item.number("share", minimum=0.0),
            battery_kwh=_range(item, "battery_kwh", minimum=1.0), ac=tuple(ac),
            dc_peak_kw=dc_peak, dc_taper_start_soc=s1, dc_taper_end_soc=s2,
            dc_taper_alpha=item.number("dc_taper_alpha", 0.35, minimum=0.0, exclusive_min=True,
                                       maximum=1.0),
            ac_taper_soc=item.number("ac_taper_soc", 0.8, minimum=0.0, maximum=0.99)))
        item.finish()
    total = sum(c.share for c in out)
    if abs(total - 1.0) > 0.01:
        raise n.error(f"class shares must sum to 1, got {total:.4f}", "classes")
    return tuple(out)


def _soc(n: Node, efficiency: float) -> SocParams:
    beta = None
    v = n.raw("start_beta")
    if v is not None:
        if not isinstance(v, list) or len(v) != 2 or not all(_num(x) and x > 0 for x in v):
            raise n.error("expected [a, b] with a, b > 0 (or null)", "start_beta")
        beta = (float(v[0]), float(v[1]))
    s = SocParams(start_beta=beta, end_gap=_range(n, "end_gap", maximum=0.5),
                  min_start=n.number("min_start", 0.05, minimum=0.0, maximum=0.5),
                  efficiency=efficiency)
    n.finish()
    return s


def _id_tags(n: Node) -> IdTagParams:
    t = IdTagParams(
        users_per_connector=n.number("users_per_connector", minimum=0.0, exclusive_min=True,
                                     maximum=4000.0),
        user_weight_gamma_k=_optional(n, "user_weight_gamma_k", minimum=0.0, exclusive_min=True),
        one_off_share=n.number("one_off_share", 0.0, minimum=0.0, maximum=1.0))
    n.finish()
    return t


def _occupancy(n: Node) -> OccupancyParams:
    policy = n.string("policy", "balk", choices=("balk", "queue"))
    patience = n.number("patience_mean_min", 5.0 if policy == "queue" else 0.0, minimum=0.0)
    if policy == "queue" and patience <= 0:
        raise n.error("must be > 0 for the queue policy", "patience_mean_min")
    o = OccupancyParams(policy=policy, patience_mean_min=patience)
    n.finish()
    return o


def _swap(n: Node) -> SwapParams:
    soh = _range(n, "soh_pct", minimum=1.0, maximum=100.0)
    out = SwapParams(rack_packs=n.integer("rack_packs", minimum=1),
                     pack_kwh=n.number("pack_kwh", minimum=0.0, exclusive_min=True),
                     rack_charge_kw=n.number("rack_charge_kw", minimum=0.0, exclusive_min=True),
                     swap_min=n.number("swap_min", minimum=0.0, exclusive_min=True),
                     out_min_soc=n.number("out_min_soc", minimum=0.0, maximum=1.0),
                     soh=(soh[0] / 100.0, soh[1] / 100.0))
    n.finish()
    return out
