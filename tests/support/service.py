"""Start the real gateway (which starts the real worker) on a free loopback port."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.paths import REPO

START_TIMEOUT_S = 300.0


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Service:
    """A running gateway + worker pair."""

    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def client(self, timeout: float = 120.0) -> httpx.Client:
        """A fresh HTTP client for this service."""
        return httpx.Client(base_url=self.base_url, timeout=timeout)

    def compare(self, a: bytes, b: bytes, method: str, **fields: str) -> dict:
        """``POST /api/v1/compare`` with two PNG uploads; the answer's JSON, asserted 200."""
        with self.client() as client:
            response = client.post(
                "/api/v1/compare",
                files={"image_a": ("a.png", a), "image_b": ("b.png", b)},
                data={"method": method, **fields},
            )
        assert response.status_code == 200, response.text
        return response.json()

    def wait_until_precisions_settle(self, timeout: float = 600.0) -> dict[str, dict]:
        """Poll until every loaded CNN's precision is chosen (``auto`` measures it in the
        background after start-up and may then switch to bfloat16): until then a CNN's score
        could change between two requests by the switch alone."""
        deadline = time.monotonic() + timeout
        while True:
            methods = httpx.get(f"{self.base_url}/api/v1/methods", timeout=30).json()["methods"]
            reports = {m["name"]: m["precision"] for m in methods if m.get("precision")}
            if all(report["chosen_by"] != "pending" for report in reports.values()):
                return reports
            if time.monotonic() > deadline:
                raise TimeoutError(f"CNN precisions still being measured: {reports}")
            time.sleep(0.5)

    def health(self) -> dict:
        """The current ``/health`` report."""
        return httpx.get(f"{self.base_url}/health", timeout=10).json()

    def wait_for_worker(
        self, state: str = "ready", timeout: float = START_TIMEOUT_S, restarts: int = 0
    ) -> dict:
        """Poll ``/health`` until the worker reaches ``state`` after at least ``restarts``
        restarts: right after a worker was killed, ``/health`` may still say ``ready`` for the
        instant before the gateway has seen it exit."""
        deadline = time.monotonic() + timeout
        last: dict | str = "no answer"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gateway exited early:\n{self.log_tail()}")
            try:
                last = self.health()
                if last.get("worker") == state and last.get("worker_restarts", 0) >= restarts:
                    return last
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.25)
        raise TimeoutError(f"worker not {state} after {timeout} s: {last}\n{self.log_tail()}")

    def wait_until_live(self, timeout: float = START_TIMEOUT_S) -> None:
        """Poll ``/health/live`` until the gateway answers, whatever the worker's state."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gateway exited early:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.base_url + "/health/live").status_code == 200:
                    return
            time.sleep(0.1)
        raise TimeoutError(f"gateway not live after {timeout} s\n{self.log_tail()}")

    def log_tail(self, lines: int = 60) -> str:
        """The end of the service's log, for failure messages."""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def start_worker(
    log_path: Path, port: int, environment: Mapping[str, str]
) -> subprocess.Popen[bytes]:
    """``python -m worker`` alone on loopback ``port`` (no gateway), ``environment`` added to
    this process's, its output appended to ``log_path``."""
    env = {**os.environ, **environment}
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "worker", "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@contextmanager
def running_service(
    log_dir: Path,
    name: str,
    *,
    cwd: Path | None = None,
    environment: Mapping[str, str] | None = None,
    until_worker_ready: bool = True,
    **settings: str,
) -> Iterator[Service]:
    """Run ``python -m api`` with ``ISC_*`` settings until the block ends.

    Handed over once the worker is ready, or with ``until_worker_ready=False`` as soon as the
    gateway answers at all (for tests of start-up itself).

    ``cwd`` (default: the repository) and ``environment`` (added to this process's, e.g.
    ``TMPDIR``) reach the worker too, which the gateway starts with its own. Outside the
    repository the packages are found through ``PYTHONPATH``.
    """
    port = free_port()
    env = os.environ.copy()
    env.update(environment or {})
    if cwd is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.update(
        {
            "ISC_HOST": "127.0.0.1",
            "ISC_PORT": str(port),
            "ISC_ALLOW_WEIGHT_DOWNLOAD": "false",
            "ISC_LOG_LEVEL": "warning",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            # Precision measurements shared by this run's services (measured once per network
            # and configuration), never the user's own file.
            "ISC_CNN_TUNING_FILE": str(log_dir / "cnn-tuning.json"),
            # Collections in the test's own folder, never the user's data directory.
            "ISC_COLLECTIONS_DIR": str(log_dir / f"{name}-collections"),
        }
    )
    env.update({f"ISC_{key.upper()}": value for key, value in settings.items()})
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "api"],
            cwd=REPO if cwd is None else cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    service = Service(f"http://127.0.0.1:{port}", process, log_path)
    try:
        if until_worker_ready:
            service.wait_for_worker("ready")
        else:
            service.wait_until_live()
        yield service
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL the whole process group if it does not end."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=30)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
