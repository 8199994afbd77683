"""Start, watch and restart one model worker process (embedded mode), or track an external one.

The gateway never computes anything itself; it needs to know only whether a worker is there,
and where. An embedded worker is a child process on a free loopback port: if it dies, the
supervisor records why and starts a new one, waiting longer after each quick failure. Several
workers are several supervisors in a pool (``api.worker_pool``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx

from shared.schemas import WorkerState
from shared.settings import Settings

log = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class Probe:
    """One look at the worker's health: its state, or why it counts as not answering."""

    state: WorkerState | None
    problem: str | None = None


class WorkerSupervisor:
    """Knows where one worker is and what state it is in; owns it in embedded mode.

    ``url`` given: an external worker there; else the one of ``settings.worker_url``, or an
    embedded one when that is unset. An embedded worker gets ``env`` on top of the gateway's
    environment and runs on ``cores`` only (when given): how a pool of local workers splits the
    machine between them, each on its own ``port`` (0: a free one).
    """

    def __init__(
        self,
        settings: Settings,
        url: str | None = None,
        *,
        env: Mapping[str, str] | None = None,
        cores: list[int] | None = None,
        port: int | None = None,
    ) -> None:
        self.settings = settings
        external = url or settings.worker_url
        self.embedded = external is None
        self.url: str = external or ""
        self.env = dict(env or {})
        self.cores = cores
        self.port = settings.worker_port if port is None else port
        self.in_flight = 0  # requests this gateway has sent to it and not had answered yet
        self.forwarded = 0  # requests sent to it since the gateway started
        self.state = WorkerState.STARTING
        self.error: str | None = None
        # Why the supervisor itself stopped the current worker (start-up time-out, wedged):
        # the exit code that follows is only the echo of that signal, never the cause.
        self._cause: str | None = None
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
        return self.state in (WorkerState.STARTING, WorkerState.READY) and self._answered

    def mark_unreachable(self, why: str) -> None:
        """A connection to it failed: send it nothing more until its health check passes
        again (the supervision loop probes it and brings it back)."""
        self._answered = False
        self.error = f"the worker at {self.url}: {why}"
        if not self.embedded:
            self.state = WorkerState.FAILED

    async def start(self) -> None:
        """Begin supervising; returns at once (the worker starts in the background)."""
        self._task = asyncio.create_task(self._supervise(), name="worker-supervisor")

    async def stop(self) -> None:
        """Stop the worker (embedded) and the supervision."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self._terminate()
        self.state = WorkerState.STOPPED

    async def _supervise(self) -> None:
        """Run the supervision loop for as long as the gateway runs: an unexpected error in it
        is logged and the loop starts again, so the state never freezes silently."""
        while not self._stopping:
            try:
                await (self._run_embedded() if self.embedded else self._watch_external())
            except Exception as exc:
                log.exception("worker supervision failed; starting it again")
                self.state = WorkerState.FAILED
                self.error = self.error or f"worker supervision failed: {exc!r}"
                self._answered = False
                await self._terminate()
                await asyncio.sleep(self.settings.worker_restart_backoff_s)
            else:
                return

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
            self.error = self._cause or f"the worker process exited with code {returncode}"
            log.warning("%s (exit code %s); restarting in %.1f s", self.error, returncode, backoff)
            self.state = WorkerState.RESTARTING
            if time.monotonic() - started > STABLE_AFTER_S:
                backoff = self.settings.worker_restart_backoff_s
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)
            self.restarts += 1

    async def _spawn(self) -> None:
        host = self.settings.worker_host
        port = self.port or free_loopback_port(host)
        self.url = f"http://{host}:{port}"
        self.state = WorkerState.STARTING
        self._cause = None
        env = {**os.environ, **self.env} if self.env else None
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
            preexec_fn=_child_setup(self.cores),
            env=env,
        )
        log.info("worker started, pid %s, %s", self.process.pid, self.url)

    async def _poll_until_ready(self) -> None:
        """Poll the worker's health until it reports ready, it dies, or start-up times out."""
        timeout_s = self.settings.worker_start_timeout_s
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(base_url=self.url, timeout=2.0) as client:
            while self.process is not None and self.process.returncode is None:
                probe = await self._probe(client)
                if probe.state is not None:
                    self._answered = True
                if probe.state is WorkerState.READY:
                    self.state = WorkerState.READY
                    self.error = None
                    return
                if time.monotonic() > deadline:
                    self._cause = (
                        f"the worker did not become ready within {timeout_s:g} s "
                        f"(ISC_WORKER_START_TIMEOUT_S); it was stopped"
                    )
                    if probe.problem:
                        self._cause += f"; last health check: {probe.problem}"
                    self.error = self._cause
                    self.state = WorkerState.FAILED
                    await self._terminate()
                    return
                await asyncio.sleep(HEALTH_POLL_S)

    async def _watch_external(self) -> None:
        """For a worker someone else runs: follow its state, never start or stop it."""
        async with httpx.AsyncClient(base_url=self.url, timeout=2.0) as client:
            while not self._stopping:
                probe = await self._probe(client)
                self._answered = probe.state is not None
                if probe.state is None:
                    self.state = WorkerState.FAILED
                    self.error = f"the worker at {self.url} {probe.problem}"
                else:
                    self.state = probe.state
                    self.error = None
                await asyncio.sleep(1.0 if probe.state is WorkerState.READY else HEALTH_POLL_S)

    @staticmethod
    async def _probe(client: httpx.AsyncClient) -> Probe:
        """Ask the worker for its health. Anything but a JSON object with a ``state`` (a proxy's
        error page, another service on that port) counts as a worker that does not answer."""
        try:
            response = await client.get("/v1/health")
            response.raise_for_status()
        except httpx.HTTPStatusError as exc:
            return Probe(None, f"answers its health check with HTTP {exc.response.status_code}")
        except httpx.HTTPError as exc:
            return Probe(None, f"does not answer ({type(exc).__name__})")
        try:
            report = response.json()
        except ValueError:
            return Probe(None, "answers its health check with something that is not JSON")
        if not isinstance(report, dict) or not isinstance(report.get("state"), str):
            return Probe(None, "answers its health check without a worker state")
        ready = report["state"] == WorkerState.READY
        return Probe(WorkerState.READY if ready else WorkerState.STARTING)

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
                probe = await self._probe(client)
                # Also brings back a worker a failed connection had set aside.
                self._answered = probe.state is not None
                failures = 0 if probe.state is not None else failures + 1
                if failures >= WATCHDOG_FAILURES:
                    self._cause = (
                        f"the worker stopped answering its health check "
                        f"({failures} checks in a row: it {probe.problem}); it was killed"
                    )
                    log.error("%s", self._cause)
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


def _child_setup(cores: list[int] | None) -> Callable[[], None]:
    """What the worker's child process does before exec: die with the gateway, and keep to its
    share of the cores (TensorFlow and the pair runner size their threads to the cores a
    process may use)."""

    def setup() -> None:  # pragma: no cover - runs in the child before exec
        _die_with_parent()
        if cores and hasattr(os, "sched_setaffinity"):
            with contextlib.suppress(OSError):
                os.sched_setaffinity(0, set(cores))

    return setup


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Ask Linux to send SIGTERM to the worker when the gateway dies (PR_SET_PDEATHSIG)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)
    except OSError:
        pass
