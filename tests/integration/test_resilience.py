"""Faults, load and hostile input: the service answers every request with a status a client can
act on, recovers by itself, and shows what it is doing."""

from __future__ import annotations

import base64
import io
import os
import re
import signal
import socket
import struct
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

import cv2
import httpx
import numpy as np
import pytest
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from tests.support.checks import assert_error
from tests.support.images import astronaut, coffee, jpeg, png
from tests.support.service import Service, running_service


def _big_pair() -> dict:
    """Two 2048x1536 photos: slow enough (a second or more for method=all) to be caught in
    flight."""
    a = cv2.resize(coffee(), (2048, 1536), interpolation=cv2.INTER_CUBIC)
    b = cv2.GaussianBlur(a, (0, 0), 2)
    return {"image_a": ("a.png", png(a)), "image_b": ("b.png", png(b))}


def _post_in_background(service: Service, files: dict, method: str = "all") -> dict:
    """Start a comparison on a thread; the dict gets 'response' when it is answered."""
    outcome: dict = {}

    def run() -> None:
        with service.client(timeout=120) as client:
            outcome["response"] = client.post(
                "/api/v1/compare", files=files, data={"method": method}
            )

    outcome["thread"] = threading.Thread(target=run)
    outcome["thread"].start()
    return outcome


def _wait_until_busy(service: Service, timeout: float = 20) -> None:
    """Until the gateway has a comparison in flight (read from /metrics)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = httpx.get(service.base_url + "/metrics", timeout=10).text
        if "isc_gateway_inflight_comparisons 1.0" in text:
            time.sleep(0.3)  # let the worker start on it
            return
        time.sleep(0.05)
    raise TimeoutError("no comparison in flight")


def _start_upload(service: Service, path: str = "/api/v1/compare", key: str = "") -> socket.socket:
    """Send a comparison's headers, declaring a 30 MB body, and only its first bytes."""
    host, port = service.base_url.removeprefix("http://").split(":")
    connection = socket.create_connection((host, int(port)), timeout=10)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 30000000\r\n"
        + (f"X-API-Key: {key}\r\n" if key else "")
        + "\r\n"
    )
    connection.sendall(head.encode() + b"--x\r\n")
    return connection


def _status_within(connection: socket.socket, seconds: float = 5.0) -> int:
    """The status line's code, which must come while the body is still unsent."""
    connection.settimeout(seconds)
    received = b""
    while b"\r\n" not in received:
        chunk = connection.recv(4096)  # socket.timeout here: the gateway waited for the body
        assert chunk, f"closed without an answer: {received!r}"
        received += chunk
    return int(received.split(b" ", 2)[1])


def _wait_for_metric(service: Service, line: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while line not in httpx.get(service.base_url + "/metrics", timeout=10).text:
        assert time.monotonic() < deadline, f"never saw {line!r}"
        time.sleep(0.05)


def test_worker_killed_during_a_request_gives_503_and_recovers(log_dir) -> None:
    with running_service(
        log_dir, "kill-during", cnn_methods="", worker_restart_backoff_s="0.5"
    ) as service:
        worker_pid = service.health()["worker_pid"]
        pending = _post_in_background(service, _big_pair())
        _wait_until_busy(service)
        os.kill(worker_pid, signal.SIGKILL)
        pending["thread"].join(timeout=60)
        error = assert_error(pending["response"], 503, "worker_unavailable")
        assert "Try again" in error["message"]
        assert pending["response"].headers["Retry-After"] == "1"
        health = service.wait_for_worker("ready", timeout=60, restarts=1)
        assert health["worker_restarts"] == 1
        with service.client() as client:
            again = client.post(
                "/api/v1/compare",
                files={"image_a": ("a", jpeg(astronaut())), "image_b": ("b", jpeg(astronaut()))},
                data={"method": "ssim"},
            )
        assert again.status_code == 200
        assert "isc_gateway_worker_restarts 1.0" in httpx.get(service.base_url + "/metrics").text


def test_a_stalled_upload_gets_408_and_gives_its_slot_back(log_dir) -> None:
    with running_service(
        log_dir, "stalled", cnn_methods="", max_inflight="1", upload_timeout_s="1"
    ) as service:
        started = time.monotonic()
        with _start_upload(service) as stalled:  # declares 30 MB, sends a few bytes, stops
            assert _status_within(stalled, 10.0) == 408
        assert 0.9 < time.monotonic() - started < 8
        _wait_for_metric(service, "isc_gateway_inflight_comparisons 0.0")
        with service.client() as client:
            answer = client.post("/api/v1/compare", files=_big_pair(), data={"method": "ssim"})
        assert answer.status_code == 200, answer.text  # the slot came back


def test_full_queue_answers_429_with_retry_after(log_dir) -> None:
    with running_service(log_dir, "queue", cnn_methods="", max_inflight="1") as service:
        # The slot is taken before the body is read: a slow upload holds it, and the next
        # comparison is refused from its headers alone, its body never waited for.
        slow = _start_upload(service)
        _wait_for_metric(service, "isc_gateway_inflight_comparisons 1.0")
        with _start_upload(service) as refused_early, _start_upload(service, "/compare") as legacy:
            assert _status_within(refused_early) == 429
            assert _status_within(legacy) == 429
        slow.close()  # the client gives up: its slot comes back
        _wait_for_metric(service, "isc_gateway_inflight_comparisons 0.0")

        files = _big_pair()

        def post(_: int) -> httpx.Response:
            with service.client(timeout=120) as client:
                return client.post("/api/v1/compare", files=files, data={"method": "all"})

        with ThreadPoolExecutor(6) as pool:
            responses = list(pool.map(post, range(6)))
        statuses = sorted(r.status_code for r in responses)
        assert 200 in statuses and 429 in statuses
        assert set(statuses) <= {200, 429}
        refused = next(r for r in responses if r.status_code == 429)
        assert_error(refused, 429, "too_many_requests")
        assert refused.headers["Retry-After"] == "1"
        metrics = httpx.get(service.base_url + "/metrics").text
        assert 'isc_gateway_rejected_total{reason="queue_full"}' in metrics


def test_sigterm_lets_the_request_in_flight_finish(log_dir) -> None:
    with running_service(log_dir, "sigterm", cnn_methods="") as service:
        worker_pid = service.health()["worker_pid"]
        pending = _post_in_background(service, _big_pair())
        _wait_until_busy(service)
        service.process.send_signal(signal.SIGTERM)
        pending["thread"].join(timeout=120)
        assert pending["response"].status_code == 200
        assert len(pending["response"].json()["results"]) == 4
        service.process.wait(timeout=60)
    with pytest.raises(ProcessLookupError):
        for _ in range(100):
            os.kill(worker_pid, 0)
            time.sleep(0.1)


# ---- hostile input -------------------------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares an enormous image."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\0" * 16)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", pixels)
        + _png_chunk(b"IEND", b"")
    )


def _bit_flipped(data: bytes, flips: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    corrupted = bytearray(data)
    for position in rng.integers(64, len(corrupted), flips):
        corrupted[position] ^= 1 << int(rng.integers(0, 8))
    return bytes(corrupted)


def _animated_gif(frames: int) -> bytes:
    images = [Image.new("P", (32, 32), index % 256) for index in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=10)
    return buffer.getvalue()


def _text_bomb_png() -> bytes:
    """A valid small PNG carrying a compressed text chunk that inflates to 100 MB."""
    base = png(np.zeros((16, 16, 3), np.uint8))
    bomb = _png_chunk(b"zTXt", b"comment\0\0" + zlib.compress(b"A" * 100_000_000, 9))
    return base[:-12] + bomb + base[-12:]


HOSTILE = {
    "truncated jpeg": (jpeg(coffee())[:5000], {422}),
    "truncated png": (png(coffee())[:4000], {422}),
    "bit-flipped jpeg": (_bit_flipped(jpeg(coffee()), 40, 1), {200, 415, 422}),
    "bit-flipped png": (_bit_flipped(png(coffee()), 40, 2), {415, 422}),
    "enormous dimensions in a tiny file": (_png_declaring(200_000, 200_000), {413}),
    "zero bytes": (b"", {422}),
    "text with an image name": (b"hello, I am not a picture\n" * 40, {415}),
    "html": (b"<html><script>alert(1)</script></html>", {415}),
    "one pixel": (png(np.full((1, 1, 3), 9, np.uint8)), {422}),
    "smaller than the SSIM window": (png(np.zeros((7, 30, 3), np.uint8)), {422}),
    "decompressing text chunk": (_text_bomb_png(), {200, 422}),
    "animated gif with 3000 frames": (_animated_gif(3000), {200}),
    "pdf": (b"%PDF-1.4\n" + b"0" * 500, {415}),
    "svg": (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', {415}),
}

ODD_NAMES = [
    "x" * 5000 + ".png",
    "../../etc/passwd",
    "na\u0000me.png",
    "\u202eevil\u202dgnp.exe",
    '名前 with spaces & quotes".jpg',
    "",
]


def test_hostile_files_get_4xx_and_never_hurt_the_worker(service: Service) -> None:
    worker_pid = service.health()["worker_pid"]
    good = jpeg(astronaut())
    with service.client(timeout=120) as client:
        for label, (data, expected) in HOSTILE.items():
            for method in ("ssim", "mobilenet_v2"):
                response = client.post(
                    "/api/v1/compare",
                    files={"image_a": ("a.jpg", good), "image_b": ("b.png", data)},
                    data={"method": method},
                )
                tiny = label in ("one pixel", "smaller than the SSIM window")
                allowed = {200} if tiny and method != "ssim" else expected  # CNNs take any size
                assert response.status_code in allowed, (label, method, response.text[:300])
                if response.status_code >= 400:
                    body = response.json()
                    assert set(body["error"]) == {"code", "message", "detail"}, label
        for name in ODD_NAMES:
            response = client.post(
                "/api/v1/compare",
                files={"image_a": (name, good), "image_b": (name, good)},
                data={"method": "ssim"},
            )
            # The name is never used; an absurd one may make the multipart body unreadable,
            # and a part without a name is not a file.
            assert response.status_code in (200, 400, 422), (name[:40], response.text[:200])
            if response.status_code == 400:
                assert response.json()["error"]["code"] == "malformed_request"
            if response.status_code == 422:
                assert "must be sent as a file" in response.json()["error"]["message"]
    health = service.health()
    assert health["worker_pid"] == worker_pid  # never crashed
    assert health["worker"] == "ready" and health["worker_restarts"] == 0


# ---- observability, privacy, security ---------------------------------------------------------


def test_request_id_is_echoed_or_made(service: Service) -> None:
    with service.client() as client:
        given = client.get("/api/v1/methods", headers={"X-Request-ID": "abc-123"})
        made = client.get("/api/v1/methods")
        insane = client.get("/api/v1/methods", headers={"X-Request-ID": "a b\tc" * 30})
    assert given.headers["X-Request-ID"] == "abc-123"
    fresh = [response.headers["X-Request-ID"] for response in (made, insane)]
    # An unusable id is replaced by a new one, like a missing one: not trimmed or cleaned up.
    assert all(re.fullmatch("[0-9a-f]{32}", request_id) for request_id in fresh), fresh
    assert fresh[0] != fresh[1]


def _metric_values(service: Service) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of the gateway's /metrics (its own and the worker's), by name and labels."""
    text = httpx.get(service.base_url + "/metrics", timeout=10).text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_cover_requests_queue_batches_caches_and_restarts(service: Service) -> None:
    pixels = coffee().copy()
    pixels[:16] = (12, 34, 56)  # a pair no other test sends: the first request computes
    data = jpeg(pixels)
    before = _metric_values(service)
    with service.client() as client:
        for _ in range(2):  # the second is answered from the result cache
            response = client.post(
                "/api/v1/compare",
                files={"image_a": ("a", data), "image_b": ("b", data)},
                data={"method": "mobilenet_v2"},
            )
            assert response.status_code == 200, response.text
    after = _metric_values(service)

    def grew(name: str, **labels: str) -> float:
        key = (name, frozenset(labels.items()))
        assert key in after, f"{name}{labels} is not in /metrics"
        return after[key] - before.get(key, 0.0)

    route = {"route": "/api/v1/compare", "method": "mobilenet_v2"}
    assert grew("isc_gateway_requests_total", **route, status="200") == 2
    assert grew("isc_gateway_request_seconds_count", **route) == 2
    assert grew("isc_worker_comparisons_total", method="mobilenet_v2", outcome="ok") == 2
    assert grew("isc_worker_cache_lookups_total", cache="result", outcome="miss") == 1
    assert grew("isc_worker_cache_lookups_total", cache="result", outcome="hit") == 1
    embedding = [
        grew("isc_worker_cache_lookups_total", cache="embedding", outcome=outcome)
        for outcome in ("hit", "miss")
    ]
    assert sum(embedding) >= 1  # the first request looked its image up
    assert grew("isc_worker_batch_size_count", model="mobilenet_v2") >= 1  # forward passes
    assert grew("isc_worker_batch_size_sum", model="mobilenet_v2") >= 1  # images in them
    assert after[("isc_worker_queue_depth", frozenset({("model", "mobilenet_v2")}))] == 0
    assert after[("isc_gateway_inflight_comparisons", frozenset())] == 0
    restarts = after[("isc_gateway_worker_restarts", frozenset())]
    assert restarts == service.health()["worker_restarts"]


def test_logs_carry_ids_and_sizes_but_never_names_or_content(log_dir) -> None:
    """At debug level, where every library logs the most: a name or content logged anywhere
    would be there (the shared service logs warnings only, which would hide it)."""
    secret = "holiday-photo-of-my-passport.jpg"
    data = jpeg(coffee())
    with running_service(log_dir, "privacy", cnn_methods="", log_level="debug") as service:
        with service.client() as client:
            response = client.post(
                "/api/v1/compare",
                files={"image_a": (secret, data), "image_b": (secret, data)},
                data={"method": "ssim"},
                headers={"X-Request-ID": "privacy-check-1"},
            )
            refused = client.post(
                "/compare",
                files={"image1": (secret, data), "image2": (secret, b"%PDF-1.4 " + data)},
                headers={"X-Request-ID": "privacy-check-2"},
            )
        assert response.status_code == 200
        assert_error(refused, 415, "unsupported_media_type")
        time.sleep(0.5)
        log = service.log_path.read_text(errors="replace")
    line = next(line for line in log.splitlines() if "privacy-check-1" in line)
    assert '"method":"ssim"' in line and '"status":200' in line
    assert f'"bytes":[{len(data)},{len(data)}]' in line
    assert any("privacy-check-2" in line and '"status":415' in line for line in log.splitlines())
    assert "httpcore" in log  # the HTTP client's debug lines: debug logging is really on
    assert secret not in log and "holiday" not in log
    # The JPEG's header as raw bytes, as Python prints bytes, and as base64.
    for fragment in ("JFIF", repr(data[:4])[2:-1], base64.b64encode(data[:24]).decode()):
        assert fragment not in log, fragment


def test_api_key_and_cors(log_dir) -> None:
    with running_service(
        log_dir, "secured", cnn_methods="", api_key="s3cret", cors_origins="https://app.example"
    ) as service:
        files = {"image_a": ("a", jpeg(coffee())), "image_b": ("b", jpeg(coffee()))}
        with service.client() as client:
            anonymous = client.post("/api/v1/compare", files=files, data={"method": "ssim"})
            wrong = client.get("/api/v1/methods", headers={"X-API-Key": "guess"})
            allowed = client.post(
                "/api/v1/compare",
                files=files,
                data={"method": "ssim"},
                headers={"X-API-Key": "s3cret"},
            )
            health = client.get("/health")
            preflight = client.options(
                "/api/v1/compare",
                headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
            )
        assert_error(anonymous, 401, "unauthorized")
        assert_error(wrong, 401, "unauthorized")
        assert allowed.status_code == 200 and health.status_code == 200
        # Refused from the headers: the 401 comes while the 30 MB body is still unsent.
        for path in ("/api/v1/compare", "/compare"):
            with _start_upload(service, path, key="guess") as connection:
                assert _status_within(connection) == 401
        with _start_upload(service, key="s3cret") as connection, pytest.raises(TimeoutError):
            _status_within(connection, 1.0)  # with the key, the gateway waits for the body
        assert preflight.headers["access-control-allow-origin"] == "https://app.example"


def test_cors_is_off_by_default(service: Service) -> None:
    with service.client() as client:
        response = client.get("/api/v1/methods", headers={"Origin": "https://elsewhere.example"})
    assert "access-control-allow-origin" not in response.headers
