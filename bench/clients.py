"""Concurrent HTTP clients for the benchmarks: distinct requests spread over a fixed number of
clients, each sending its next request as soon as its last one is answered."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx


async def post_many(
    url: str,
    fields: Callable[[int], dict],
    files: Callable[[int], Any],
    count: int,
    clients: int,
) -> tuple[float, list[float], list[dict]]:
    """``count`` requests from ``clients`` concurrent clients: wall time, latencies, bodies."""
    latencies: list[float] = []
    bodies: list[dict] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(count):
        queue.put_nowait(index)
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(timeout=600, limits=limits) as client:

        async def one_client() -> None:
            while not queue.empty():
                index = queue.get_nowait()
                start = time.perf_counter()
                response = await client.post(url, data=fields(index), files=files(index))
                latencies.append(time.perf_counter() - start)
                response.raise_for_status()
                bodies.append(response.json())

        started = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(clients)))
        return time.perf_counter() - started, latencies, bodies
