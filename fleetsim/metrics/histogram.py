"""Latency histograms: HdrHistogram with 3 significant digits (0.1 % resolution).

Values are recorded in integer microseconds from 1 µs to 1 hour; larger values are
clamped to the top and counted in ``clamped``. Histograms from several workers
merge exactly (bucket for bucket) and serialise to HdrHistogram's standard V2
compressed base64 form, which every HdrHistogram implementation can decode.
"""

from __future__ import annotations

import ctypes
import weakref
from array import array
from collections.abc import Iterable

import hdrh.codec
import numpy as np
from hdrh.histogram import HdrHistogram

__all__ = ["HIGHEST_US", "LOWEST_US", "SIGNIFICANT_FIGURES", "LatencyHistogram", "merge_all"]

LOWEST_US = 1
HIGHEST_US = 3_600_000_000
SIGNIFICANT_FIGURES = 3
FLUSH_AT = 512  # pending values per histogram: 4 KiB, one numpy step per 512 samples
PERCENTILES = (("p50_ms", 50.0), ("p90_ms", 90.0), ("p95_ms", 95.0), ("p99_ms", 99.0),
               ("p999_ms", 99.9))


# ctypes keeps array types in a cache of weak references: once a second's interval
# histograms were freed, their counts-array type (a cyclic object) died with them and the
# next histogram made a new one, 8 a second of cyclic garbage. Kept alive here, one per
# histogram layout.
_COUNTS_TYPES: dict[int, type] = {}


class _EncodeBuffers:
    """hdrh's ``c_byte`` in its codec, where it only sizes the encode buffer
    (``c_byte * n``): a buffer type of the next power of two at or above ``n``, made
    once. hdrh asked ctypes for a new type of exactly ``n`` bytes at every encode, and
    ctypes keeps those weakly: 8 types a second of cyclic garbage (3 KiB each) in a busy
    engine, and up to ``counts_len`` (23,552) distinct sizes over a run, too many to
    keep. hdrh writes ``n`` bytes at most and copies out only what it wrote, so the
    larger buffer changes nothing in the encoding (``tests/metrics/test_histogram.py``)."""

    def __init__(self) -> None:
        self._types: dict[int, type[ctypes.Array[ctypes.c_byte]]] = {}

    def __mul__(self, n: int) -> type[ctypes.Array[ctypes.c_byte]]:
        size = 1 << max(0, n - 1).bit_length()
        t = self._types.get(size)
        if t is None:
            t = self._types[size] = ctypes.c_byte * size
        return t


hdrh.codec.c_byte = _EncodeBuffers()


def _no_cycles(hdr: HdrHistogram) -> None:
    """Leave ``hdr`` freed by reference counting, not by the cyclic collector: hdrh's
    encoder refers back to its histogram (it gets a weak proxy instead), and the counts
    array's type is kept (:data:`_COUNTS_TYPES`). Each second's interval histograms were
    a busy engine's only cyclic garbage (8 a second, 26 KiB of counts each; issue 18)."""
    _COUNTS_TYPES.setdefault(hdr.counts_len, type(hdr.counts))
    enc = getattr(hdr, "encoder", None)
    if enc is not None and getattr(enc, "histogram", None) is hdr:
        enc.histogram = weakref.proxy(hdr)


class LatencyHistogram:
    """A mergeable latency histogram; record in seconds or microseconds, read in ms."""

    __slots__ = ("_hdr", "_pending", "clamped")

    def __init__(self, hdr: HdrHistogram | None = None, *,
                 significant_figures: int = SIGNIFICANT_FIGURES) -> None:
        self._hdr = hdr if hdr is not None else HdrHistogram(LOWEST_US, HIGHEST_US,
                                                             significant_figures)
        _no_cycles(self._hdr)
        self._pending: array[int] | None = None  # recorded µs not yet in the counts
        self.clamped = 0

    @property
    def hdr(self) -> HdrHistogram:
        """The HdrHistogram, every recorded value in it."""
        if self._pending:
            self._flush()
        return self._hdr

    def record_s(self, seconds: float) -> None:
        """Record one latency given in seconds (negative → 0, above 1 h → clamped)."""
        us = int(seconds * 1e6)
        if us < LOWEST_US:
            us = LOWEST_US
        elif us > HIGHEST_US:
            us, self.clamped = HIGHEST_US, self.clamped + 1
        pending = self._pending
        if pending is None:
            pending = self._pending = array("q")
        pending.append(us)
        if len(pending) >= FLUSH_AT:
            self._flush()

    def _flush(self) -> None:
        """The pending values into the counts array: hdrh's ``record_value``, vectorised
        (``tests/metrics/test_histogram.py`` holds the two equal, value for value)."""
        h, pending = self._hdr, self._pending
        assert pending is not None
        v = np.frombuffer(pending, dtype=np.int64)
        # bucket: the smallest power of two holding the value (hdrh's _get_bucket_index);
        # frexp's exponent is the bit length, exact for integers below 2**53
        bits = np.frexp((v | h.sub_bucket_mask).astype(np.float64))[1].astype(np.int64)
        bucket = bits - h.unit_magnitude - (h.sub_bucket_half_count_magnitude + 1)
        sub = v >> (bucket + h.unit_magnitude)
        index = ((bucket + 1) << h.sub_bucket_half_count_magnitude) + sub \
            - h.sub_bucket_half_count
        where, n = np.unique(index, return_counts=True)
        np.ctypeslib.as_array(h.counts)[where] += n.astype(np.uint64)
        h.total_count += len(v)
        h.min_value = min(h.min_value, int(v.min()))
        h.max_value = max(h.max_value, int(v.max()))
        self._pending = None

    def record_corrected_us(self, value_us: int, expected_interval_us: int) -> None:
        """Record with HdrHistogram's coordinated-omission back-fill (for fixed-rate loops)."""
        self.hdr.record_corrected_value(min(max(value_us, LOWEST_US), HIGHEST_US),
                                        expected_interval_us)

    @property
    def count(self) -> int:
        return int(self.hdr.get_total_count())

    def percentile_ms(self, p: float) -> float:
        return float(self.hdr.get_value_at_percentile(p)) / 1000.0 if self.count else 0.0

    def max_ms(self) -> float:
        return float(self.hdr.get_max_value()) / 1000.0 if self.count else 0.0

    def mean_ms(self) -> float:
        return float(self.hdr.get_mean_value()) / 1000.0 if self.count else 0.0

    def summary(self) -> dict[str, float]:
        """count, p50/p90/p95/p99/p99.9, max and mean in ms."""
        out: dict[str, float] = {"count": self.count}
        for name, p in PERCENTILES:
            out[name] = round(self.percentile_ms(p), 3)
        out["max_ms"] = round(self.max_ms(), 3)
        out["mean_ms"] = round(self.mean_ms(), 3)
        return out

    def add(self, other: LatencyHistogram) -> None:
        """Merge ``other`` into this histogram (exact: bucket for bucket)."""
        if other.count:
            self.hdr.add(other.hdr)
        self.clamped += other.clamped

    def reset(self) -> None:
        self._pending = None
        self._hdr.reset()
        self.clamped = 0

    def encode(self) -> str:
        """HdrHistogram V2 compressed, base64 text."""
        data = self.hdr.encode()
        return data.decode("ascii") if isinstance(data, bytes) else str(data)

    @classmethod
    def decode(cls, text: str) -> LatencyHistogram:
        return cls(HdrHistogram.decode(text.encode("ascii")))

    def buckets(self) -> list[tuple[int, int]]:
        """(value_us, count) for every non-empty bucket, for equality checks and export."""
        return [(int(it.value_iterated_to), int(it.count_at_value_iterated_to))
                for it in self.hdr.get_recorded_iterator()]


def merge_all(hists: Iterable[LatencyHistogram]) -> LatencyHistogram:
    out = LatencyHistogram()
    for h in hists:
        out.add(h)
    return out
