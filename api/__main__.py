"""Run the service: ``python -m api`` (or ``isc-gateway``) starts the gateway, which starts its
own worker."""

from __future__ import annotations

import logging

import uvicorn

from shared.cli import parser
from shared.settings import get_settings


def main(argv: list[str] | None = None) -> None:
    """Serve the gateway on ISC_HOST:ISC_PORT (default http://127.0.0.1:8000)."""
    parser(
        "isc-gateway",
        "Image Similarity Checker gateway: serves the API and the page on ISC_HOST:ISC_PORT "
        "and starts its own model worker (or uses the one at ISC_WORKER_URL). It takes no "
        "options; configure it with the environment variables below.",
    ).parse_args(argv)
    settings = get_settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s gateway %(name)s %(message)s"
    )
    if logging.getLogger().level > logging.DEBUG:
        # httpx logs every hop to the worker at INFO, repeating our access log line.
        logging.getLogger("httpx").setLevel(logging.WARNING)
    # Imported only once the command line is read: --help needs none of the app.
    from api.app import create_app
    from api.process import configure_process

    configure_process(settings)
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
