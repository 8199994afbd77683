"""Objects the routes need, taken from the app state (set up once in the lifespan)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.supervisor import WorkerSupervisor
from api.worker_client import WorkerClient
from shared.settings import Settings


def get_app_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    return request.app.state.settings


def get_worker(request: Request) -> WorkerClient:
    """The shared worker client."""
    return request.app.state.worker


def get_supervisor(request: Request) -> WorkerSupervisor:
    """The worker supervisor."""
    return request.app.state.supervisor


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
WorkerDep = Annotated[WorkerClient, Depends(get_worker)]
SupervisorDep = Annotated[WorkerSupervisor, Depends(get_supervisor)]
