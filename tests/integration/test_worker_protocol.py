"""The gateway-to-worker hop: both files in one raw body, A's length in the query. The worker
checks what it is sent even though only the gateway should ever call it."""

from __future__ import annotations

import httpx
import numpy as np

from tests.support.checks import assert_error
from tests.support.images import astronaut, coffee, jpeg, png
from tests.support.paths import WEIGHTS, require
from tests.support.service import free_port, running_service

LIMIT = 1_000_000


def test_worker_takes_a_raw_pair_and_refuses_what_no_gateway_sends(log_dir) -> None:
    port = free_port()
    settings = {"cnn_methods": "", "worker_port": str(port), "max_upload_bytes": str(LIMIT)}
    with running_service(log_dir, "protocol", **settings) as service:
        url = f"http://127.0.0.1:{port}/v1/compare"
        a, b = jpeg(astronaut()), png(coffee())
        with httpx.Client(timeout=60) as client:
            good = client.post(
                url, params={"method": "ssim", "image_a_bytes": len(a)}, content=a + b
            )
            swapped = client.post(
                url, params={"method": "ssim", "image_a_bytes": len(b)}, content=b + a
            )
            short = client.post(url, params={"method": "ssim", "image_a_bytes": 10**6}, content=a)
            huge = client.post(
                url, params={"method": "ssim", "image_a_bytes": 1}, content=b"x" * (2 * LIMIT + 1)
            )
            unknown = client.post(url, params={"method": "nope", "image_a_bytes": 1}, content=a)
            again = client.post(
                url, params={"method": "ssim", "image_a_bytes": len(a)}, content=a + b
            )
        assert good.status_code == 200, good.text
        body = good.json()
        assert (body["image_a"]["format"], body["image_b"]["format"]) == ("JPEG", "PNG")
        assert body["image_a"]["bytes"] == len(a) and body["image_b"]["bytes"] == len(b)
        assert swapped.json()["image_a"]["format"] == "PNG"  # the split follows image_a_bytes
        assert_error(short, 400, "malformed_request")  # the status the gateway gives it
        assert_error(huge, 413, "file_too_large")
        assert unknown.status_code == 422
        assert again.status_code == 200 and again.json()["score"] == body["score"]
        assert service.health()["worker_restarts"] == 0


def test_worker_embeds_several_files_from_one_body_each_with_its_own_outcome(log_dir) -> None:
    """A collection's add reaches the worker as one body: each file gets its embedding (the
    same as one sent alone) or its own error, and sizes that do not match the body are
    refused."""
    require(WEIGHTS)
    port = free_port()
    settings = {
        "cnn_methods": "mobilenet_v2",
        "cnn_precision": "float32",
        "weights_dir": str(WEIGHTS),
        "worker_port": str(port),
    }
    with running_service(log_dir, "protocol-embed", **settings) as service:
        url = f"http://127.0.0.1:{port}/v1/embed/mobilenet_v2"
        a, broken, b = jpeg(astronaut()), b"\xff\xd8\xff" + b"not a jpeg" * 20, png(coffee())
        sizes = ",".join(str(len(part)) for part in (a, broken, b))
        with httpx.Client(timeout=120) as client:
            many = client.post(url + "/many", params={"sizes": sizes}, content=a + broken + b)
            alone = [client.post(url, content=part).json() for part in (a, b)]
            broken_alone = client.post(url, content=broken)
            short = client.post(url + "/many", params={"sizes": f"{len(a)},5"}, content=a)
            not_sizes = client.post(url + "/many", params={"sizes": "1,x"}, content=a)
        assert many.status_code == 200, many.text
        first, bad, second = many.json()["outcomes"]
        assert broken_alone.status_code >= 400
        assert bad["embedding"] is None and bad["error"] == broken_alone.json()["error"]
        for outcome, single in zip((first, second), alone, strict=True):
            assert outcome["error"] is None
            embedding = outcome["embedding"]
            assert (embedding["width"], embedding["height"]) == (single["width"], single["height"])
            cosine = float(np.dot(embedding["vector"], single["vector"]))
            assert cosine > 0.9999
        assert float(np.dot(first["embedding"]["vector"], second["embedding"]["vector"])) < 0.9
        assert_error(short, 400, "malformed_request")
        assert not_sizes.status_code == 422
        assert service.health()["worker_restarts"] == 0
