"""Python client for the Image Similarity Checker service, and the ``isc`` command line.

    from isc_client import Client
    with Client("http://127.0.0.1:8000") as isc:
        result = isc.compare("a.jpg", "b.jpg", method="ssim")
        print(result.score, result.verdict, result.explanation)

Results are the service's own Pydantic models (``shared.schemas``); failures raise
``ISCError`` subclasses (``isc_client.errors``). No TensorFlow, NumPy or Pillow needed.
"""

from isc_client.client import DEFAULT_URL, AsyncClient, Client, __version__
from isc_client.errors import (
    APIError,
    InvalidInput,
    ISCError,
    RequestTimedOut,
    ServiceUnavailable,
    ServiceUnreachable,
    TooManyRequests,
    Unauthorized,
    UnexpectedAnswer,
)
from isc_client.retry import NO_RETRY, RetryPolicy
from isc_client.screenshot import ScreenshotOptions
from shared.errors import ErrorCode
from shared.schemas import (
    CompareAllResult,
    CompareResult,
    HealthResponse,
    HeatmapFormat,
    MethodsResponse,
    ScreenshotCheck,
    Verdict,
)

__all__ = [
    "DEFAULT_URL",
    "NO_RETRY",
    "APIError",
    "AsyncClient",
    "Client",
    "CompareAllResult",
    "CompareResult",
    "ErrorCode",
    "HealthResponse",
    "HeatmapFormat",
    "ISCError",
    "InvalidInput",
    "MethodsResponse",
    "RequestTimedOut",
    "RetryPolicy",
    "ScreenshotCheck",
    "ScreenshotOptions",
    "ServiceUnavailable",
    "ServiceUnreachable",
    "TooManyRequests",
    "Unauthorized",
    "UnexpectedAnswer",
    "Verdict",
    "__version__",
]
