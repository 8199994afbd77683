"""The worker's JSON answer, passed on to the client as the worker wrote it.

Parsing and re-serialising a result only to add the gateway's time cost ~8 ms of event-loop
time on a 6.5 MB compare-all answer. Instead the worker leaves ``timings.total_ms`` as ``null``
and ``timings`` is the last field of both result models, so that placeholder is the last
``"total_ms":null`` of the body, right after ``worker_ms``, within its last few hundred bytes.
The gateway reads both there and sends the body as two chunks: the untouched head (a
memoryview: nothing copied) and the short tail with the number written in. The times also go
in a ``Server-Timing`` header.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

TAIL_BYTES = 1024
"""How far from the end the top-level timings are looked for (they take about 250 bytes)."""

_TIMINGS_TAIL = re.compile(rb'"worker_ms"\s*:\s*(-?[0-9][0-9.eE+-]*)\s*,\s*"total_ms"\s*:\s*(null)')


@dataclass(frozen=True)
class WorkerAnswer:
    """A successful worker answer: its bytes, and what the gateway needs from its tail."""

    body: bytes
    worker_ms: float | None
    placeholder: slice | None
    """Where the ``null`` of the top-level ``timings.total_ms`` is, when the worker left one."""

    @classmethod
    def from_body(cls, body: bytes) -> WorkerAnswer:
        """Find the top-level timings in the tail; nothing before it is looked at."""
        found = list(_TIMINGS_TAIL.finditer(body, max(0, len(body) - TAIL_BYTES)))
        if not found:
            return cls(body, None, None)
        last = found[-1]  # the top level's: nested results of method=all have their own timings
        return cls(body, float(last.group(1)), slice(*last.span(2)))

    def chunks(self, total_ms: float) -> list[bytes | memoryview]:
        """The body with ``total_ms`` written into its placeholder, as a head and a tail."""
        if self.placeholder is None:
            return [self.body]
        start, end = self.placeholder.start, self.placeholder.stop
        tail = b"%s%s" % (repr(total_ms).encode(), self.body[end:])
        return [memoryview(self.body)[:start], tail]

    def response(self, total_ms: float) -> ChunkedResponse:
        """The client's answer: the worker's JSON with the gateway's time, plus Server-Timing."""
        timing = f'gateway;dur={total_ms:.3f};desc="receipt to answer"'
        if self.worker_ms is not None:
            timing += f', worker;dur={self.worker_ms:.3f};desc="inside the worker"'
        return ChunkedResponse(self.chunks(total_ms), headers={"Server-Timing": timing})


class ChunkedResponse(Response):
    """A 200 JSON response sent as the given chunks, in order, with their total length."""

    media_type = "application/json"

    def __init__(
        self, chunks: Sequence[bytes | memoryview], headers: Mapping[str, str] | None = None
    ) -> None:
        self.chunks = chunks
        self.status_code = 200
        self.background = None
        self.body = b""  # never sent: the chunks are
        length = sum(len(chunk) for chunk in chunks)
        self.init_headers({**(headers or {}), "Content-Length": str(length)})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        last = len(self.chunks) - 1
        for index, chunk in enumerate(self.chunks):
            await send({"type": "http.response.body", "body": chunk, "more_body": index < last})
