"""Comparisons without a CNN (SSIM, MS-SSIM, pixel, pHash) computed in child processes.

Why: they are CPU work from start to end, much of it Python and small NumPy steps that hold the
GIL, and in the worker they share that GIL with the event loop and each other. Measured on this
project's 2-core machine (default SSIM, distinct 1024x768 JPEG pairs, 16 clients through the
gateway): in the worker's threads 61 req/s with 18 % of the CPU idle; in 2, 3 and 4 processes
65, 69 and 71 req/s with 12, 6 and 3 % idle. So by default two per usable core; the CNNs stay
in the worker process, where their models and batches are.

The children are started with ``spawn`` (never forked from a process whose TensorFlow runs
threads) and build the pixel methods only: no model, a few hundred milliseconds to start, each
started at once in the background. The result cache stays in the worker, in front of them
(``ComparisonService.offload``). A child that dies (killed for memory, say) breaks the pool: the
request gets ``503 worker_unavailable`` with Retry-After and a new pool is started.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from shared.errors import ErrorCode, ServiceError
from shared.schemas import CompareAllResult, CompareResult
from shared.settings import Settings
from worker.pair_runner import usable_cores
from worker.service import ComparisonService, PairRequest

logger = logging.getLogger("isc.worker")

PARENT_CHECK_S = 1.0
_service: ComparisonService | None = None
"""The child's ComparisonService (pixel methods only), built by ``_start``."""


def default_count(settings: Settings) -> int:
    """``pixel_processes``, or two per usable core where there are two or more (0: none, the
    worker computes them in its threads)."""
    if settings.pixel_processes is not None:
        return settings.pixel_processes
    cores = len(usable_cores())
    return 2 * cores if cores >= 2 else 0


def _start(settings_json: str, worker_pid: int) -> None:
    """Child initializer: the worker's own process tuning, then the pixel methods."""
    global _service
    from worker.process import configure_process
    from worker.registry import build_registry

    settings = Settings.model_validate_json(settings_json)
    configure_process(settings)
    _service = ComparisonService(build_registry(settings), settings)
    # The worker's pid as the worker gave it: a child still starting when the worker died
    # already has another parent.
    threading.Thread(target=_exit_with_parent, args=(worker_pid,), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    """End this child when the worker is gone: a worker killed outright (SIGKILL, out of
    memory) cannot stop its pool, and an orphan would hold its memory for good."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_S)
    os._exit(0)


def _compute(request: PairRequest) -> tuple[CompareResult | CompareAllResult, bool]:
    assert _service is not None, "the pixel process did not start"
    return _service.compute(request)


def _ready() -> bool:
    return _service is not None


def start_pixel_processes(settings: Settings) -> PixelProcesses | None:
    """The pool the settings ask for, or None: none asked for, or none can be made here (no
    POSIX semaphores, e.g. without /dev/shm), and the worker's threads compute instead."""
    count = default_count(settings)
    if not count:
        return None
    try:
        return PixelProcesses(settings, count)
    except (OSError, ImportError) as exc:
        logger.warning("pixel processes unavailable (%s); computing in threads", exc)
        return None


class PixelProcesses:
    """A pool of ``count`` child processes computing comparisons without a CNN."""

    def __init__(self, settings: Settings, count: int) -> None:
        # The children need no CNN and keep no result cache: the worker keeps it.
        child = settings.model_copy(update={"cnn_methods": "", "result_cache_bytes": 0})
        self._settings_json = child.model_dump_json()
        self.count = count
        self._timeout_s = settings.worker_timeout_s
        self._retry_after_s = settings.retry_after_s
        self._lock = threading.Lock()
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self.count,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start,
            initargs=(self._settings_json, os.getpid()),
        )

    def warm(self) -> None:
        """Start every child now (each takes a task once initialised), not on the first
        requests; returns at once."""
        for _ in range(self.count):
            self._pool.submit(_ready)

    def compute(self, request: PairRequest) -> tuple[CompareResult | CompareAllResult, bool]:
        """``ComparisonService.compute(request)`` in a child; its ``ServiceError`` as raised."""
        pool = self._pool
        try:
            future: Future[tuple[CompareResult | CompareAllResult, bool]] = pool.submit(
                _compute, request
            )
            return future.result(timeout=self._timeout_s)
        except BrokenProcessPool as exc:
            self._replace(pool)
            raise ServiceError(
                ErrorCode.WORKER_UNAVAILABLE,
                "A comparison process of the worker stopped (out of memory?); it is being "
                "restarted. Try again in a few seconds.",
                headers={"Retry-After": str(self._retry_after_s)},
            ) from exc
        except TimeoutError as exc:
            raise ServiceError(
                ErrorCode.WORKER_TIMEOUT,
                f"The comparison took longer than {self._timeout_s:g} s.",
            ) from exc

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is broken:
                logger.error("a pixel process died; starting %d new ones", self.count)
                self._pool = self._new_pool()
                self.warm()
        broken.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the children; queued comparisons are cancelled."""
        self._pool.shutdown(wait=False, cancel_futures=True)
