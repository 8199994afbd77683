"""Assertions shared by the integration tests."""

from __future__ import annotations

import base64
import io

import httpx
from PIL import Image

from shared.errors import ERROR_STATUS, ErrorCode


def decode_data_url(url: str, image_format: str = "jpeg") -> Image.Image:
    """The picture inside a ``data:image/<format>;base64,`` URL, checked to be that format."""
    prefix = f"data:image/{image_format};base64,"
    assert url.startswith(prefix), url[:40]
    image = Image.open(io.BytesIO(base64.b64decode(url[len(prefix) :])))
    assert image.format == image_format.upper()
    image.load()
    return image


def assert_error(response: httpx.Response, status: int, code: str) -> dict:
    """The response is our JSON error shape with this status and code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "detail"}
    assert body["error"]["code"] == code, body
    assert ERROR_STATUS[ErrorCode(code)] == status, f"{code} has one status: {ERROR_STATUS}"
    assert len(body["error"]["message"]) > 10
    return body["error"]
