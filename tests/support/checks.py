"""Assertions shared by the integration tests."""

from __future__ import annotations

import base64
import io

import httpx
from PIL import Image


def decode_data_url_png(url: str) -> Image.Image:
    """The PNG inside a ``data:image/png;base64,`` URL."""
    prefix = "data:image/png;base64,"
    assert url.startswith(prefix)
    image = Image.open(io.BytesIO(base64.b64decode(url[len(prefix) :])))
    assert image.format == "PNG"
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
    assert len(body["error"]["message"]) > 10
    return body["error"]
