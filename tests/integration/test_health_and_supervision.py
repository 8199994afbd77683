"""Health probes and supervision: ``/health/live`` and ``/health/ready`` answer what a load
balancer needs, and ``/health`` keeps the first cause of a worker's failure.

The gateway and its worker are real processes; where the thing under test is the supervisor's
reaction to a misbehaving worker, a small HTTP server in the test plays an external worker."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from tests.support.checks import assert_error
from tests.support.paths import WEIGHTS
from tests.support.service import Service, free_port, running_service, start_worker, stop


def wait_for(service: Service, condition: Callable[[], bool], timeout: float = 60) -> None:
    """Poll ``condition`` (connection errors count as not yet) until it holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise RuntimeError(f"the process exited early:\n{service.log_tail()}")
        try:
            if condition():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"condition not met in {timeout} s\n{service.log_tail()}")


class FakeWorker:
    """An HTTP server that answers ``/v1/health`` with whatever the test sets in ``body``."""

    def __init__(self) -> None:
        self.body = b"<html>not a worker</html>"
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = fake.body
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def report(self, state: str) -> None:
        """From now on, answer as a real worker in ``state`` would."""
        self.body = json.dumps(
            {"state": state, "pid": 1, "models_loaded": [], "models_unavailable": {}, "methods": []}
        ).encode()

    def __enter__(self) -> FakeWorker:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_start_up_time_out_stays_the_reported_cause(log_dir: Path) -> None:
    with running_service(
        log_dir,
        "start-timeout",
        until_worker_ready=False,
        cnn_methods="",
        worker_start_timeout_s="0.2",
    ) as service:
        wait_for(service, lambda: service.health()["worker_restarts"] >= 1)
        health = service.health()
        live = httpx.get(service.base_url + "/health/live")
        ready = httpx.get(service.base_url + "/health/ready")
    assert health["status"] == "degraded"
    assert health["worker"] != "ready"
    assert "did not become ready within 0.2 s" in health["worker_error"], health
    assert "exited with code" not in health["worker_error"]
    assert live.status_code == 200 and live.json() == {"status": "live"}
    error = assert_error(ready, 503, "worker_unavailable")
    assert "did not become ready" in error["message"]
    assert ready.headers["Retry-After"]


def test_an_external_worker_answering_non_json_is_unhealthy_and_still_probed(
    log_dir: Path,
) -> None:
    with (
        FakeWorker() as fake,
        running_service(
            log_dir, "external-non-json", until_worker_ready=False, worker_url=fake.url
        ) as service,
    ):
        wait_for(service, lambda: service.health()["worker"] == "failed")
        broken = service.health()
        assert "not JSON" in broken["worker_error"], broken
        assert broken["status"] == "degraded"
        assert_error(httpx.get(service.base_url + "/health/ready"), 503, "worker_unavailable")

        fake.report("starting")  # the supervisor is still watching: it sees the change
        wait_for(service, lambda: service.health()["worker"] == "starting")
        starting = httpx.get(service.base_url + "/health/ready")
        assert_error(starting, 503, "worker_unavailable")
        assert starting.json()["error"]["detail"]["worker_state"] == "starting"
        assert service.health()["status"] == "degraded"

        fake.report("ready")
        wait_for(service, lambda: service.health()["worker"] == "ready")
        ready = httpx.get(service.base_url + "/health/ready")
        assert ready.status_code == 200 and ready.json() == {"status": "ready"}
        health = service.health()
        assert health["status"] == "ok" and health["worker_error"] is None


def test_probes_and_health_of_a_ready_embedded_worker(log_dir: Path) -> None:
    with running_service(log_dir, "probes", cnn_methods="") as service:
        live = httpx.get(service.base_url + "/health/live")
        ready = httpx.get(service.base_url + "/health/ready")
        health = httpx.get(service.base_url + "/health")
    assert live.status_code == 200 and live.json() == {"status": "live"}
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}
    assert health.status_code == 200
    assert health.json()["status"] == "ok" and health.json()["worker"] == "ready"


def test_the_worker_is_ready_only_once_its_models_are_loaded(log_dir: Path) -> None:
    """What the compose healthcheck of a worker run on its own waits for."""
    port = free_port()
    environment = {
        "ISC_CNN_METHODS": "mobilenet_v2",
        "ISC_WEIGHTS_DIR": str(WEIGHTS),
        "ISC_CNN_RANDOM_INIT": "true",  # loads a network even without the shared weights
        "ISC_ALLOW_WEIGHT_DOWNLOAD": "false",
        "ISC_LOG_LEVEL": "warning",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    log_path = log_dir / "worker-readiness.log"
    process = start_worker(log_path, port, environment)
    worker = Service(f"http://127.0.0.1:{port}", process, log_path)
    answers: list[tuple[int, str]] = []

    def ready_now() -> bool:
        ready = httpx.get(worker.base_url + "/v1/health/ready")
        state = httpx.get(worker.base_url + "/v1/health").json()["state"]
        answers.append((ready.status_code, state))
        return ready.status_code == 200

    try:
        wait_for(worker, ready_now, timeout=300)
    finally:
        stop(process)
    assert answers[0] == (503, "starting"), answers[:3]  # TensorFlow takes seconds to load
    assert all(state == "ready" for status, state in answers if status == 200)
    assert answers[-1] == (200, "ready")
