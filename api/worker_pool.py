"""Every worker behind the gateway, and which one takes the next request.

One supervisor per worker (``api.supervisor``): N embedded ones the gateway starts itself
(``ISC_LOCAL_WORKERS``), or external ones given by URL (``ISC_WORKER_URL``, ``ISC_WORKER_URLS``)
or found by DNS (``ISC_WORKER_DNS``: every address of a name such as a Kubernetes headless
Service, resolved again every ``ISC_WORKER_DNS_REFRESH_S``). A request goes to the reachable
worker with the fewest requests in flight: a worker busy with a slow CNN comparison gets fewer
new ones than an idle one, which round-robin would not see. The pool also answers what the
routes ask a single supervisor (state, error, restarts, pid), summed up over the workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import socket
from collections.abc import Iterable

from api.supervisor import WorkerSupervisor
from shared.schemas import WorkerReport, WorkerState
from shared.settings import Settings

log = logging.getLogger(__name__)

_STATE_ORDER = (
    WorkerState.READY,
    WorkerState.STARTING,
    WorkerState.RESTARTING,
    WorkerState.FAILED,
    WorkerState.STOPPED,
)


def usable_cores() -> list[int]:
    """The cores this process may run on (the workers it starts inherit them)."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def split_cores(cores: list[int], parts: int) -> list[list[int] | None]:
    """Disjoint shares of ``cores``, one per local worker (None: no pinning, fewer cores than
    workers). Contiguous, so that on a host with SMT siblings numbered apart nothing is lost
    compared to interleaving, and a worker's pair runner still finds two cores where it can."""
    if parts <= 1 or len(cores) < parts:
        return [None] * parts
    size, extra = divmod(len(cores), parts)
    shares: list[list[int] | None] = []
    start = 0
    for index in range(parts):
        end = start + size + (1 if index < extra else 0)
        shares.append(cores[start:end])
        start = end
    return shares


def _url_for(address: str, port: int) -> str:
    return f"http://[{address}]:{port}" if ":" in address else f"http://{address}:{port}"


class WorkerPool:
    """The workers, their states, and the choice of one per request."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.members: list[WorkerSupervisor] = []
        self._dns_task: asyncio.Task[None] | None = None
        self._dns_error: str | None = None
        self._turn = itertools.count()  # breaks ties between equally loaded workers
        urls = settings.worker_url_list()
        if urls:
            self.members = [WorkerSupervisor(settings, url) for url in urls]
        elif not settings.worker_dns:
            count = settings.local_workers
            threads = max(1, -(-settings.worker_threads // count))  # ceil: none gets 0
            env = {"ISC_WORKER_THREADS": str(threads)} if count > 1 else {}
            base_port = settings.worker_port
            self.members = [
                WorkerSupervisor(
                    settings, env=env, cores=share, port=base_port + index if base_port else 0
                )
                for index, share in enumerate(split_cores(usable_cores(), count))
            ]

    @property
    def embedded(self) -> bool:
        """Whether the gateway runs its workers itself."""
        return any(member.embedded for member in self.members)

    async def start(self) -> None:
        """Start supervising every worker (and resolving the DNS name); returns at once."""
        for member in self.members:
            await member.start()
        if self.settings.worker_dns:
            self._dns_task = asyncio.create_task(self._follow_dns(), name="worker-dns")

    async def stop(self) -> None:
        """Stop every worker's supervision (and the embedded workers)."""
        if self._dns_task is not None:
            self._dns_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._dns_task
        await asyncio.gather(*(member.stop() for member in self.members))

    # What the routes ask of "the worker": the pool as a whole.

    @property
    def reachable(self) -> bool:
        """Whether some worker may take a request now."""
        return any(member.reachable for member in self.members)

    @property
    def state(self) -> WorkerState:
        """The best state of any worker: ready as long as one is."""
        if not self.members:  # a DNS name not resolved yet, or resolved to nothing
            return WorkerState.FAILED if self._dns_error else WorkerState.STARTING
        states = {member.state for member in self.members}
        return next((state for state in _STATE_ORDER if state in states), WorkerState.FAILED)

    @property
    def error(self) -> str | None:
        """The first known reason why a worker is not ready (or why there are none)."""
        if not self.members:
            return self._dns_error or "no worker is configured"
        for member in self.members:
            if member.error:  # with several workers, it says which one
                named = len(self.members) == 1 or member.url in member.error
                return member.error if named else f"{member.url}: {member.error}"
        return None

    @property
    def all_ready(self) -> bool:
        """Whether every worker is ready (and there is one)."""
        return bool(self.members) and all(m.state is WorkerState.READY for m in self.members)

    @property
    def restarts(self) -> int:
        """Restarts of all the embedded workers together."""
        return sum(member.restarts for member in self.members)

    @property
    def pid(self) -> int | None:
        """The first embedded worker's process id (the only one with ISC_LOCAL_WORKERS=1)."""
        return next((member.pid for member in self.members if member.pid is not None), None)

    def reports(self) -> list[WorkerReport]:
        """One line per worker for ``/health``."""
        return [
            WorkerReport(
                url=member.url,
                state=member.state,
                pid=member.pid,
                restarts=member.restarts,
                error=member.error,
                in_flight=member.in_flight,
                forwarded=member.forwarded,
            )
            for member in self.members
        ]

    def pick(self, exclude: Iterable[object] = ()) -> WorkerSupervisor | None:
        """The reachable worker with the fewest requests in flight (ready ones before ones
        still starting), or None. Ties go round the workers in turn."""
        skipped = set(map(id, exclude))
        candidates = [m for m in self.members if m.reachable and id(m) not in skipped]
        if not candidates:
            return None
        turn = next(self._turn)
        count = len(candidates)
        return min(
            enumerate(candidates),
            key=lambda pair: (
                pair[1].state is not WorkerState.READY,
                pair[1].in_flight,
                (pair[0] - turn) % count,
            ),
        )[1]

    async def _follow_dns(self) -> None:
        """Resolve ``ISC_WORKER_DNS`` now and then: a new address becomes a worker, one that
        is gone stops being one (a pod scaled away or replaced)."""
        host, _, port_text = self.settings.worker_dns.rpartition(":")
        port = int(port_text)
        loop = asyncio.get_running_loop()
        while True:
            try:
                infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except OSError as exc:
                # Keep the workers known so far: a name server that hiccups is no reason to
                # drop every worker.
                self._dns_error = f"resolving {host} failed ({exc})"
                log.warning("%s", self._dns_error)
            else:
                self._dns_error = None if infos else f"{host} resolved to no address"
                await self._update({_url_for(str(info[4][0]), port) for info in infos})
            await asyncio.sleep(self.settings.worker_dns_refresh_s)

    async def _update(self, urls: set[str]) -> None:
        known = {member.url: member for member in self.members}
        for url in sorted(urls - known.keys()):
            member = WorkerSupervisor(self.settings, url)
            self.members.append(member)
            await member.start()
            log.info("worker found by DNS: %s", url)
        gone = [member for url, member in known.items() if url not in urls]
        for member in gone:
            self.members.remove(member)
            log.info("worker no longer in DNS: %s", member.url)
        await asyncio.gather(*(member.stop() for member in gone))
