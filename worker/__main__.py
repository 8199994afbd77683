"""Run the model worker on its own: ``python -m worker [--host H] [--port P]`` (or
``isc-worker``)."""

from __future__ import annotations

import logging

import uvicorn

from shared.cli import parser
from shared.settings import get_settings


def main(argv: list[str] | None = None) -> None:
    """Start the worker's HTTP server (the gateway does this for you in embedded mode)."""
    cli = parser(
        "isc-worker",
        "Image Similarity Checker model worker: holds the models and does the comparisons "
        "for a gateway. The gateway starts one by itself; run it on its own and point the "
        "gateway's ISC_WORKER_URL at it to place it elsewhere.",
    )
    cli.add_argument("--host", help="address to listen on (default: ISC_WORKER_HOST)")
    cli.add_argument(
        "--port", type=int, help="port to listen on (default: ISC_WORKER_PORT, or 8001 if 0)"
    )
    args = cli.parse_args(argv)
    settings = get_settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s worker %(levelname)s %(message)s"
    )
    # Imported only once the command line is read: --help needs none of the app.
    from worker.app import create_app
    from worker.process import configure_process

    configure_process(settings)
    uvicorn.run(
        create_app(settings),
        host=args.host or settings.worker_host,
        port=args.port or settings.worker_port or 8001,
        log_level=settings.log_level,
        access_log=False,  # the gateway logs each request with its id; uploads are never logged
        timeout_graceful_shutdown=int(settings.shutdown_grace_s),
    )


if __name__ == "__main__":
    main()
