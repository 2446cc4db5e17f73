"""Latency histogram: HdrHistogram's canonical coordinated-omission test, exact merging."""

from __future__ import annotations

import random

import numpy as np
import pytest

from fleetsim.metrics import LatencyHistogram, Recorder, merge_all


def test_canonical_coordinated_omission_case() -> None:
    # HdrHistogram's own test: 10,000 samples of 1 ms at a 10 ms expected interval, then
    # one 100 s stall. Raw: 10,001 samples. Corrected: the stall back-fills 9,999 samples.
    raw, corrected = LatencyHistogram(), LatencyHistogram()
    for _ in range(10_000):
        raw.record_s(0.001)
        corrected.record_corrected_us(1_000, 10_000)
    raw.record_s(100.0)
    corrected.record_corrected_us(100_000_000, 10_000)
    assert raw.count == 10_001
    assert corrected.count == 20_000
    for p, expected_ms in ((50, 1.0), (75, 50_000.0), (90, 80_000.0), (99, 98_000.0)):
        assert corrected.percentile_ms(p) == pytest.approx(expected_ms, rel=0.001)
    assert raw.max_ms() == pytest.approx(100_000, rel=0.001)


def test_resolution_is_better_than_one_percent() -> None:
    h = LatencyHistogram()
    for v in np.geomspace(1e-5, 100, 500):
        h.reset()
        h.record_s(float(v))
        assert h.percentile_ms(50) == pytest.approx(v * 1000, rel=0.002, abs=0.001)


@pytest.mark.parametrize("figures", [2, 3])
def test_batched_recording_equals_hdrh_value_for_value(figures: int) -> None:
    """Recording is batched and vectorised; the counts, total, min and max must be
    exactly what hdrh's own ``record_value`` makes, at every bucket edge."""
    from hdrh.histogram import HdrHistogram

    from fleetsim.metrics.histogram import FLUSH_AT, HIGHEST_US, LOWEST_US

    rng = np.random.default_rng(11)
    edges = [v + d for k in range(33) for v in (1 << k,) for d in (-1, 0, 1)]
    values = [*edges, *rng.integers(1, 5_000_000, 3 * FLUSH_AT + 17).tolist(),
              *(int(x) for x in rng.lognormal(8, 3, 2000))]
    values = [min(max(v, LOWEST_US), HIGHEST_US) for v in values]
    ours = LatencyHistogram(significant_figures=figures)
    theirs = HdrHistogram(LOWEST_US, HIGHEST_US, figures)
    for v in values:
        ours.record_s(v / 1e6 + 1e-9)  # the float's µs floor is v
        theirs.record_value(v)
    assert list(ours.hdr.counts) == list(theirs.counts)
    assert (ours.count, ours.hdr.min_value, ours.hdr.max_value) == (
        theirs.get_total_count(), theirs.min_value, theirs.max_value)
    assert ours.encode() == theirs.encode().decode("ascii")


def test_merged_histograms_equal_the_histogram_of_the_union() -> None:
    rng = np.random.default_rng(7)
    parts = [rng.lognormal(-6, 1.5, 5000) for _ in range(3)]
    workers = []
    union = LatencyHistogram()
    for part in parts:
        h = LatencyHistogram()
        for v in part:
            h.record_s(float(v))
            union.record_s(float(v))
        workers.append(LatencyHistogram.decode(h.encode()))  # as shipped between processes
    merged = merge_all(workers)
    assert merged.buckets() == union.buckets()
    assert merged.count == 15_000


def test_recorder_accounts_for_every_call_and_merges() -> None:
    a, b = Recorder(), Recorder()
    for r in (a, b):
        r.call_sent("1.6/Heartbeat", own_s=0.0, offline_s=0.0, engine_s=0.0)
        r.call_done("1.6/Heartbeat", 0.002, 0.002, 51)  # a 51-byte CALLRESULT
        # late: more than 100 ms after due, 40 ms of it behind the station's own calls
        r.call_sent("1.6/Heartbeat", own_s=0.04, offline_s=0.0, engine_s=0.5)
        r.call_failed("1.6/Heartbeat", "timeout", 30.54, 30.0)
    b = Recorder.from_wire(b.to_wire())
    a.add(b)
    st = a.actions["1.6/Heartbeat"]
    assert (st.sent, st.answered, sum(st.errors.values())) == (4, 2, 2)
    assert st.answer_bytes == 102  # Locust's "Average size" and answer_bytes_mean
    assert a.late_sends == 2
    # a timeout is a sample, censored at the time it was given up, in both figures
    assert st.censored == 2 and st.service.count == 4 and st.response.count == 4
    assert st.service.max_ms() == pytest.approx(30_000, rel=0.001)
    assert st.response.max_ms() == pytest.approx(30_540, rel=0.001)
    assert st.queued.max_ms() == pytest.approx(540, rel=0.001)
    assert st.queued_by["own_calls"][0] == 2 and st.queued_by["engine"][0] == 2
    assert st.queued_by["own_calls"][1] == pytest.approx(0.08)


def test_figures_merge_bucket_for_bucket_across_engines() -> None:
    """Each of the three figures merges exactly, whatever engine recorded a sample."""
    rng = random.Random(7)
    one, parts = Recorder(), [Recorder() for _ in range(3)]
    for i in range(3000):
        svc, own = rng.uniform(0.001, 2.0), rng.choice((0.0, rng.uniform(0.002, 0.5)))
        for r in (one, parts[i % 3]):
            r.call_sent("2.0.1/Authorize", own_s=own, offline_s=0.0, engine_s=0.0)
            r.call_done("2.0.1/Authorize", own + svc, svc)
    merged = Recorder()
    for p in parts:
        merged.add(Recorder.from_wire(p.to_wire()))
    want, got = one.actions["2.0.1/Authorize"], merged.actions["2.0.1/Authorize"]
    for fig in ("service", "response", "queued"):
        assert getattr(got, fig).buckets() == getattr(want, fig).buckets()
    assert got.queued_by["own_calls"] == pytest.approx(want.queued_by["own_calls"])


def test_a_retried_attempt_is_not_a_second_error() -> None:
    """TransactionMessageAttempts: three refusals of one message are one error, two retries."""
    r = Recorder()
    for attempt in (1, 2, 3):
        r.call_sent("1.6/StartTransaction", own_s=0, offline_s=0, engine_s=0,
                    first=attempt == 1)
        r.call_failed("1.6/StartTransaction", "CALLERROR:InternalError", 0.01, 0.01,
                      retried=attempt < 3)
    st = r.actions["1.6/StartTransaction"]
    assert (st.sent, st.first, sum(st.errors.values()), sum(st.retried.values())) == (3, 1, 1, 2)
    assert st.service.count == 3  # each CALLERROR has its real answer time


def test_values_beyond_an_hour_are_clamped_and_counted() -> None:
    h = LatencyHistogram()
    h.record_s(7200.0)
    assert h.clamped == 1 and h.count == 1


def test_a_histogram_is_freed_by_its_last_reference_not_by_the_cyclic_collector() -> None:
    """hdrh's histogram and its encoder refer to each other: each second's interval
    histograms were a busy engine's only cyclic garbage (issue 18)."""
    import gc
    import weakref

    gc.disable()
    try:
        made = [LatencyHistogram(), LatencyHistogram.decode(_encoded())]
        refs = [weakref.ref(h.hdr) for h in made]
        del made
        assert [r() for r in refs] == [None, None]  # gone at once, no collection ran
    finally:
        gc.enable()
    h = LatencyHistogram()
    for v in (0.001, 0.002, 0.250):
        h.record_s(v)
    back = LatencyHistogram.decode(h.encode())  # encoding works through the weak proxy
    assert back.count == 3 and back.max_ms() == pytest.approx(250, rel=1e-3)


def _encoded() -> str:
    h = LatencyHistogram()
    h.record_s(0.005)
    return h.encode()


def test_the_counts_array_type_outlives_the_histograms_that_use_it() -> None:
    """ctypes caches array types weakly: a type whose last histogram was freed was cyclic
    garbage, and the next histogram made a new one (8 a second of interval histograms)."""
    import gc
    import weakref

    from fleetsim.metrics.recorder import INTERVAL_FIGURES

    for figures in (3, INTERVAL_FIGURES):
        first = weakref.ref(type(LatencyHistogram(significant_figures=figures).hdr.counts))
        gc.collect()  # nothing but the module's pin keeps the type now
        assert first() is not None
        assert type(LatencyHistogram(significant_figures=figures).hdr.counts) is first()


def test_encoding_makes_no_buffer_types_and_the_same_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    """hdrh sized its encode buffer as a new ctypes type per encode (``c_byte * n``,
    cached weakly): 8 types of cyclic garbage a second. The buffers are now rounded up to
    a power of two, the types kept, and the encoding is unchanged."""
    import ctypes
    import gc

    import hdrh.codec

    hists = []
    for i in range(1, 60):
        h = LatencyHistogram()
        for v in range(1, i * 7):
            h.record_s(v * 37e-6 * i)  # a different max, so a different encoded length
        hists.append(h)
    hists.append(LatencyHistogram())  # empty: nothing past the header
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    gc.disable()
    try:
        ours = [h.encode() for h in hists]
        gc.collect()
        made = [o for o in gc.garbage if isinstance(o, type)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert made == []
    monkeypatch.setattr(hdrh.codec, "c_byte", ctypes.c_byte)  # hdrh as it is
    assert [h.encode() for h in hists] == ours
