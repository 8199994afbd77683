"""The exceptions the client raises: one base class to catch, and one subclass per kind of
failure a caller acts on differently (fix the input, wait, check the key, check the address).

An error the service answered carries its stable ``code`` (``shared.errors.ErrorCode``), its
``message`` for a person and its ``detail``, exactly as the service's ``ErrorResponse`` gave them.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import ValidationError

from shared.errors import ErrorCode, ErrorResponse


class ISCError(Exception):
    """Anything that kept a call from giving a result."""


class ServiceUnreachable(ISCError):
    """No answer at all: nothing listens at the address, the connection broke, or DNS failed."""


class RequestTimedOut(ISCError):
    """The service did not answer within the client's timeout (see ``Client(timeout=...)``)."""


class UnexpectedAnswer(ISCError):
    """A success status whose body is not the answer this call expects: usually ``base_url``
    points at some other server, or the service is of an incompatible version."""


class APIError(ISCError):
    """The service answered with an error: ``code`` says which (switch on it), ``message`` says
    what to do, ``status_code`` is the HTTP status. ``code`` is an ``ErrorCode`` when the service
    sent one this client knows, the raw string when it sent a newer one, and ``None`` when the
    body was not the service's error shape (a proxy's HTML page, for instance)."""

    def __init__(
        self,
        status_code: int,
        code: ErrorCode | str | None,
        message: str,
        detail: Any = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(f"{status_code} {code or 'error'}: {message}")
        self.status_code = status_code
        self.code = code
        self.message = message
        self.detail = detail
        self.retry_after_s = retry_after_s


class InvalidInput(APIError):
    """The request or an image was refused (4xx other than 401 and 429): fix it, do not retry."""


class Unauthorized(APIError):
    """401: the API key is missing or wrong (``Client(api_key=...)``, ``isc --api-key``)."""


class TooManyRequests(APIError):
    """429: the service is busy; raised once the retries allowed by ``RetryPolicy`` ran out."""


class ServiceUnavailable(APIError):
    """5xx: the worker is down, restarting or too slow, or the service failed."""


def _retry_after_of(response: httpx.Response) -> float | None:
    from isc_client.retry import parse_retry_after

    return parse_retry_after(response.headers.get("Retry-After"))


def error_from_response(response: httpx.Response) -> APIError:
    """The typed exception for an error answer, from its ``ErrorResponse`` body when it has one."""
    status = response.status_code
    code: ErrorCode | str | None = None
    detail: Any = None
    message = response.reason_phrase or f"HTTP {status}"
    try:
        error = ErrorResponse.model_validate_json(response.content).error
        code, message, detail = error.code, error.message, error.detail
    except ValidationError:
        try:
            raw = response.json()["error"]
            code, message, detail = str(raw["code"]), str(raw["message"]), raw.get("detail")
        except (ValueError, KeyError, TypeError):
            text = response.text.strip()
            if text:
                message = f"{message}: {text[:200]}"
    kind: type[APIError]
    if status == 401:
        kind = Unauthorized
    elif status == 429:
        kind = TooManyRequests
    elif status >= 500:
        kind = ServiceUnavailable
    else:
        kind = InvalidInput
    return kind(status, code, message, detail, _retry_after_of(response))
