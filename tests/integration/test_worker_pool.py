"""Several workers behind one gateway, all real processes: requests are spread over them, a
worker killed under load costs at most the requests it had in flight, ``/health`` shows it down,
and once it runs again it takes requests again. Also ``ISC_LOCAL_WORKERS``: the gateway starts and
supervises two workers itself, each on its own share of the cores."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.images import astronaut, png
from tests.support.service import Service, free_port, running_service, start_worker, stop

IMAGE_A = png(astronaut()[:128, :128])
IMAGE_B = png(astronaut()[8:136, 8:136])


@contextmanager
def real_worker(log_dir: Path, name: str, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m worker`` on ``port``, without CNNs (it is ready in a few seconds)."""
    environment = {
        "ISC_CNN_METHODS": "",
        "ISC_ALLOW_WEIGHT_DOWNLOAD": "false",
        "ISC_LOG_LEVEL": "warning",
        "ISC_WORKER_THREADS": "2",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    process = start_worker(log_dir / f"{name}.log", port, environment)
    try:
        yield process
    finally:
        stop(process)


def comparisons_done(port: int) -> int:
    """SSIM comparisons a worker computed, from its own metrics."""
    text = httpx.get(f"http://127.0.0.1:{port}/v1/metrics", timeout=10).text
    found = re.search(
        r'^isc_worker_comparisons_total\{method="ssim",outcome="ok"\} (\S+)$', text, re.M
    )
    return int(float(found.group(1))) if found else 0


def wait_until(condition: Callable[[], bool], service: Service, timeout: float = 60) -> None:
    """Poll ``condition`` (HTTP errors count as not yet)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"condition not met in {timeout} s: {service.health()}")


def worker_states(service: Service) -> list[str]:
    return [worker["state"] for worker in service.health()["workers"]]


def post(client: httpx.Client) -> int:
    """One SSIM comparison through the gateway; its status code."""
    response = client.post(
        "/api/v1/compare",
        files={"image_a": ("a.png", IMAGE_A), "image_b": ("b.png", IMAGE_B)},
        data={"method": "ssim"},
    )
    return response.status_code


def test_two_workers_share_requests_survive_a_kill_and_recover(log_dir: Path) -> None:
    ports = [free_port(), free_port()]
    urls = ",".join(f"http://127.0.0.1:{port}" for port in ports)
    with (
        real_worker(log_dir, "pool-worker-0", ports[0]),
        real_worker(log_dir, "pool-worker-1", ports[1]) as second,
        running_service(log_dir, "pool-gateway", until_worker_ready=False, worker_urls=urls) as gw,
    ):
        wait_until(lambda: worker_states(gw) == ["ready", "ready"], gw)
        assert gw.health()["status"] == "ok"

        # Spread: four clients at once, 24 requests; each worker computes some of them.
        statuses: list[int] = []

        def client_loop(count: int, stop_flag: threading.Event | None = None) -> None:
            with gw.client(timeout=60) as client:
                for _ in range(count):
                    if stop_flag is not None and stop_flag.is_set():
                        return
                    statuses.append(post(client))

        threads = [threading.Thread(target=client_loop, args=(6,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert statuses == [200] * 24
        done = [comparisons_done(port) for port in ports]
        assert sum(done) == 24 and min(done) > 0, done
        forwarded = [worker["forwarded"] for worker in gw.health()["workers"]]
        assert min(forwarded) > 0, forwarded

        # Kill one under load (four clients sending all the time, before and after): at most
        # the requests in flight on it fail, one per client.
        statuses.clear()
        stop_flag = threading.Event()
        threads = [threading.Thread(target=client_loop, args=(10_000, stop_flag)) for _ in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        sent_before_kill = len(statuses)
        second.send_signal(signal.SIGKILL)
        second.wait(timeout=10)
        time.sleep(1.0)
        stop_flag.set()
        for thread in threads:
            thread.join()
        failed = [status for status in statuses if status != 200]
        assert sent_before_kill > 0 and len(statuses) > sent_before_kill + 8, len(statuses)
        assert len(failed) <= 4, (failed, len(statuses))
        wait_until(lambda: worker_states(gw) == ["ready", "failed"], gw)
        health = gw.health()
        assert health["status"] == "degraded" and health["worker"] == "ready"
        assert f"127.0.0.1:{ports[1]}" in health["worker_error"]

        # While it is down, every request is answered by the other one.
        before = comparisons_done(ports[0])
        with gw.client(timeout=60) as client:
            assert [post(client) for _ in range(6)] == [200] * 6
        assert comparisons_done(ports[0]) == before + 6
        assert httpx.get(gw.base_url + "/health/ready").status_code == 200

        # Back on the same address: the gateway sends it requests again.
        with real_worker(log_dir, "pool-worker-1", ports[1]):
            wait_until(lambda: worker_states(gw) == ["ready", "ready"], gw)
            assert gw.health()["status"] == "ok"
            statuses.clear()
            threads = [threading.Thread(target=client_loop, args=(4,)) for _ in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert statuses == [200] * 16
            assert comparisons_done(ports[1]) > 0


def test_the_gateway_starts_two_local_workers_on_their_own_cores(log_dir: Path) -> None:
    with running_service(
        log_dir, "local-workers", until_worker_ready=False, cnn_methods="", local_workers="2"
    ) as gw:
        wait_until(lambda: worker_states(gw) == ["ready", "ready"], gw)
        workers = gw.health()["workers"]
        pids = [worker["pid"] for worker in workers]
        assert len(set(pids)) == 2 and None not in pids
        cores = [os.sched_getaffinity(pid) for pid in pids]
        if len(os.sched_getaffinity(0)) >= 2:
            assert not cores[0] & cores[1], cores  # disjoint shares
        with gw.client(timeout=60) as client:
            assert [post(client) for _ in range(4)] == [200] * 4
        assert sum(worker["forwarded"] for worker in gw.health()["workers"]) >= 4


def test_workers_found_by_dns_name(log_dir: Path) -> None:
    """``ISC_WORKER_DNS``: each address the name resolves to is one worker (here ``localhost``,
    which this machine resolves to 127.0.0.1 only)."""
    port = free_port()
    with (
        real_worker(log_dir, "dns-worker", port),
        running_service(
            log_dir,
            "dns-gateway",
            until_worker_ready=False,
            worker_dns=f"localhost:{port}",
            worker_dns_refresh_s="0.5",
        ) as gw,
    ):
        wait_until(lambda: worker_states(gw) == ["ready"], gw)
        assert [worker["url"] for worker in gw.health()["workers"]] == [f"http://127.0.0.1:{port}"]
        with gw.client(timeout=60) as client:
            assert post(client) == 200
        assert comparisons_done(port) == 1
