"""Find driver models by name and plan a fleet (or one archetype) with them.

A model is anything with ``name`` and ``plan(stations, *, horizon_s,
start_weekday, start_hour) -> list[StationPlan]``. ``uniform`` is built in;
archetypes are read from ``<models_dir>/<name>.yaml``, where a relative
``models_dir`` is looked up in the working directory first, then next to the
installed package (the repository's ``drivers_models/``).
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import orjson

import fleetsim
from fleetsim.drivers.archetype import SwapParams
from fleetsim.drivers.archetype_model import ArchetypeModel
from fleetsim.drivers.modelfile import load_archetype
from fleetsim.drivers.session import StationPlan
from fleetsim.drivers.uniform import UniformModel, UniformParams
from fleetsim.drivers.window import GROUP, Planner, feeds, plan_windows, window_tags
from fleetsim.exceptions import ModelError
from fleetsim.scenario.fleet import StationSpec
from fleetsim.scenario.model import DEFAULT_EPOCH, OcppVersion, Scenario

__all__ = [
    "DEFAULT_EPOCH",
    "DriverModel",
    "archetype_fleet",
    "fleet_feeds",
    "fleet_tags",
    "known_models",
    "load_model",
    "local_start",
    "plan_archetype",
    "plan_fleet",
]

# A checkout (or editable install) has drivers_models/ beside the package; a wheel
# installs the same files under <prefix>/share/fleetsim (pyproject data-files).
_CHECKOUT_MODELS_DIR = Path(fleetsim.__file__).resolve().parent.parent / "drivers_models"
BUNDLED_MODELS_DIR = (_CHECKOUT_MODELS_DIR if _CHECKOUT_MODELS_DIR.is_dir()
                      else Path(sys.prefix) / "share" / "fleetsim" / "drivers_models")


class DriverModel(Protocol):
    name: str

    def plan(self, stations: Sequence[StationSpec], *, horizon_s: float,
             start_weekday: int = 0, start_hour: float = 0.0) -> list[StationPlan]: ...

    def planner(self, stations: Sequence[StationSpec], *, start_weekday: int = 0,
                start_hour: float = 0.0) -> Planner: ...


def _dirs(models_dir: str | Path) -> list[Path]:
    """Where to look: ``models_dir`` (relative to the CWD), then the bundled models."""
    d = Path(models_dir)
    return [d] if d.is_absolute() else [d, BUNDLED_MODELS_DIR]


def known_models(models_dir: str | Path = "drivers_models") -> list[str]:
    """``uniform`` and every ``*.yaml`` archetype found (sorted)."""
    names = {"uniform"}
    for d in _dirs(models_dir):
        if d.is_dir():
            names.update(p.stem for p in d.glob("*.yaml"))
    return sorted(names)


def load_model(name: str, *, overrides: Mapping[str, Any] | None = None,
               models_dir: str | Path = "drivers_models") -> DriverModel:
    """The model called ``name`` with parameter ``overrides`` applied; ModelError if unknown."""
    if name == "uniform":
        return UniformModel(UniformParams.from_mapping(overrides or {}, where="uniform"))
    if name and "/" not in name and "\\" not in name and not name.startswith("."):
        for d in _dirs(models_dir):
            path = d / f"{name}.yaml"
            if path.is_file():
                params = load_archetype(path, overrides=overrides)
                try:
                    return ArchetypeModel(params)
                except ValueError as exc:  # e.g. a calibration mean out of reach
                    raise ModelError(f"{path}: marks.calibration: {exc}") from None
    where = " and ".join(str(d) for d in _dirs(models_dir))
    raise ModelError(f"unknown driver model {name!r} (known: "
                     f"{', '.join(known_models(models_dir))}; looked in {where})")


def swap_archetypes(scenario: Scenario) -> dict[str, SwapParams]:
    """The scenario's battery-swap archetypes (a ``swap:`` section) → their parameters."""
    out: dict[str, SwapParams] = {}
    for arch in scenario.drivers.mix:
        if arch == "uniform":
            continue
        model = load_model(arch, overrides=scenario.drivers.overrides.get(arch),
                           models_dir=scenario.drivers.models_dir)
        swap = getattr(getattr(model, "params", None), "swap", None)
        if swap is not None:
            out[arch] = swap
    return out


def local_start(epoch: datetime | None) -> tuple[int, float]:
    """(weekday 0 = Monday, hour of day) of the epoch, read as the site's local time."""
    if epoch is None:
        return 0, 0.0
    return epoch.weekday(), epoch.hour + epoch.minute / 60 + epoch.second / 3600


def plan_fleet(scenario: Scenario, stations: Sequence[StationSpec], *,
               horizon_s: float) -> list[StationPlan]:
    """Plans for ``stations`` (in their order), each from its archetype's model."""
    out: dict[int, StationPlan] = {}
    for planner in _planners(scenario, stations):
        for plan in plan_windows(planner, horizon_s):
            out[plan.station_index] = plan
    return [out[s.index] for s in stations]


def _models(scenario: Scenario,
            stations: Sequence[StationSpec]) -> Iterator[tuple[DriverModel, list[StationSpec]]]:
    """Each archetype's model with its stations (in their order)."""
    by_arch: dict[str, list[StationSpec]] = {}
    for spec in stations:
        by_arch.setdefault(spec.archetype, []).append(spec)
    for arch, specs in by_arch.items():
        yield _model(arch, scenario.drivers.overrides.get(arch), scenario.drivers.models_dir), \
            specs


def _model(name: str, overrides: Mapping[str, Any] | None, models_dir: str | Path) -> DriverModel:
    """:func:`load_model`, computed once per process for the same model file and overrides.

    An engine plans every batch of stations Locust starts (a few dozen, several times a
    second during a ramp), and loading an archetype calibrates its marks (0.2-0.7 s of
    CPU): at 100,000 stations the engines did nothing else for minutes and no station
    connected (issue 13). Models are immutable once built (planners hold the state), so
    one per (name, overrides, file version) is shared."""
    stamp = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size)
                  for d in _dirs(models_dir) if (p := d / f"{name}.yaml").is_file())
    key = orjson.dumps(overrides or {}, option=orjson.OPT_SORT_KEYS, default=str)
    return _cached_model(name, key, str(models_dir), stamp)


@functools.lru_cache(maxsize=64)
def _cached_model(name: str, overrides_json: bytes, models_dir: str,
                  _stamp: tuple[tuple[str, int, int], ...]) -> DriverModel:
    return load_model(name, overrides=orjson.loads(overrides_json) or None,
                      models_dir=models_dir)


def _planners(scenario: Scenario, stations: Sequence[StationSpec]) -> Iterator[Planner]:
    """One planner per archetype of ``stations``."""
    weekday, hour = local_start(scenario.clock.start)
    for model, specs in _models(scenario, stations):
        yield model.planner(specs, start_weekday=weekday, start_hour=hour)


def fleet_feeds(scenario: Scenario, stations: Sequence[StationSpec], *,
                horizon_s: float = math.inf) -> list[StationPlan]:
    """Lazy plans for running ``stations``: each holds a :class:`SessionFeed`; groups of
    up to :data:`GROUP` stations of one archetype plan their next window together
    when the first of them needs it (:mod:`fleetsim.drivers.window`). Sessions plugging
    in from ``horizon_s`` (the run's simulated length) on are not handed out, so a run
    uses exactly what ``fleetsim plan`` lists for that length."""
    weekday, hour = local_start(scenario.clock.start)
    out: dict[int, StationPlan] = {}
    for model, specs in _models(scenario, stations):
        for lo in range(0, len(specs), GROUP):
            planner = model.planner(specs[lo:lo + GROUP], start_weekday=weekday,
                                    start_hour=hour)
            for spec, feed in zip(planner.stations, feeds(planner, horizon_s), strict=True):
                out[spec.index] = StationPlan(station_index=spec.index, archetype=model.name,
                                              evse=planner.evse, sessions=(), feed=feed)
    return [out[s.index] for s in stations]


def fleet_tags(scenario: Scenario, stations: Sequence[StationSpec], *,
               horizon_s: float) -> list[str]:
    """The distinct idTags of the sessions plugging in during [0, horizon_s), sorted —
    what a run of that simulated length uses. Planned window by window, never holding
    the sessions (the embedded CSMS's allow-list, ``fleetsim plan --tags-out``)."""
    tags: set[str] = set()
    for planner in _planners(scenario, stations):
        tags.update(window_tags(planner, horizon_s))
    return sorted(tags)


def _default_connectors(model: DriverModel) -> int:
    return model.params.evse.connectors if isinstance(model, ArchetypeModel) else 1


def _specs(name: str, stations: int, seed: int, connectors: int) -> list[StationSpec]:
    if stations < 1:
        raise ModelError(f"stations: must be >= 1, got {stations}")
    if not 1 <= connectors <= 16:
        raise ModelError(f"connectors: must be 1 to 16, got {connectors}")
    return [StationSpec(index=i, station_id=f"FS{i:06d}", version=OcppVersion.V16,
                        connectors=connectors, archetype=name, seed=seed, fleet="FS")
            for i in range(stations)]


def archetype_fleet(name: str, *, stations: int, seed: int, connectors: int | None = None,
                    models_dir: str | Path = "drivers_models") -> list[StationSpec]:
    """Specs ``FS000000``… of ``stations`` stations of one archetype (no scenario needed).

    ``connectors`` defaults to the archetype's ``evse.connectors`` (1 for uniform).
    """
    if connectors is None:
        connectors = _default_connectors(load_model(name, models_dir=models_dir))
    return _specs(name, stations, seed, connectors)


def plan_archetype(name: str, *, stations: int, days: float, seed: int = 1,
                   start: datetime | None = None, connectors: int | None = None,
                   overrides: Mapping[str, Any] | None = None,
                   models_dir: str | Path = "drivers_models") -> list[StationPlan]:
    """Plan ``stations`` stations of archetype ``name`` for ``days`` days from ``start``.

    Stations are those of :func:`archetype_fleet` (connectors: the archetype's, after
    ``overrides``); ``start`` defaults to :data:`DEFAULT_EPOCH` (Monday 00:00), read as
    the sites' local time.
    """
    if days <= 0:
        raise ModelError(f"days: must be > 0, got {days:g}")
    model = load_model(name, overrides=overrides, models_dir=models_dir)
    specs = _specs(name, stations, seed,
                   _default_connectors(model) if connectors is None else connectors)
    weekday, hour = local_start(start or DEFAULT_EPOCH)
    return model.plan(specs, horizon_s=days * 86400.0, start_weekday=weekday, start_hour=hour)
