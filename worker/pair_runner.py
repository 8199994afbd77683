"""Work on the two images of a pair at the same time, one image per core.

Why the threads are pinned to cores: the machines this service runs on (small KVM guests whose
kernel packs runnable threads onto as few vCPUs as it can) start a freshly woken thread on the
core of the thread that woke it, and move it only once both have run for a while. Two plain
threads decoding the two JPEGs of a request therefore ran one after the other (measured: no
faster than decoding both in one thread), while two pinned threads take about half the time.
Elsewhere pinning should cost little (not measured there): the threads do short jobs and
sleep in between.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def usable_cores() -> list[int]:
    """The cores this process may run on, in order (all of them where affinity is unknown)."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def _pin_to(core: int) -> Callable[[], None]:
    def pin() -> None:
        # 0: the calling thread, on Linux. OSError: the core was taken away since start-up.
        if hasattr(os, "sched_setaffinity"):
            with contextlib.suppress(OSError):
                os.sched_setaffinity(0, {core})
        threading.current_thread().name = f"pair-core{core}"

    return pin


class PairRunner:
    """Runs one function on both items of a pair, each on its own core where there are two.

    Each core has a pool of ``threads_per_core`` threads, so that a long job (a huge PNG) slows
    the other requests' jobs on that core but never holds them in a queue behind it; which core
    takes the first item alternates from pair to pair, so that neither core gets all of them.
    """

    def __init__(self, cores: list[int] | None = None, threads_per_core: int = 1) -> None:
        chosen = (cores if cores is not None else usable_cores())[:2]
        self._lanes = (
            [
                ThreadPoolExecutor(max(1, threads_per_core), initializer=_pin_to(core))
                for core in chosen
            ]
            if len(chosen) == 2
            else []
        )
        self._turns = itertools.cycle([(0, 1), (1, 0)])

    @property
    def parallel(self) -> bool:
        """Whether the two items really run at once (there are two cores)."""
        return bool(self._lanes)

    def run(self, function: Callable[[T], R], first: T, second: T) -> tuple[R, R]:
        """``(function(first), function(second))``; an error of ``first`` wins over one of
        ``second``, as if they had run in order."""
        if not self._lanes:
            return function(first), function(second)
        lane_first, lane_second = next(self._turns)
        futures: tuple[Future[R], Future[R]] = (
            self._lanes[lane_first].submit(function, first),
            self._lanes[lane_second].submit(function, second),
        )
        try:
            return futures[0].result(), futures[1].result()
        finally:
            futures[1].cancel()  # not started yet because the first failed: no need to

    def shutdown(self) -> None:
        """Stop the threads once their current jobs are done."""
        for lane in self._lanes:
            lane.shutdown(wait=False, cancel_futures=True)
