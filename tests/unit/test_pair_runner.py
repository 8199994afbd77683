"""Both images of a pair are worked on at once, each on its own core, in a stable order."""

from __future__ import annotations

import itertools
import os
import threading

import pytest

from worker.pair_runner import PairRunner

needs_two_cores = pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="pinning needs Linux and two cores",
)


@needs_two_cores
def test_the_two_items_run_at_the_same_time_on_two_different_cores() -> None:
    runner = PairRunner()
    both_started = threading.Barrier(2, timeout=10)

    def where(item: str) -> tuple[str, set[int]]:
        both_started.wait()  # breaks (and raises) if the second job waits for the first
        return item, os.sched_getaffinity(0)

    (first, cores_a), (second, cores_b) = runner.run(where, "a", "b")
    runner.shutdown()
    assert runner.parallel
    assert (first, second) == ("a", "b")
    assert len(cores_a) == 1 and len(cores_b) == 1 and cores_a != cores_b


@needs_two_cores
def test_a_long_job_does_not_hold_up_the_next_pair() -> None:
    runner = PairRunner(threads_per_core=2)
    release = threading.Event()

    def job(item: str) -> str:
        if item == "slow":
            assert release.wait(10)
        return item

    slow = threading.Thread(target=runner.run, args=(job, "slow", "slow"))
    slow.start()
    try:
        assert runner.run(job, "a", "b") == ("a", "b")
        assert slow.is_alive()
    finally:
        release.set()
        slow.join()
        runner.shutdown()


def test_one_core_runs_them_in_order_in_the_calling_thread() -> None:
    runner = PairRunner(cores=[0])
    caller = threading.get_ident()
    results = runner.run(lambda item: (item, threading.get_ident()), 1, 2)
    assert not runner.parallel
    assert results == ((1, caller), (2, caller))


@pytest.mark.parametrize("cores", [None, [0]])
def test_an_error_of_the_first_item_wins_and_the_runner_keeps_working(
    cores: list[int] | None,
) -> None:
    runner = PairRunner(cores=cores)

    def check(item: int) -> int:
        if item < 0:
            raise ValueError(f"bad {item}")
        return item * 10

    with pytest.raises(ValueError, match="bad -1"):
        runner.run(check, -1, -2)
    with pytest.raises(ValueError, match="bad -2"):
        runner.run(check, 1, -2)
    assert runner.run(check, 1, 2) == (10, 20)
    runner.shutdown()


def test_successive_pairs_take_different_cores_round_robin() -> None:
    # Eight cores given explicitly: on a smaller machine pinning to the missing ones fails quietly,
    # but each lane's threads still carry their core's name.
    runner = PairRunner(cores=list(range(8)), pin=False)

    def lane(item: str) -> str:
        return threading.current_thread().name

    pairs = [runner.run(lane, "a", "b") for _ in range(16)]
    runner.shutdown()
    for first, second in pairs:
        assert first != second
    for previous, current in itertools.pairwise(pairs):
        assert not set(previous) & set(current), (previous, current)
    firsts = [first for first, _ in pairs[:8]]
    assert sorted(firsts) == sorted(f"pair-core{core}" for core in range(8))
    assert pairs[8:] == pairs[:8]


def test_on_two_cores_the_pairs_alternate_which_core_takes_the_first_item() -> None:
    runner = PairRunner(cores=[0, 1], pin=False)
    pairs = [runner.run(lambda _: threading.current_thread().name, 1, 2) for _ in range(4)]
    runner.shutdown()
    assert pairs == [("pair-core0", "pair-core1"), ("pair-core1", "pair-core0")] * 2
