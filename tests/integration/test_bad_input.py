"""Every kind of bad request gets a clear JSON error with the right status; serving goes on."""

from __future__ import annotations

import socket
import struct
import zlib
from collections.abc import Iterator

import numpy as np
import pytest
from PIL import Image

from shared.settings import Settings
from tests.conftest import MAX_IMAGE_PIXELS, MAX_UPLOAD_BYTES
from tests.support.checks import assert_error
from tests.support.images import astronaut, coffee, encode, jpeg, png
from tests.support.service import Service

GOOD = jpeg(astronaut())


def _post(service: Service, files: dict, data: dict | None = None, path: str = "/api/v1/compare"):
    with service.client() as client:
        return client.post(path, files=files, data=data or {})


def _pair(b: bytes, name_b: str = "b.png") -> dict:
    return {"image_a": ("a.jpg", GOOD), "image_b": (name_b, b)}


def test_missing_file_field_is_422(service: Service) -> None:
    response = _post(service, {"image_a": ("a.jpg", GOOD)}, {"method": "ssim"})
    error = assert_error(response, 422, "validation_error")
    assert "image_b" in error["message"]


def test_missing_method_is_422(service: Service) -> None:
    error = assert_error(_post(service, _pair(GOOD)), 422, "validation_error")
    assert "method" in error["message"]


def test_unknown_method_is_422(service: Service) -> None:
    error = assert_error(_post(service, _pair(GOOD), {"method": "sift"}), 422, "unknown_method")
    assert "'sift'" in error["message"] and "mobilenet_v2" in error["message"]


def test_method_names_are_matched_in_any_case(service: Service) -> None:
    response = _post(service, _pair(GOOD), {"method": "SSIM"})
    assert response.status_code == 200, response.text
    assert response.json()["method"] == "ssim"


def test_a_json_body_is_400_malformed_request(service: Service) -> None:
    with service.client() as client:
        response = client.post("/api/v1/compare", json={"image_a": "...", "method": "ssim"})
    error = assert_error(response, 400, "malformed_request")
    assert "multipart/form-data" in error["message"]


def test_unknown_legacy_model_is_422(service: Service) -> None:
    response = _post(
        service, {"image1": ("a", GOOD), "image2": ("b", GOOD)}, {"model": "alexnet"}, "/compare"
    )
    assert_error(response, 422, "unknown_method")


def test_not_an_image_is_415_even_with_an_image_name(service: Service) -> None:
    response = _post(
        service, _pair(b"%PDF-1.4 this is not a picture" * 10, "photo.jpg"), {"method": "ssim"}
    )
    error = assert_error(response, 415, "unsupported_media_type")
    assert error["detail"]["field"] == "image_b"


def test_empty_file_is_422(service: Service) -> None:
    assert_error(_post(service, _pair(b""), {"method": "ssim"}), 422, "empty_file")


def test_truncated_file_is_422(service: Service) -> None:
    data = png(coffee())
    assert_error(
        _post(service, _pair(data[: len(data) // 3]), {"method": "ssim"}), 422, "corrupt_image"
    )


def test_truncated_file_is_422_for_a_cnn_too(service: Service) -> None:
    data = jpeg(coffee())
    response = _post(service, _pair(data[: len(data) // 2]), {"method": "mobilenet_v2"})
    assert_error(response, 422, "corrupt_image")


def test_file_over_the_byte_limit_is_413(service: Service) -> None:
    noise = np.random.default_rng(0).integers(0, 255, (1100, 1100, 3), dtype=np.uint8)
    big = png(noise)
    assert MAX_UPLOAD_BYTES < len(big) < 2 * MAX_UPLOAD_BYTES
    error = assert_error(_post(service, _pair(big), {"method": "ssim"}), 413, "file_too_large")
    assert error["detail"]["field"] == "image_b"


def test_request_body_far_over_the_limit_is_refused_before_parsing(service: Service) -> None:
    huge = b"\0" * (3 * MAX_UPLOAD_BYTES)
    error = assert_error(_post(service, _pair(huge), {"method": "ssim"}), 413, "file_too_large")
    # The whole body's limit, not one file's (which is only checked once the body is parsed).
    assert "field" not in error["detail"]
    assert error["detail"]["limit_bytes"] > 2 * MAX_UPLOAD_BYTES
    # Declared but not sent: the answer comes from the headers, while the body is on its way.
    declared = f"Content-Length: {3 * MAX_UPLOAD_BYTES}"
    assert _status_of_unfinished_upload(service, declared, [b"--x\r\n"]) == 413


def _status_of_unfinished_upload(service: Service, framing: str, parts: list[bytes]) -> int:
    """Send a comparison's headers (with ``framing``, the body's length or transfer coding) and
    ``parts`` of its body, never the rest: the status, which must come within seconds."""
    host, port = service.base_url.removeprefix("http://").split(":")
    head = (
        f"POST /api/v1/compare HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Type: multipart/form-data; boundary=x\r\n{framing}\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(head.encode())
        for part in parts:
            connection.sendall(part)
        answer = b""
        while b"\r\n" not in answer:
            chunk = connection.recv(4096)  # socket.timeout: the gateway waited for the rest
            assert chunk, f"closed without an answer: {answer!r}"
            answer += chunk
    return int(answer.split(b" ", 2)[1])


def test_streamed_body_over_the_limit_is_refused_while_it_arrives(service: Service) -> None:
    """Without a declared length (chunked transfer) the body is counted as it comes."""

    def chunks() -> Iterator[bytes]:
        yield b'--x\r\nContent-Disposition: form-data; name="image_a"; filename="a"\r\n\r\n'
        for _ in range(3 * MAX_UPLOAD_BYTES // 65536 + 1):
            yield b"\0" * 65536

    with service.client() as client:
        response = client.post(
            "/api/v1/compare",
            content=chunks(),
            headers={"Content-Type": "multipart/form-data; boundary=x"},
        )
    assert "content-length" not in response.request.headers
    error = assert_error(response, 413, "file_too_large")
    limit = error["detail"]["limit_bytes"]
    assert limit > 2 * MAX_UPLOAD_BYTES  # the whole body's limit
    # A chunked body that passes the limit and is never finished is answered all the same:
    # the count is kept as the chunks arrive, not once the body has ended.
    part = b'--x\r\nContent-Disposition: form-data; name="image_a"; filename="a"\r\n\r\n'
    block = b"\0" * 65536
    chunked = [
        b"%x\r\n%s\r\n" % (len(data), data) for data in [part] + [block] * (limit // 65536 + 2)
    ]
    assert _status_of_unfinished_upload(service, "Transfer-Encoding: chunked", chunked) == 413
    assert service.health()["status"] == "ok"


def _declaring(side: int) -> bytes:
    """A real PNG whose header is rewritten to declare ``side`` x ``side`` pixels (its data then
    ends long before): what a decompression bomb's header looks like, in a few hundred bytes."""
    data = bytearray(png(np.zeros((8, 8, 3), np.uint8)))
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", side, side)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def test_decompression_bomb_is_413_before_decoding(service: Service) -> None:
    declared = Settings.model_fields["max_declared_pixels"].default
    side = int((declared * 1.5) ** 0.5)
    error = assert_error(
        _post(service, _pair(_declaring(side)), {"method": "ssim"}), 413, "image_too_large"
    )
    assert error["detail"]["size"] == [side, side]
    assert error["detail"]["limit_pixels"] == declared
    assert f"{side}x{side}" in error["message"]
    # Far beyond even Pillow's own guard: still the same clear answer, without a size.
    far = _post(service, _pair(_declaring(60_000)), {"method": "ssim"})
    assert assert_error(far, 413, "image_too_large")["detail"]["limit_pixels"] == declared


def test_image_over_the_decode_bound_is_decoded_at_reduced_scale(service: Service) -> None:
    """Over ISC_MAX_IMAGE_PIXELS but within the declared limit: compared, not refused (a PNG is
    decoded whole, then reduced)."""
    side = int((MAX_IMAGE_PIXELS * 1.5) ** 0.5)
    large = encode(Image.new("L", (side, side)), "PNG", optimize=True)
    assert len(large) < 200_000  # tiny file, large image
    with service.client() as client:
        response = client.post(
            "/api/v1/compare",
            files={"image_a": ("a.png", large), "image_b": ("b.png", large)},
            data={"method": "pixel"},
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["image_a"]["width"], body["image_a"]["height"]) == (side, side)
    assert body["score"] == pytest.approx(1.0)


def test_image_smaller_than_the_ssim_window_is_422(service: Service) -> None:
    tiny = png(np.zeros((8, 8, 3), np.uint8))
    assert_error(_post(service, _pair(tiny), {"method": "ssim"}), 422, "image_too_small")


@pytest.mark.parametrize("method", ["vgg16", "mobilenet_v2"])
def test_one_pixel_image_works_for_cnns(service: Service, method: str) -> None:
    one = png(np.full((1, 1, 3), 200, np.uint8))
    response = _post(service, _pair(one), {"method": method})
    assert response.status_code == 200, response.text


def test_unknown_route_and_wrong_verb_have_the_error_shape(service: Service) -> None:
    with service.client() as client:
        assert_error(client.get("/api/v1/nothing"), 404, "not_found")
        assert_error(client.get("/api/v1/compare"), 405, "method_not_allowed")


def test_service_keeps_serving_after_bad_requests(service: Service) -> None:
    for _ in range(3):
        _post(service, _pair(b"garbage"), {"method": "ssim"})
        _post(service, _pair(b""), {"method": "resnet50"})
    response = _post(service, _pair(GOOD), {"method": "ssim"})
    assert response.status_code == 200
    assert response.json()["score"] == pytest.approx(1.0, abs=1e-9)
    assert service.health()["status"] == "ok"
