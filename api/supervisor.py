"""Start, watch and restart the model worker process (embedded mode), or track an external one.

The gateway never computes anything itself; it needs to know only whether a worker is there,
and where. An embedded worker is a child process on a free loopback port: if it dies, the
supervisor records why and starts a new one, waiting longer after each quick failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import signal
import socket
import sys
import time
from typing import Literal

import httpx

from shared.settings import Settings

log = logging.getLogger(__name__)

WorkerState = Literal["starting", "ready", "failed", "restarting", "stopped"]
HEALTH_POLL_S = 0.25
STABLE_AFTER_S = 60.0  # a worker that stayed up this long resets the restart backoff
MAX_BACKOFF_S = 30.0
WATCHDOG_PERIOD_S = 5.0  # how often a ready worker's health is checked
WATCHDOG_TIMEOUT_S = 10.0  # health answers come from the event loop, never from model work
WATCHDOG_FAILURES = 6  # consecutive silent checks before a worker counts as wedged


def free_loopback_port(host: str) -> int:
    """A port that was free a moment ago on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class WorkerSupervisor:
    """Knows where the worker is and what state it is in; owns it in embedded mode."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.embedded = settings.worker_url is None
        self.url: str = settings.worker_url or ""
        self.state: WorkerState = "starting"
        self.error: str | None = None
        self.restarts = 0
        self.process: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._answered = False

    @property
    def pid(self) -> int | None:
        """The embedded worker's process id while it runs."""
        if self.process is not None and self.process.returncode is None:
            return self.process.pid
        return None

    @property
    def reachable(self) -> bool:
        """Whether requests may be forwarded now (the worker answered its health check)."""
        return self.state in ("starting", "ready") and self._answered

    async def start(self) -> None:
        """Begin supervising; returns at once (the worker starts in the background)."""
        self._task = asyncio.create_task(
            self._run_embedded() if self.embedded else self._watch_external(),
            name="worker-supervisor",
        )

    async def stop(self) -> None:
        """Stop the worker (embedded) and the supervision."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self._terminate()
        self.state = "stopped"

    async def _run_embedded(self) -> None:
        backoff = self.settings.worker_restart_backoff_s
        while not self._stopping:
            started = time.monotonic()
            await self._spawn()
            await self._poll_until_ready()
            assert self.process is not None
            returncode = await self._wait_or_unwedge(self.process)
            self._answered = False
            if self._stopping:
                return
            self.error = f"the worker process exited with code {returncode}"
            log.warning("%s; restarting in %.1f s", self.error, backoff)
            self.state = "restarting"
            if time.monotonic() - started > STABLE_AFTER_S:
                backoff = self.settings.worker_restart_backoff_s
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)
            self.restarts += 1

    async def _spawn(self) -> None:
        host = self.settings.worker_host
        port = self.settings.worker_port or free_loopback_port(host)
        self.url = f"http://{host}:{port}"
        self.state = "starting"
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "worker",
            "--host",
            host,
            "--port",
            str(port),
            # Its own session: a Ctrl+C in the terminal reaches the gateway, which then lets
            # in-flight requests finish before it stops the worker. The parent-death signal
            # makes sure a worker never outlives a gateway that was killed outright.
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        log.info("worker started, pid %s, %s", self.process.pid, self.url)

    async def _poll_until_ready(self) -> None:
        """Poll the worker's health until it reports ready, it dies, or start-up times out."""
        deadline = time.monotonic() + self.settings.worker_start_timeout_s
        async with httpx.AsyncClient(base_url=self.url, timeout=2.0) as client:
            while self.process is not None and self.process.returncode is None:
                state = await self._probe(client)
                if state is not None:
                    self._answered = True
                if state == "ready":
                    self.state = "ready"
                    self.error = None
                    return
                if time.monotonic() > deadline:
                    self.error = "the worker did not become ready in time; it was stopped"
                    self.state = "failed"
                    await self._terminate()
                    return
                await asyncio.sleep(HEALTH_POLL_S)

    async def _watch_external(self) -> None:
        """For a worker someone else runs: follow its state, never start or stop it."""
        async with httpx.AsyncClient(base_url=self.url, timeout=2.0) as client:
            while not self._stopping:
                state = await self._probe(client)
                self._answered = state is not None
                if state is None:
                    self.state = "failed"
                    self.error = f"the worker at {self.url} does not answer"
                else:
                    self.state = state
                    self.error = None
                await asyncio.sleep(1.0 if state == "ready" else HEALTH_POLL_S)

    @staticmethod
    async def _probe(client: httpx.AsyncClient) -> WorkerState | None:
        try:
            response = await client.get("/v1/health")
            response.raise_for_status()
        except httpx.HTTPError:
            return None
        state = response.json().get("state")
        return "ready" if state == "ready" else "starting"

    async def _wait_or_unwedge(self, process: asyncio.subprocess.Process) -> int:
        """Wait for the worker to exit; kill it if it stops answering its health check (a
        wedged worker is restarted like a dead one)."""
        failures = 0
        async with httpx.AsyncClient(base_url=self.url, timeout=WATCHDOG_TIMEOUT_S) as client:
            while True:
                try:
                    return await asyncio.wait_for(process.wait(), timeout=WATCHDOG_PERIOD_S)
                except TimeoutError:
                    pass
                failures = 0 if await self._probe(client) is not None else failures + 1
                if failures >= WATCHDOG_FAILURES:
                    log.error("worker does not answer its health check; killing it")
                    process.kill()

    async def _terminate(self) -> None:
        """SIGTERM (the worker finishes what it is doing), then SIGKILL after the grace."""
        process = self.process
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout=self.settings.shutdown_grace_s + 5)
        except TimeoutError:
            process.kill()
            await process.wait()


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Ask Linux to send SIGTERM to the worker when the gateway dies (PR_SET_PDEATHSIG)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)
    except OSError:
        pass
