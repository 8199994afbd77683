"""The pool's choices, on real (unstarted) supervisors whose state is set as their supervision
loop would set it: which worker takes a request, how the cores are split, what the pool as a
whole reports. The behaviour with real worker processes is in
tests/integration/test_worker_pool.py."""

from __future__ import annotations

from api.supervisor import WorkerSupervisor
from api.worker_pool import WorkerPool, split_cores
from shared.schemas import WorkerState
from shared.settings import Settings

URLS = "http://10.0.0.1:8001,http://10.0.0.2:8001,http://10.0.0.3:8001"


def pool_of_three() -> WorkerPool:
    pool = WorkerPool(Settings(worker_urls=URLS))
    for member in pool.members:
        member.state = WorkerState.READY
        member._answered = True  # what a passed health check sets
    return pool


def test_split_cores_gives_disjoint_contiguous_shares() -> None:
    assert split_cores([0, 1, 2, 3, 4], 2) == [[0, 1, 2], [3, 4]]
    assert split_cores([0, 1], 2) == [[0], [1]]
    assert split_cores([0], 2) == [None, None]  # fewer cores than workers: no pinning
    assert split_cores([0, 1, 2, 3], 1) == [None]


def test_the_urls_become_one_external_worker_each() -> None:
    pool = WorkerPool(Settings(worker_url="http://a:8001/", worker_urls=" http://b:8001 ,"))
    assert [m.url for m in pool.members] == ["http://a:8001", "http://b:8001"]
    assert not pool.embedded


def test_local_workers_split_the_threads() -> None:
    pool = WorkerPool(Settings(local_workers=3, worker_threads=8))
    assert len(pool.members) == 3 and pool.embedded
    assert {m.env["ISC_WORKER_THREADS"] for m in pool.members} == {"3"}
    single = WorkerPool(Settings())
    assert len(single.members) == 1 and single.members[0].env == {}


def test_the_least_busy_ready_worker_is_picked() -> None:
    pool = pool_of_three()
    first, second, third = pool.members
    first.in_flight, second.in_flight, third.in_flight = 3, 1, 2
    assert pool.pick() is second
    assert pool.pick(exclude=[second]) is third
    second.mark_unreachable("the connection failed (ConnectError)")
    assert second.state is WorkerState.FAILED and not second.reachable
    assert pool.pick() is third
    assert pool.state is WorkerState.READY and not pool.all_ready
    assert pool.error is not None and "10.0.0.2" in pool.error


def test_equally_busy_workers_take_turns() -> None:
    pool = pool_of_three()
    picked = [pool.pick() for _ in range(6)]
    assert [pool.members.index(m) for m in picked if m is not None] == [0, 1, 2, 0, 1, 2]


def test_a_ready_worker_comes_before_a_starting_one() -> None:
    pool = pool_of_three()
    pool.members[0].state = WorkerState.STARTING
    pool.members[1].in_flight = pool.members[2].in_flight = 5
    assert pool.pick() in pool.members[1:]


def test_no_reachable_worker_means_none() -> None:
    pool = WorkerPool(Settings(worker_urls=URLS))
    assert pool.pick() is None and not pool.reachable
    assert pool.state is WorkerState.STARTING
    assert [report.state for report in pool.reports()] == [WorkerState.STARTING] * 3


def test_a_supervisor_without_url_is_embedded() -> None:
    assert WorkerSupervisor(Settings()).embedded
    assert not WorkerSupervisor(Settings(), "http://x:1").embedded
