"""Dynamic batching: concurrent requests for one model share one forward pass.

Each CNN has one batcher thread. A request puts its input (one canvas per image) on the queue and
waits on a future; the thread takes the first waiting input, gathers more for at most
``max_wait_s`` or until ``max_batch`` images, runs each group of equal shape through the compiled
forward function in one call, and hands every request its own rows. It waits only while some
other request is still preparing its input (``preparing``): a request alone never waits. Models
never wait for each other: each has its own thread and queue, so a slow model holds up only its
own requests.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

log = logging.getLogger(__name__)

Forward = Callable[[np.ndarray], np.ndarray]
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)


class Features(NamedTuple):
    """One image's feature map, and the forward pass that computed it."""

    values: np.ndarray
    batch_size: int
    """How many images shared the forward pass."""
    forward_ms: float
    """How long the forward pass took (the model's own time, shared by the whole batch)."""


@dataclass
class _Item:
    canvas: np.ndarray
    future: Future[Features] = field(default_factory=Future)


@dataclass
class BatchStats:
    """What the batcher has done, for tests, logs and metrics."""

    batches: int = 0
    images: int = 0
    bucket_counts: list[int] = field(default_factory=lambda: [0] * len(BATCH_BUCKETS))
    """Cumulative: forward passes with at most BATCH_BUCKETS[i] images."""

    def record(self, size: int) -> None:
        """Count one forward pass of ``size`` images."""
        self.batches += 1
        self.images += size
        for index, bound in enumerate(BATCH_BUCKETS):
            if size <= bound:
                self.bucket_counts[index] += 1


class DynamicBatcher:
    """Gathers single images into batches for one model's forward function."""

    def __init__(self, forward: Forward, name: str, max_batch: int, max_wait_s: float) -> None:
        self.forward = forward
        self.name = name
        self.max_batch = max(1, max_batch)
        self.max_wait_s = max(0.0, max_wait_s)
        self.stats = BatchStats()
        self._queue: queue.Queue[_Item] = queue.Queue()
        self._preparing = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"batcher-{name}", daemon=True)
        self._thread.start()

    @contextmanager
    def preparing(self) -> Iterator[None]:
        """Announce that a request is about to submit, so that a batch waits for it."""
        with self._lock:
            self._preparing += 1
        try:
            yield
        finally:
            with self._lock:
                self._preparing -= 1

    def submit(self, canvases: list[np.ndarray]) -> list[Future[Features]]:
        """Queue the images (H x W x 3 float32 each); each future gives that image's features."""
        items = [_Item(canvas) for canvas in canvases]
        for item in items:
            self._queue.put(item)
        return [item.future for item in items]

    def run(self, canvases: list[np.ndarray]) -> list[Features]:
        """Submit and wait: the features of each image, in order."""
        return [future.result() for future in self.submit(canvases)]

    def queue_depth(self) -> int:
        """Images waiting for a forward pass."""
        return self._queue.qsize()

    def _gather(self) -> list[_Item]:
        batch = [self._queue.get()]
        deadline = time.monotonic() + self.max_wait_s
        while len(batch) < self.max_batch:
            try:
                batch.append(self._queue.get_nowait())
                continue
            except queue.Empty:
                pass
            remaining = deadline - time.monotonic()
            if self._preparing == 0 or remaining <= 0:
                break  # nobody else is about to submit, or waited long enough
            try:
                batch.append(self._queue.get(timeout=min(remaining, 0.0005)))
            except queue.Empty:
                continue
        return batch

    def _run(self) -> None:
        while True:
            batch = self._gather()
            groups: dict[tuple[int, ...], list[_Item]] = {}
            for item in batch:
                groups.setdefault(item.canvas.shape, []).append(item)
            for items in groups.values():
                self._forward_group(items)

    def _forward_group(self, items: list[_Item]) -> None:
        started = time.perf_counter()
        try:
            features = np.asarray(self.forward(np.stack([item.canvas for item in items])))
        except Exception as exc:  # the requests get the error; the thread carries on
            log.exception("%s: forward pass failed", self.name)
            for item in items:
                item.future.set_exception(exc)
            return
        forward_ms = round((time.perf_counter() - started) * 1000, 3)
        self.stats.record(len(items))
        for index, item in enumerate(items):
            item.future.set_result(Features(features[index], len(items), forward_ms))
