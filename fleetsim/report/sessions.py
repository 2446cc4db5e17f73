"""``sessions.csv``: one row per charging session, summed up for the report.

Columns: ``station_id, connector_id, archetype, id_tag, transaction_id, arrival,
departure, started, stopped, energy_kwh, wanted_kwh, meter_start_wh, meter_stop_wh,
stop_reason, vehicle`` (times ISO 8601 UTC on the simulated clock). A run without
sessions writes the header only.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from fleetsim.exceptions import ResultsError
from fleetsim.report.results import SESSIONS, read_text

__all__ = ["COLUMNS", "ArchetypeDigest", "SessionsDigest", "load_sessions", "parse_sessions"]

COLUMNS: Final = ("station_id", "connector_id", "archetype", "id_tag", "transaction_id",
                  "arrival", "departure", "started", "stopped", "energy_kwh", "wanted_kwh",
                  "meter_start_wh", "meter_stop_wh", "stop_reason", "vehicle")


@dataclass(frozen=True, slots=True)
class ArchetypeDigest:
    """Sessions of one driver archetype: how many and the energy they took [kWh]."""

    sessions: int
    energy_kwh: float
    wanted_kwh: float


@dataclass(frozen=True, slots=True)
class SessionsDigest:
    """What the report shows of ``sessions.csv``; energies in kWh (empty cells count 0)."""

    sessions: int
    stopped: int
    energy_kwh: float
    wanted_kwh: float
    by_stop_reason: Mapping[str, int]
    by_archetype: Mapping[str, ArchetypeDigest]


def load_sessions(results_dir: Path) -> SessionsDigest:
    """Read and digest ``results_dir/sessions.csv``; ResultsError naming file and line."""
    path = Path(results_dir) / SESSIONS
    text = read_text(path)
    return parse_sessions(text, file=str(path))


def parse_sessions(text: str, *, file: str = SESSIONS) -> SessionsDigest:
    """Digest CSV text in the format above."""
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise ResultsError(f"{file}: header lacks column {missing[0]!r}")
    stopped, energy, wanted = 0, 0.0, 0.0
    reasons: Counter[str] = Counter()
    archetypes: dict[str, list[float]] = {}
    for row in reader:
        line = reader.line_num
        if None in row or any(v is None for v in row.values()):
            raise ResultsError(f"{file}: line {line}: cell count differs from the header")
        e_kwh = _kwh(row["energy_kwh"], file, line, "energy_kwh")
        w_kwh = _kwh(row["wanted_kwh"], file, line, "wanted_kwh")
        energy += e_kwh
        wanted += w_kwh
        stopped += bool(row["stopped"].strip())
        reasons[row["stop_reason"].strip() or "(none)"] += 1
        acc = archetypes.setdefault(row["archetype"].strip() or "(none)", [0, 0.0, 0.0])
        acc[0] += 1
        acc[1] += e_kwh
        acc[2] += w_kwh
    return SessionsDigest(
        sessions=sum(reasons.values()),
        stopped=stopped,
        energy_kwh=energy,
        wanted_kwh=wanted,
        by_stop_reason=dict(reasons.most_common()),
        by_archetype={name: ArchetypeDigest(int(n), e, w)
                      for name, (n, e, w) in sorted(archetypes.items())},
    )


def _kwh(cell: str, file: str, line: int, column: str) -> float:
    if not cell.strip():
        return 0.0
    try:
        value = float(cell)
    except ValueError:
        raise ResultsError(f"{file}: line {line}: column {column!r}: not a number: "
                           f"{cell[:30]!r}") from None
    if not math.isfinite(value):
        raise ResultsError(f"{file}: line {line}: column {column!r}: not finite: {cell!r}")
    return value
