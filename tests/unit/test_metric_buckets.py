"""Every lmsa histogram exports each bucket bound once: a repeated ``le`` is a duplicate series
in /metrics, which Prometheus drops as a duplicate sample (and histogram_quantile, which the
latency and queue-wait alerts use, then works on a broken bucket list)."""

from __future__ import annotations

import itertools

from prometheus_client import Histogram

from lmsa.observability import metrics


def test_histogram_bucket_bounds_are_strictly_increasing() -> None:
    histograms = {
        name: value for name, value in vars(metrics).items() if isinstance(value, Histogram)
    }
    assert "QUEUE_WAIT" in histograms
    for name, histogram in histograms.items():
        bounds = histogram._upper_bounds  # what /metrics writes as le="..."
        assert all(a < b for a, b in itertools.pairwise(bounds)), (name, bounds)
