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
    UPLOAD_TIMEOUT = "upload_timeout"
    TOO_MANY_REQUESTS = "too_many_requests"
    UNAUTHORIZED = "unauthorized"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    INTERNAL_ERROR = "internal_error"
    COLLECTION_NOT_FOUND = "collection_not_found"
    COLLECTION_EXISTS = "collection_exists"
    IMAGE_NOT_FOUND = "image_not_found"
    TOO_MANY_FILES = "too_many_files"
    THRESHOLD_REQUIRED = "threshold_required"
    WEIGHTS_MISMATCH = "weights_mismatch"


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


ERROR_STATUS: dict[ErrorCode, int] = {
    ErrorCode.MALFORMED_REQUEST: 400,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.FILE_TOO_LARGE: 413,
    ErrorCode.IMAGE_TOO_LARGE: 413,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.VALIDATION_ERROR: 422,
    ErrorCode.UNKNOWN_METHOD: 422,
    ErrorCode.EMPTY_FILE: 422,
    ErrorCode.IMAGE_TOO_SMALL: 422,
    ErrorCode.CORRUPT_IMAGE: 422,
    ErrorCode.UPLOAD_TIMEOUT: 408,
    ErrorCode.TOO_MANY_REQUESTS: 429,
    ErrorCode.INTERNAL_ERROR: 500,
    ErrorCode.METHOD_UNAVAILABLE: 503,
    ErrorCode.WORKER_UNAVAILABLE: 503,
    ErrorCode.WORKER_TIMEOUT: 504,
    ErrorCode.MODEL_TIMEOUT: 504,
    ErrorCode.COLLECTION_NOT_FOUND: 404,
    ErrorCode.COLLECTION_EXISTS: 409,
    ErrorCode.IMAGE_NOT_FOUND: 404,
    ErrorCode.TOO_MANY_FILES: 413,
    ErrorCode.THRESHOLD_REQUIRED: 422,
    ErrorCode.WEIGHTS_MISMATCH: 409,
}
"""The one HTTP status of each error code, on the gateway and on the worker alike."""


class ServiceError(Exception):
    """An error that becomes an ``ErrorResponse``; its HTTP status follows from its code."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        detail: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.detail = detail
        self.headers = headers

    def __reduce__(self) -> tuple[type[ServiceError], tuple[Any, ...]]:
        """Pickled whole (code, message, detail, headers): a pixel process raises it in the
        worker (``worker.pixel_processes``)."""
        return (type(self), (self.code, self.message, self.detail, self.headers))

    @property
    def status_code(self) -> int:
        """The HTTP status, from ``ERROR_STATUS``."""
        return ERROR_STATUS[self.code]

    def to_response(self) -> ErrorResponse:
        """The body to send for this error."""
        return ErrorResponse(
            error=ErrorInfo(code=self.code, message=self.message, detail=self.detail)
        )
