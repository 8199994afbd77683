"""Work on the two images of a pair at the same time, one image per core.

Why the threads are pinned to cores: on the small KVM guests this service runs on, the kernel
starts a freshly woken thread on the core of the thread that woke it (the caller, which then
waits), so two plain threads decoding the two JPEGs of a request were found, on an idle guest,
to run one after the other; two pinned threads cannot be packed like that. There is one lane (a
small pool of pinned threads) per usable core, and successive pairs take the lanes round-robin
(``lane_turns``), so that on a larger host concurrent requests decode on different cores instead
of all queueing on the first two (spreading could not be measured: no larger host was at hand).

Measured here with ``.venv/bin/python bench/pair_decode.py`` (2-core AMD EPYC guest, two
1024x768 JPEGs, 300 interleaved rounds, median and p10..p90 in ms), while other processes kept
the machine busy (load 3 to 8, so not the idle case above):

    one request:        in turn 7.9-8.4   pinned 3.0-9.6 (p10 3.0-3.6)   unpinned 3.1-5.8
    two requests:       in turn 17-21     pinned 8.7-17 (p10 6.2-6.8)    unpinned 11-12

Pinned lanes give the best case (the p10s: both cores free) but, when another process holds
one of their cores, they wait for it where unpinned threads move: a worse median and tail under
outside load. Pinning stays the default for a worker that has its cores to itself; ``pin=False``
keeps the lanes and leaves placement to the kernel.
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


def _lane_initializer(core: int, pin: bool) -> Callable[[], None]:
    def start() -> None:
        # 0: the calling thread, on Linux. OSError: the core was taken away since start-up.
        if pin and hasattr(os, "sched_setaffinity"):
            with contextlib.suppress(OSError):
                os.sched_setaffinity(0, {core})
        threading.current_thread().name = f"pair-core{core}"

    return start


def lane_turns(count: int) -> list[tuple[int, int]]:
    """Which two lanes each pair takes, in turn: every lane once as first and once as second,
    and, from four lanes on, two successive pairs share no lane (lane ``k`` and the one half
    way round from it)."""
    half = max(1, count // 2)
    return [(k, (k + half) % count) for k in range(count)]


class PairRunner:
    """Runs one function on both items of a pair, each on its own core where there are two.

    Each core has a lane of ``threads_per_core`` threads, so that a long job (a huge PNG) slows
    the other requests' jobs on that core but never holds them in a queue behind it; pairs take
    the lanes round-robin (``lane_turns``), so that no core gets all of them.
    """

    def __init__(
        self, cores: list[int] | None = None, threads_per_core: int = 1, *, pin: bool = True
    ) -> None:
        chosen = cores if cores is not None else usable_cores()
        self._lanes = (
            [
                ThreadPoolExecutor(max(1, threads_per_core), initializer=_lane_initializer(c, pin))
                for c in chosen
            ]
            if len(chosen) >= 2
            else []
        )
        self._turns = itertools.cycle(lane_turns(len(self._lanes)))

    @property
    def parallel(self) -> bool:
        """Whether the two items really run at once (there are two cores)."""
        return bool(self._lanes)

    def run(self, function: Callable[[T], R], first: T, second: T) -> tuple[R, R]:
        """``(function(first), function(second))``; an error of ``first`` wins over one of
        ``second``, as if they had run in order."""
        if not self._lanes:
            return function(first), function(second)
        lane_first, lane_second = next(self._turns)  # one C call: atomic under the GIL
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
