"""When the worker or its models are missing, clients get 503/504 with a reason, never a hang."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.support.checks import assert_error
from tests.support.images import astronaut, jpeg
from tests.support.service import Service, running_service

GOOD = jpeg(astronaut())
PAIR = {"image_a": ("a.jpg", GOOD), "image_b": ("b.jpg", GOOD)}


def test_missing_weights_give_503_with_instructions(service_without_weights: Service) -> None:
    with service_without_weights.client() as client:
        response = client.post("/api/v1/compare", files=PAIR, data={"method": "vgg16"})
        methods = {m["name"]: m for m in client.get("/api/v1/methods").json()["methods"]}
        ssim = client.post("/api/v1/compare", files=PAIR, data={"method": "ssim"})
    error = assert_error(response, 503, "method_unavailable")
    assert "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5" in error["message"]
    assert "ISC_WEIGHTS_DIR" in error["message"]
    # No server folder, no exception name; and a missing file is not worth retrying soon.
    assert "/" not in error["message"] and "Exception" not in error["message"]
    assert "Retry-After" not in response.headers
    assert methods["vgg16"]["available"] is False
    assert methods["vgg16"]["state"] == "unavailable"
    assert "ISC_WEIGHTS_DIR" in methods["vgg16"]["reason"]
    assert methods["resnet50"]["available"] is False
    assert "not enabled" in methods["resnet50"]["reason"]
    assert ssim.status_code == 200  # SSIM still works
    health = service_without_weights.health()
    assert health["models_unavailable"]["vgg16"] == error["message"]
    assert health["worker"] == "ready"


def test_killed_worker_gives_503_then_the_service_recovers(log_dir) -> None:
    with running_service(
        log_dir, "kill", cnn_methods="", worker_restart_backoff_s="0.5"
    ) as service:
        worker_pid = service.health()["worker_pid"]
        os.kill(worker_pid, signal.SIGKILL)
        started = time.monotonic()
        with service.client(timeout=30) as client:
            response = client.post("/api/v1/compare", files=PAIR, data={"method": "ssim"})
        assert time.monotonic() - started < 10  # answered, not hung
        error = assert_error(response, 503, "worker_unavailable")
        assert "Try again" in error["message"]
        health = service.wait_for_worker("ready", timeout=60, restarts=1)
        assert health["worker_restarts"] == 1
        assert health["worker_pid"] != worker_pid
        with service.client() as client:
            again = client.post("/api/v1/compare", files=PAIR, data={"method": "ssim"})
        assert again.status_code == 200


def _pixel_processes_of(pid: int) -> set[int]:
    """The worker's children that compute comparisons without a CNN (multiprocessing spawn)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:  # gone meanwhile
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid and b"spawn_main" in command:
            found.add(int(entry.name))
    return found


def _gone(pids: set[int], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = set()
        for pid in pids:
            try:
                os.kill(pid, 0)
                alive.add(pid)
            except ProcessLookupError:
                pass
        if not alive:
            return True
        time.sleep(0.2)
    return False


def test_pixel_processes_end_with_their_worker_even_when_it_is_killed(log_dir) -> None:
    with running_service(
        log_dir, "kill-children", cnn_methods="", worker_restart_backoff_s="0.5"
    ) as service:
        worker_pid = service.health()["worker_pid"]
        with service.client() as client:
            assert client.post("/api/v1/compare", files=PAIR, data={"method": "ssim"}).is_success
        children = _pixel_processes_of(worker_pid)
        assert len(children) == 4  # two per core on these 2-core machines (ISC_PIXEL_PROCESSES)
        os.kill(worker_pid, signal.SIGKILL)
        assert _gone(children, timeout=10), "orphaned pixel processes"


def test_a_dead_pixel_process_costs_one_request_at_most(log_dir) -> None:
    with running_service(log_dir, "kill-child", cnn_methods="", pixel_processes="2") as service:
        worker_pid = service.health()["worker_pid"]
        with service.client() as client:
            assert client.post("/api/v1/compare", files=PAIR, data={"method": "ssim"}).is_success
            children = _pixel_processes_of(worker_pid)
            assert len(children) == 2
            os.kill(min(children), signal.SIGKILL)
            time.sleep(0.5)
            first = client.post("/api/v1/compare", files=PAIR, data={"method": "ms_ssim"})
            if not first.is_success:
                error = assert_error(first, 503, "worker_unavailable")
                assert first.headers["Retry-After"]
                assert "restarted" in error["message"]
            again = client.post("/api/v1/compare", files=PAIR, data={"method": "pixel"})
        assert again.status_code == 200
        assert service.health()["worker_pid"] == worker_pid  # the worker itself lived on
        assert _gone(children, timeout=10)  # the old pool's other child was stopped too


def test_worker_timeout_gives_504(log_dir) -> None:
    with running_service(log_dir, "timeout", cnn_methods="", worker_timeout_s="0.001") as service:
        with service.client() as client:
            response = client.post("/api/v1/compare", files=PAIR, data={"method": "ssim"})
        assert_error(response, 504, "worker_timeout")
        assert service.health()["worker"] == "ready"


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT])
def test_gateway_stops_its_worker_on_shutdown(log_dir, signal_number: int) -> None:
    with running_service(log_dir, f"shutdown-{signal_number}", cnn_methods="") as service:
        worker_pid = service.health()["worker_pid"]
        service.process.send_signal(signal_number)
        service.process.wait(timeout=30)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(worker_pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    pytest.fail("the worker outlived the gateway")
