"""The benchmark's baseline (bench/naive_server.py) behaves like the original app: the legacy
answer's keys, scikit-image's default SSIM at the smaller image's size, a JET heatmap of the grey
difference as a PNG data URL, and concurrent requests served in parallel threads. SSIM only, with
the networks built lazily, so TensorFlow is never loaded here."""

from __future__ import annotations

import base64
import io
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
from PIL import Image
from skimage.metrics import structural_similarity

from bench.naive_server import create_app, serve


@pytest.fixture(scope="module")
def baseline() -> Iterator[str]:
    server = serve(create_app(Path("/nonexistent"), lazy=True), 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        thread.join(10)


def encoded(pixels: np.ndarray, format: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=format)
    return buffer.getvalue()


def test_legacy_keys_default_ssim_at_the_smaller_size_and_a_jet_png_heatmap(baseline: str):
    rng = np.random.default_rng(3)
    small = rng.integers(0, 256, (120, 160), dtype=np.uint8)
    large = rng.integers(0, 256, (240, 320), dtype=np.uint8)
    response = httpx.post(
        baseline + "/compare",
        data={"model": "ssim"},
        files={
            "image1": ("a.png", encoded(large, "PNG")),
            "image2": ("b.png", encoded(small, "PNG")),
        },
        timeout=60,
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"similarity_score", "model_used", "heatmap_image"}
    assert body["model_used"] == "ssim"

    shrunk = cv2.resize(large, (160, 120))  # to the smaller image's width and height
    assert body["similarity_score"] == pytest.approx(structural_similarity(shrunk, small), abs=1e-9)
    gaussian = structural_similarity(shrunk, small, gaussian_weights=True, sigma=1.5)
    assert body["similarity_score"] != pytest.approx(gaussian, abs=1e-4)

    prefix = "data:image/png;base64,"
    assert body["heatmap_image"].startswith(prefix)
    png = base64.b64decode(body["heatmap_image"][len(prefix) :])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    heatmap = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    expected = cv2.applyColorMap(cv2.absdiff(shrunk, small), cv2.COLORMAP_JET)
    np.testing.assert_array_equal(heatmap, expected)


def ssim_threads() -> int:
    """How many threads are inside scikit-image's SSIM right now."""
    count = 0
    for frame in sys._current_frames().values():
        walker = frame
        while walker is not None:
            code = walker.f_code
            if code.co_name == "structural_similarity" and "skimage" in code.co_filename:
                count += 1
                break
            walker = walker.f_back
    return count


def test_two_requests_are_served_at_the_same_time(baseline: str):
    rng = np.random.default_rng(5)
    pairs = []
    for _ in range(2):
        base = cv2.resize(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8), (2048, 1536))
        noisy = np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)
        pairs.append((encoded(base, "JPEG"), encoded(noisy, "JPEG")))
    most = 0
    statuses: list[int] = []
    done = threading.Event()

    def watch() -> None:
        nonlocal most
        while not done.is_set():
            most = max(most, ssim_threads())
            time.sleep(0.0005)

    def post(pair: tuple[bytes, bytes]) -> None:
        files = {"image1": ("a.jpg", pair[0]), "image2": ("b.jpg", pair[1])}
        statuses.append(httpx.post(baseline + "/compare", files=files, timeout=120).status_code)

    watcher = threading.Thread(target=watch)
    watcher.start()
    clients = [threading.Thread(target=post, args=(pair,)) for pair in pairs]
    for client in clients:
        client.start()
    for client in clients:
        client.join(120)
    done.set()
    watcher.join()
    assert statuses == [200, 200]
    assert most == 2
