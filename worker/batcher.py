"""Dynamic batching: concurrent requests for one model share one forward pass.

Each CNN has one batcher thread. A request puts its input (one canvas per image) on the queue and
waits on a future; the thread takes the first waiting input, gathers more for at most
``max_wait_s`` or until ``max_batch`` images, runs each group of equal shape through the compiled
forward function in one call, and hands every request its own rows. It waits only while some
other request is still preparing its input (``preparing``): a request alone never waits, and the
wait ends the moment the last one submits (a condition variable, not polling). Models never wait
for each other: each has its own thread and queue, so a slow model holds up only its own requests.

Whatever goes wrong with one group (the model raises, returns the wrong number of rows, handing
out a result fails) becomes that group's requests' error; the thread carries on. Should it end
anyway, ``alive`` turns false, so the model is reported unavailable instead of timing out every
request, and anything still queued is failed at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, InvalidStateError
from contextlib import contextmanager, suppress
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


class BatcherStopped(RuntimeError):
    """The batcher was closed, or its thread has ended: nothing more will be computed."""


class ModelOutputError(RuntimeError):
    """The forward function did not return one row per input image."""


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


def _fail(items: list[_Item], error: BaseException) -> None:
    """Give ``error`` to every request in ``items`` that has no answer yet."""
    for item in items:
        with suppress(InvalidStateError):  # answered or cancelled meanwhile
            item.future.set_exception(error)


class DynamicBatcher:
    """Gathers single images into batches for one model's forward function."""

    def __init__(self, forward: Forward, name: str, max_batch: int, max_wait_s: float) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, not {max_batch}")
        if max_wait_s < 0:
            raise ValueError(f"max_wait_s must not be negative, not {max_wait_s}")
        self.forward = forward
        self.name = name
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.stats = BatchStats()
        self._pending: deque[_Item] = deque()
        self._preparing = 0
        self._closed = False
        # One lock for the queue, the count of requests preparing and the closed flag; the
        # thread waits on it for the first image, and for company while someone is preparing.
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=f"batcher-{name}", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        """Whether requests still get answers: not closed, and the thread still runs."""
        return not self._closed and self._thread.is_alive()

    @contextmanager
    def preparing(self) -> Iterator[None]:
        """Announce that a request is about to submit, so that a batch waits for it."""
        with self._changed:
            self._preparing += 1
        try:
            yield
        finally:
            with self._changed:
                self._preparing -= 1
                self._changed.notify_all()

    def submit(self, canvases: list[np.ndarray]) -> list[Future[Features]]:
        """Queue the images (H x W x 3 float32 each); each future gives that image's features.

        Once the batcher has stopped, the futures come back failed with ``BatcherStopped``.
        """
        items = [_Item(canvas) for canvas in canvases]
        with self._changed:
            if self.alive:
                self._pending.extend(items)
                self._changed.notify_all()
                return [item.future for item in items]
        _fail(items, BatcherStopped(f"{self.name}: the batcher has stopped"))
        return [item.future for item in items]

    def run(self, canvases: list[np.ndarray]) -> list[Features]:
        """Submit and wait: the features of each image, in order."""
        return [future.result() for future in self.submit(canvases)]

    def queue_depth(self) -> int:
        """Images waiting for a forward pass."""
        with self._changed:
            return len(self._pending)

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop the thread (after the forward pass under way, if any) and fail what is queued."""
        with self._changed:
            self._closed = True
            stranded = list(self._pending)
            self._pending.clear()
            self._changed.notify_all()
        _fail(stranded, BatcherStopped(f"{self.name}: the batcher was closed"))
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout_s)

    def _gather(self) -> list[_Item] | None:
        """The next batch, or None once closed."""
        with self._changed:
            self._changed.wait_for(lambda: self._pending or self._closed)
            if self._closed:
                return None
            deadline = time.monotonic() + self.max_wait_s
            # Someone about to submit is worth waiting for, up to the deadline.
            while len(self._pending) < self.max_batch and self._preparing > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closed:
                    break
                self._changed.wait(remaining)
            count = min(self.max_batch, len(self._pending))
            return [self._pending.popleft() for _ in range(count)]

    def _run(self) -> None:
        batch: list[_Item] | None = []
        try:
            while (batch := self._gather()) is not None:
                try:
                    self._handle(batch)
                except Exception as exc:  # never lose the thread to one batch
                    log.exception("%s: a batch of %d failed", self.name, len(batch))
                    _fail(batch, exc)
        except BaseException:  # not an Exception: the thread ends, but nobody is left waiting
            log.exception("%s: the batcher thread ended", self.name)
        finally:
            with self._changed:
                self._closed = True
                stranded = (batch or []) + list(self._pending)
                self._pending.clear()
            _fail(stranded, BatcherStopped(f"{self.name}: the batcher has stopped"))

    def _handle(self, batch: list[_Item]) -> None:
        """Run the batch, a group of equal shapes at a time; errors go to the group's requests."""
        # A request that gave up (cancelled its future) is not computed.
        live = [item for item in batch if item.future.set_running_or_notify_cancel()]
        groups: dict[tuple[int, ...], list[_Item]] = {}
        for item in live:
            groups.setdefault(np.shape(item.canvas), []).append(item)
        for items in groups.values():
            try:
                self._forward_group(items)
            except Exception as exc:  # the requests get the error; the thread carries on
                log.exception("%s: a batch of %d failed", self.name, len(items))
                _fail(items, exc)

    def _forward_group(self, items: list[_Item]) -> None:
        started = time.perf_counter()
        features = np.asarray(self.forward(np.stack([item.canvas for item in items])))
        forward_ms = round((time.perf_counter() - started) * 1000, 3)
        if features.ndim == 0 or features.shape[0] != len(items):
            raise ModelOutputError(
                f"{self.name}: the model returned output of shape {features.shape} "
                f"for {len(items)} images; expected one row per image"
            )
        self.stats.record(len(items))
        for index, item in enumerate(items):
            item.future.set_result(Features(features[index], len(items), forward_ms))
