"""Latency histograms (mergeable), call accounting and interval time series. No locust."""

from fleetsim.metrics.histogram import LatencyHistogram, merge_all
from fleetsim.metrics.recorder import ActionStats, IntervalStats, Recorder

__all__ = ["ActionStats", "IntervalStats", "LatencyHistogram", "Recorder", "merge_all"]
