"""The fleet plan: station *i* → id, OCPP version, connectors, archetype, seed stream.

Pure and deterministic. Station *i* is the same station whatever the fleet size
or the number of workers: versions and archetypes are assigned by a
low-discrepancy (golden-ratio) sequence over the index, so shares are met
closely for any prefix of the fleet, and each station's random streams derive
from ``SeedSequence(seed, spawn_key=(i,))`` — exactly ``SeedSequence(seed).spawn(n)[i]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fleetsim.scenario.model import OcppVersion, Scenario

if TYPE_CHECKING:  # numpy is imported where a stream is drawn: a Locust worker never does
    import numpy as np

__all__ = ["StationSpec", "build_fleet", "pick_by_share", "station_spec"]

_PHI = 0.6180339887498949  # golden-ratio fraction: the most uniform 1-D Weyl sequence
_SQRT2 = 0.41421356237309515  # a second, independent Weyl step for archetypes


@dataclass(frozen=True, slots=True)
class StationSpec:
    """Identity of one simulated charging station."""

    index: int
    station_id: str
    version: OcppVersion
    connectors: int
    archetype: str
    seed: int
    fleet: str = ""
    """The fleet's ``id_prefix``: with ``seed`` it keys the idTags (unique per fleet)."""

    def seed_sequence(self) -> np.random.SeedSequence:
        """This station's root stream: ``SeedSequence(seed).spawn(n)[index]`` for any n."""
        import numpy as np

        return np.random.SeedSequence(self.seed, spawn_key=(self.index,))

    def stream(self, j: int) -> np.random.Generator:
        """Independent sub-stream ``j`` (0 arrivals, 1 marks, 2 vehicle, 3 idTag, 4+ other)."""
        import numpy as np

        return np.random.Generator(np.random.PCG64(
            np.random.SeedSequence(self.seed, spawn_key=(self.index, j))))


def pick_by_share(u: float, shares: Mapping[str, float] | Mapping[OcppVersion, float]) -> object:
    """The key whose cumulative share interval contains ``u`` ∈ [0, 1) (insertion order)."""
    acc = 0.0
    last: object = None
    for key, share in shares.items():
        acc += share
        last = key
        if u < acc:
            return key
    return last


def station_spec(s: Scenario, index: int) -> StationSpec:
    """Spec of station ``index`` (0-based); independent of fleet size and worker count."""
    st = s.stations
    u_version = (index * _PHI) % 1.0
    u_arch = (index * _SQRT2 + 0.5) % 1.0
    version = pick_by_share(u_version, st.versions)
    archetype = pick_by_share(u_arch, s.drivers.mix)
    assert isinstance(version, OcppVersion) and isinstance(archetype, str)
    station_id = f"{st.id_prefix}{index:0{st.id_digits}d}"
    return StationSpec(index=index, station_id=station_id, version=version,
                       connectors=st.connectors, archetype=archetype, seed=s.seed,
                       fleet=st.id_prefix)


def build_fleet(s: Scenario, indices: Sequence[int] | None = None) -> list[StationSpec]:
    """Specs of ``indices`` (default: the whole fleet, 0 … count-1)."""
    idx = range(s.stations.count) if indices is None else indices
    return [station_spec(s, i) for i in idx]
