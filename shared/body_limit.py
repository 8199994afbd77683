"""Refuse oversized request bodies before they are parsed or buffered.

Uvicorn accepts bodies of any size; without this, a multi-gigabyte upload would be read in full
before the per-file size check could run. Declared lengths are refused at once (and, within the
limit, trusted: the server reads no more than they declare); streamed (chunked) bodies are
counted as they arrive.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import ErrorCode, ServiceError
from shared.http_errors import error_json


class _BodyTooLargeError(Exception):
    pass


class BodySizeLimitMiddleware:
    """ASGI middleware: 413 for any request body over ``max_body_bytes``."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    def _error(self) -> ServiceError:
        return ServiceError(
            ErrorCode.FILE_TOO_LARGE,
            f"The request body is larger than the limit of {self.max_body_bytes:,} bytes.",
            {"limit_bytes": self.max_body_bytes},
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit():
            if int(declared) > self.max_body_bytes:
                await error_json(self._error(), headers={"Connection": "close"})(
                    scope, receive, send
                )
            else:
                # The server reads no more than the declared length: nothing left to count.
                await self.app(scope, receive, send)
            return

        received = 0
        exceeded = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    exceeded = True
                    raise _BodyTooLargeError
            return message

        async def guarded_send(message: Message) -> None:
            if not exceeded:  # once over the limit, the app's own answer is replaced
                await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded:
            await error_json(self._error(), headers={"Connection": "close"})(scope, receive, send)
