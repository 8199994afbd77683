"""The error answers each route can give, for the OpenAPI document."""

from __future__ import annotations

from typing import Any

from shared.errors import ErrorResponse

_DESCRIPTIONS = {
    400: "The body is not multipart/form-data (e.g. JSON), or not readable as such.",
    401: "An API key is configured and was not sent (X-API-Key); refused before the body is read.",
    413: "A file is over the byte limit, or an image over the pixel limit (decompression bomb).",
    415: "A file is not a readable image of a supported format.",
    422: "A field is missing or invalid, the method is unknown, or a file is empty, "
    "truncated, corrupt or too small for the method.",
    429: "Too many comparisons in progress (refused before the body is read); retry after "
    "the Retry-After header's seconds.",
    503: "The worker is not ready, or the method's model is not available (e.g. no weights).",
    504: "The worker or its model did not answer in time.",
}

COMPARE_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in _DESCRIPTIONS.items()
}
