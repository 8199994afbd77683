"""The one shape every error of the service has, on the gateway and on the worker."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ErrorCode(StrEnum):
    """Stable machine-readable error codes; clients may switch on these."""

    VALIDATION_ERROR = "validation_error"
    MALFORMED_REQUEST = "malformed_request"
    UNKNOWN_METHOD = "unknown_method"
    EMPTY_FILE = "empty_file"
    FILE_TOO_LARGE = "file_too_large"
    IMAGE_TOO_LARGE = "image_too_large"
    IMAGE_TOO_SMALL = "image_too_small"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    CORRUPT_IMAGE = "corrupt_image"
    METHOD_UNAVAILABLE = "method_unavailable"
    WORKER_UNAVAILABLE = "worker_unavailable"
    WORKER_TIMEOUT = "worker_timeout"
    MODEL_TIMEOUT = "model_timeout"
    TOO_MANY_REQUESTS = "too_many_requests"
    UNAUTHORIZED = "unauthorized"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    INTERNAL_ERROR = "internal_error"


class ErrorInfo(BaseModel):
    """What went wrong, for a program (``code``) and for a person (``message``)."""

    code: ErrorCode = Field(description="Stable machine-readable error code.")
    message: str = Field(description="What went wrong and what to do about it, in plain words.")
    detail: Any = Field(
        None, description="Extra structured context (e.g. which field, which limit)."
    )


class ErrorResponse(BaseModel):
    """Body of every 4xx and 5xx answer."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": {
                        "code": "file_too_large",
                        "message": "image_a is 31,457,280 bytes; the limit is 20,971,520 bytes.",
                        "detail": {"field": "image_a", "limit_bytes": 20971520},
                    }
                }
            ]
        }
    )

    error: ErrorInfo


class ServiceError(Exception):
    """An error that becomes an ``ErrorResponse`` with its HTTP status."""

    def __init__(
        self,
        status_code: int,
        code: ErrorCode,
        message: str,
        detail: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.detail = detail
        self.headers = headers

    def to_response(self) -> ErrorResponse:
        """The body to send for this error."""
        return ErrorResponse(
            error=ErrorInfo(code=self.code, message=self.message, detail=self.detail)
        )
