"""Run the service: ``python -m api`` starts the gateway, which starts its own worker."""

from __future__ import annotations

import logging

import uvicorn

from api.app import create_app
from shared.settings import get_settings


def main() -> None:
    """Serve the gateway on ISC_HOST:ISC_PORT (default http://127.0.0.1:8000)."""
    settings = get_settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s gateway %(name)s %(message)s"
    )
    if logging.getLogger().level > logging.DEBUG:
        # httpx logs every hop to the worker at INFO, repeating our access log line.
        logging.getLogger("httpx").setLevel(logging.WARNING)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=False,  # our own access log carries the request id and no client data
        timeout_graceful_shutdown=int(settings.shutdown_grace_s),
    )


if __name__ == "__main__":
    main()
