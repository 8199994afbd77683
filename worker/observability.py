"""The worker's Prometheus metrics, read from the components when scraped (nothing on the hot
path): images waiting per model, batch sizes, cache hits and misses, comparisons by outcome. Named
like api/observability.py; "metrics" in worker/ means the similarity maths (worker/metrics/)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from worker.batcher import BATCH_BUCKETS
from worker.registry import Registry
from worker.service import ComparisonService


class WorkerCollector(Collector):
    """Reads batcher and cache statistics at scrape time."""

    def __init__(self, registry: Registry, service: ComparisonService) -> None:
        self.registry = registry
        self.service = service

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "isc_worker_queue_depth", "Images waiting for a CNN forward pass.", labels=["model"]
        )
        batches = HistogramMetricFamily(
            "isc_worker_batch_size", "Images per CNN forward pass.", labels=["model"]
        )
        for cnn in self.registry.cnns:
            batcher = cnn.batcher
            if batcher is None:
                continue
            depth.add_metric([cnn.name.value], batcher.queue_depth())
            stats = batcher.stats
            cumulative = [(str(b), stats.bucket_counts[i]) for i, b in enumerate(BATCH_BUCKETS)]
            cumulative.append(("+Inf", stats.batches))
            batches.add_metric([cnn.name.value], cumulative, sum_value=stats.images)
        yield depth
        yield batches
        lookups = CounterMetricFamily(
            "isc_worker_cache_lookups",
            "Cache lookups by cache and outcome.",
            labels=["cache", "outcome"],
        )
        size = GaugeMetricFamily(
            "isc_worker_cache_bytes", "Bytes held by a cache.", labels=["cache"]
        )
        caches = {"embedding": self.registry.embedding_cache, "result": self.service.results}
        for name, cache in caches.items():
            lookups.add_metric([name, "hit"], cache.stats.hits)
            lookups.add_metric([name, "miss"], cache.stats.misses)
            size.add_metric([name], cache.bytes)
        yield lookups
        yield size


class WorkerMetrics:
    """The worker's metric registry."""

    def __init__(self, registry: Registry, service: ComparisonService) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(WorkerCollector(registry, service))
        self.comparisons = Counter(
            "isc_worker_comparisons",
            "Comparisons computed, by method (or all) and outcome (ok or the error code).",
            ["method", "outcome"],
            registry=self.registry,
        )
