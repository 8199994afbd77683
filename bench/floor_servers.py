"""The architecture's floor: the service's two HTTP hops with nothing done at either end.

A relay (FastAPI: two uploaded files and a form field in, like ``POST /api/v1/compare``) sends
both files as one raw body with a shared ``httpx.AsyncClient`` to an echo (FastAPI), which
answers with as many JSON bytes as the real service answered, and the relay passes that answer
on. Two processes, the same servers and clients as the gateway and the worker, no checks, no
decoding, no model: whatever the real service adds above this is its own doing; this much any
gateway-plus-worker design pays on this machine. Run by ``bench/run.py``; not part of the
product.

    python bench/floor_servers.py echo --port 8202
    python bench/floor_servers.py relay --port 8201 --echo-url http://127.0.0.1:8202/echo
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import httpx
import uvicorn
from fastapi import FastAPI, File, Form, Query, Request, Response, UploadFile
from starlette.formparsers import MultiPartParser


def create_relay(echo_url: str) -> FastAPI:
    MultiPartParser.spool_max_size = 64 * 1024 * 1024  # in memory, as in the gateway
    clients: dict[str, httpx.AsyncClient] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient(timeout=60) as client:
            clients["echo"] = client
            yield

    app = FastAPI(lifespan=lifespan)

    @app.post("/compare")
    async def compare(
        image_a: Annotated[UploadFile, File()],
        image_b: Annotated[UploadFile, File()],
        method: Annotated[str, Form()],
        answer_bytes: Annotated[int, Form(ge=2)],
    ) -> Response:
        body = await image_a.read() + await image_b.read()
        answer = await clients["echo"].post(
            echo_url,
            params={"method": method, "answer_bytes": answer_bytes},
            content=body,
            headers={"Content-Type": "application/octet-stream"},
        )
        return Response(answer.content, media_type="application/json")

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok"}

    return app


def create_echo() -> FastAPI:
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request, answer_bytes: Annotated[int, Query(ge=2)]) -> Response:
        await request.body()
        return Response(b'"' + b"x" * (answer_bytes - 2) + b'"', media_type="application/json")

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok"}

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["relay", "echo"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--echo-url", default="")
    args = parser.parse_args()
    app = create_relay(args.echo_url) if args.role == "relay" else create_echo()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
