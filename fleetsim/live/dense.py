"""HdrHistogram counts as numpy arrays: the live views' cheap, exact twin of a histogram.

The live views copy every action's histograms once a second and read percentiles on
every refresh. HdrHistogram's V2 encoding and its Python percentile/iterator loops
cost ~190 ms per snapshot and ~1.5 s per merge at 10,000 stations (measured with
``python -m fleetsim.bench.live_cost``), so the live path ships the raw counts array
(non-zero indices and counts) instead, adds arrays to merge, and computes percentiles
with numpy *exactly as hdrh does* (same target count, same highest-equivalent value),
so the figures equal summary.json's.
"""

from __future__ import annotations

import base64
import functools
from typing import Any

import numpy as np

from fleetsim.metrics.histogram import LatencyHistogram

__all__ = ["DenseHist"]


@functools.lru_cache(maxsize=4)
def _layout(counts_len: int, sig_figs: int) -> tuple[Any, Any, Any]:
    """Per counts-array index: value, lowest and highest equivalent value [µs]."""
    h = LatencyHistogram(significant_figures=sig_figs).hdr
    values = [h.get_value_from_index(i) for i in range(counts_len)]
    lowest = [h.get_lowest_equivalent_value(v) for v in values]
    highest = [h.get_highest_equivalent_value(v) for v in values]
    return (np.array(values, dtype=np.float64), np.array(lowest, dtype=np.float64),
            np.array(highest, dtype=np.float64))


class DenseHist:
    """The counts of a :class:`LatencyHistogram` (3 significant figures) as an int64 array."""

    __slots__ = ("counts", "sig_figs")

    def __init__(self, counts: Any, sig_figs: int = 3) -> None:
        self.counts, self.sig_figs = counts, sig_figs

    @classmethod
    def empty(cls, like: DenseHist) -> DenseHist:
        return cls(np.zeros_like(like.counts), like.sig_figs)

    @staticmethod
    def sparse(h: LatencyHistogram) -> dict[str, Any]:
        """``h``'s non-zero counts for the wire: {"len", "sig", "i": indices, "n": counts},
        both little-endian arrays in base64 (JSON lists of thousands of ints cost more)."""
        hdr = h.hdr
        counts = np.frombuffer(hdr.counts, dtype=np.uint64)[: hdr.counts_len]
        nz = np.flatnonzero(counts)
        return {"len": int(hdr.counts_len), "sig": int(hdr.significant_figures),
                "i": base64.b64encode(nz.astype("<u4").tobytes()).decode("ascii"),
                "n": base64.b64encode(counts[nz].astype("<u8").tobytes()).decode("ascii")}

    @classmethod
    def from_sparse(cls, d: dict[str, Any]) -> DenseHist:
        counts = np.zeros(int(d["len"]), dtype=np.int64)
        idx = np.frombuffer(base64.b64decode(d["i"]), dtype="<u4")
        counts[idx] = np.frombuffer(base64.b64decode(d["n"]), dtype="<u8")
        return cls(counts, int(d["sig"]))

    def add(self, other: DenseHist) -> None:
        self.counts += other.counts

    @property
    def count(self) -> int:
        return int(self.counts.sum())

    def _layout(self) -> tuple[Any, Any, Any]:
        return _layout(len(self.counts), self.sig_figs)

    def percentile_ms(self, p: float) -> float:
        """hdrh's ``get_value_at_percentile`` [ms], vectorised."""
        return self.percentiles_ms(p)[0]

    def percentiles_ms(self, *ps: float) -> list[float]:
        """:meth:`percentile_ms` of each of ``ps``, from one cumulative sum."""
        cum = np.cumsum(self.counts)
        total = int(cum[-1]) if len(cum) else 0
        if not total:
            return [0.0 for _ in ps]
        _, lowest, highest = self._layout()
        out = []
        for p in ps:
            target = max(int(min(p, 100.0) * total / 100 + 0.5), 1)
            i = int(np.searchsorted(cum, target, side="left"))
            out.append(float((highest if p else lowest)[i]) / 1000.0)
        return out

    def max_ms(self) -> float:
        nz = np.flatnonzero(self.counts)
        return float(self._layout()[2][nz[-1]]) / 1000.0 if len(nz) else 0.0

    def cumulative(self, bounds_s: tuple[float, ...]) -> tuple[list[float], float]:
        """Counts at or below each bound (by bucket start) and the sum [s]."""
        values, lowest, _ = self._layout()
        nz = np.flatnonzero(self.counts)
        n, low = self.counts[nz].astype(np.float64), lowest[nz]
        return ([float(n[low <= b * 1e6].sum()) for b in bounds_s],
                float((values[nz] * n).sum()) / 1e6)
