"""Run the model worker on its own: ``python -m worker [--host H] [--port P]``."""

from __future__ import annotations

import argparse
import logging

import uvicorn

from shared.settings import get_settings
from worker.app import create_app


def main() -> None:
    """Start the worker's HTTP server (the gateway does this for you in embedded mode)."""
    settings = get_settings()
    parser = argparse.ArgumentParser(description="Image Similarity Checker model worker")
    parser.add_argument("--host", default=settings.worker_host)
    parser.add_argument("--port", type=int, default=settings.worker_port or 8001)
    args = parser.parse_args()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s worker %(levelname)s %(message)s"
    )
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_level=settings.log_level,
        access_log=False,  # the gateway logs each request with its id; uploads are never logged
        timeout_graceful_shutdown=int(settings.shutdown_grace_s),
    )


if __name__ == "__main__":
    main()
