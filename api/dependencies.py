"""Objects the routes need, taken from the app state (set up once in the lifespan).

Async on purpose: FastAPI runs a plain ``def`` dependency in a worker thread, a hand-off per
dependency per request for what is only an attribute lookup.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.worker_client import WorkerClient
from api.worker_pool import WorkerPool
from shared.settings import Settings


async def get_app_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    return request.app.state.settings


async def get_worker(request: Request) -> WorkerClient:
    """The shared worker client."""
    return request.app.state.worker


async def get_supervisor(request: Request) -> WorkerPool:
    """The workers (one supervisor each) behind the gateway."""
    return request.app.state.supervisor


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
WorkerDep = Annotated[WorkerClient, Depends(get_worker)]
SupervisorDep = Annotated[WorkerPool, Depends(get_supervisor)]
