"""Error handlers that give both HTTP apps (gateway and worker) the one ``ErrorResponse`` shape:
no route ever answers with a bare traceback or a framework-specific error body."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.errors import ErrorCode, ServiceError

log = logging.getLogger(__name__)

_FRAMEWORK_CODES = {
    400: ErrorCode.MALFORMED_REQUEST,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.FILE_TOO_LARGE,
}
"""The code of each status the framework itself raises; any other is a malformed request (4xx)
or an internal error (5xx), so that a code always has its one status."""


def error_json(error: ServiceError, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """The JSON response for ``error`` (with its own headers, e.g. Retry-After)."""
    return JSONResponse(
        error.to_response().model_dump(mode="json"),
        status_code=error.status_code,
        headers={**(error.headers or {}), **(headers or {})},
    )


def _validation_message(errors: list[dict[str, Any]]) -> tuple[ErrorCode, str]:
    """A sentence naming the first problem, and whether it is an unknown method."""
    first = errors[0] if errors else {}
    location = [str(part) for part in first.get("loc", ()) if part not in ("body", "query")]
    field = ".".join(location) or "request"
    if first.get("type") == "missing":
        return ErrorCode.VALIDATION_ERROR, f"The field '{field}' is required."
    if field in ("method", "model") and first.get("type") == "enum":
        expected = first.get("ctx", {}).get("expected", "")
        return ErrorCode.UNKNOWN_METHOD, f"Unknown method {first.get('input')!r}; use {expected}."
    if "Expected UploadFile" in str(first.get("msg", "")):
        return (
            ErrorCode.VALIDATION_ERROR,
            f"'{field}' must be sent as a file: a multipart part with a filename.",
        )
    return ErrorCode.VALIDATION_ERROR, f"Invalid '{field}': {first.get('msg', 'invalid value')}."


def install_error_handlers(app: FastAPI) -> None:
    """Map every exception a request can raise to an ``ErrorResponse``."""

    @app.exception_handler(ServiceError)
    async def _service_error(_: Request, exc: ServiceError) -> JSONResponse:
        return error_json(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {key: value for key, value in error.items() if key in ("type", "loc", "msg", "input")}
            | ({"ctx": {"expected": error["ctx"].get("expected")}} if "ctx" in error else {})
            for error in exc.errors()
        ]
        code, message = _validation_message(errors)
        detail = [
            {"loc": error.get("loc"), "msg": error.get("msg"), "type": error.get("type")}
            for error in errors
        ]
        return error_json(ServiceError(code, message, detail))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        fallback = (
            ErrorCode.INTERNAL_ERROR if exc.status_code >= 500 else ErrorCode.MALFORMED_REQUEST
        )
        code = _FRAMEWORK_CODES.get(exc.status_code, fallback)
        where = f"{request.method} {request.url.path}"
        message = {
            404: f"There is nothing at {where}; the API is described at /docs.",
            405: f"{where} is not allowed; the API is described at /docs.",
            400: f"{where}: the body could not be read ({exc.detail}); send multipart/form-data.",
        }.get(exc.status_code, f"{where}: {exc.detail}")
        return error_json(ServiceError(code, message), headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_json(
            ServiceError(
                ErrorCode.INTERNAL_ERROR,
                "The service hit an unexpected error; it has been logged. Please try again.",
                {"type": type(exc).__name__},
            )
        )
