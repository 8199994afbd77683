"""Uploads never touch the disk: gateway and worker run with their temporary directory and their
working directory pointed at empty folders, and a stream of uploads up to the size limit, valid
and invalid, through both routes, leaves no trace there, not even briefly."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from shared.errors import ErrorCode
from tests.conftest import MAX_UPLOAD_BYTES
from tests.support.checks import assert_error
from tests.support.disk import FolderWatch, entries_under, held_under
from tests.support.images import encode
from tests.support.service import running_service

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="watches folders with inotify and /proc"
)

WIDTH = 1000


def _png_near_limit(seed: int) -> bytes:
    """A noise PNG stored uncompressed, sized to just under the upload limit, so that each
    valid part is as large as a part may be."""
    rows = (MAX_UPLOAD_BYTES - 4096) // (3 * WIDTH + 1)  # one filter byte per row
    pixels = np.random.default_rng(seed).integers(0, 256, (rows, WIDTH, 3), np.uint8)
    data = encode(Image.fromarray(pixels), "PNG", compress_level=0)
    assert MAX_UPLOAD_BYTES - 64 * 1024 < len(data) <= MAX_UPLOAD_BYTES
    return data


def _noise(size: int, seed: int = 7) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, size, np.uint8).tobytes()


def test_no_upload_touches_the_disk(log_dir: Path, tmp_path: Path) -> None:
    temp_dir, work_dir = tmp_path / "tmp", tmp_path / "cwd"
    temp_dir.mkdir()
    work_dir.mkdir()
    a, b = _png_near_limit(1), _png_near_limit(2)
    small = encode(Image.fromarray(np.zeros((200, 200, 3), np.uint8)), "PNG")
    # (route, files, form, expected status, expected error code)
    requests = [
        ("/api/v1/compare", {"image_a": a, "image_b": b}, {"method": "ssim"}, 200, None),
        ("/api/v1/compare", {"image_a": a, "image_b": b}, {"method": "all"}, 200, None),
        ("/compare", {"image1": a, "image2": b}, {"model": "ssim"}, 200, None),
        # Validation failures, each after whole parts were received and parsed:
        (
            "/api/v1/compare",
            {"image_a": _noise(MAX_UPLOAD_BYTES), "image_b": b},
            {"method": "ssim"},
            415,
            ErrorCode.UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            "/api/v1/compare",
            {"image_a": a + b"\0" * (MAX_UPLOAD_BYTES + 1 - len(a)), "image_b": b},
            {"method": "ssim"},
            413,
            ErrorCode.FILE_TOO_LARGE,
        ),
        # One part of almost twice the limit: the whole body is still within the gateway's
        # body limit (two parts' worth), so the parser receives all of it.
        (
            "/api/v1/compare",
            {"image_a": _noise(2 * MAX_UPLOAD_BYTES - 4096), "image_b": small},
            {"method": "ssim"},
            413,
            ErrorCode.FILE_TOO_LARGE,
        ),
        (
            "/api/v1/compare",
            {"image_a": a, "image_b": b""},
            {"method": "ssim"},
            422,
            ErrorCode.EMPTY_FILE,
        ),
        (
            "/compare",
            {"image1": b"", "image2": _noise(MAX_UPLOAD_BYTES)},
            {"model": "ssim"},
            422,
            ErrorCode.EMPTY_FILE,
        ),
    ]
    with (
        FolderWatch(temp_dir, work_dir) as watch,
        running_service(
            log_dir,
            "no-disk-writes",
            cwd=work_dir,
            environment={"TMPDIR": str(temp_dir), "TEMP": str(temp_dir), "TMP": str(temp_dir)},
            cnn_methods="",
            max_upload_bytes=str(MAX_UPLOAD_BYTES),
        ) as service,
    ):
        worker_pid = service.health()["worker_pid"]
        assert worker_pid
        with service.client() as client:
            for route, parts, form, status, code in requests:
                files = {field: (f"{field}.png", data) for field, data in parts.items()}
                response = client.post(route, files=files, data=form)
                if code is None:
                    assert response.status_code == status, (route, response.text[:300])
                else:
                    assert_error(response, status, code.value)
        held = {
            pid: held_under(pid, temp_dir, work_dir) for pid in (service.process.pid, worker_pid)
        }
        seen = watch.stop()
    assert held == {service.process.pid: [], worker_pid: []}, "open under the folders"
    assert seen == [], f"written under TMPDIR or the working directory: {seen[:20]}"
    assert entries_under(temp_dir, work_dir) == []
