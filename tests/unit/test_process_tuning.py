"""The process-wide settings: one BLAS thread, glibc keeping freed memory, Pillow's pixel limit
and in-memory uploads, applied by each process's ``configure_process``, never by building an
app; and the start-up objects frozen out of garbage collection."""

from __future__ import annotations

import asyncio
import gc
import io
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image
from starlette.datastructures import Headers, UploadFile
from starlette.formparsers import MultiPartParser
from threadpoolctl import threadpool_info, threadpool_limits

from api import process as gateway_process
from api.app import create_app as create_gateway
from api.uploads import MULTIPART_OVERHEAD_BYTES
from shared.settings import Settings
from tests.support.images import encode
from worker import process as worker_process
from worker.allocator import SETTINGS, tune_allocator
from worker.app import ModelLoader
from worker.app import create_app as create_worker
from worker.registry import build_registry


def _blas_threads() -> list[int]:
    blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    assert blas, "NumPy's BLAS was not found"
    return [pool["num_threads"] for pool in blas]


def test_the_worker_process_holds_blas_to_one_thread_and_pillow_to_the_pixel_limit() -> None:
    over_twice = encode(Image.new("L", (2000, 1250)), "PNG")  # 2.5 Mpx in a few kilobytes
    with threadpool_limits(limits=2, user_api="blas"):  # put back as it was afterwards
        previous = Image.MAX_IMAGE_PIXELS
        try:
            Image.MAX_IMAGE_PIXELS = 10**8
            Image.open(io.BytesIO(over_twice)).close()  # within a larger limit: it opens
            worker_process.configure_process(Settings(max_declared_pixels=1234567))
            assert _blas_threads() == [1] * len(_blas_threads())
            # Pillow's own guard at the service's limit: over twice the limit it will not open.
            with pytest.raises(Image.DecompressionBombError):
                Image.open(io.BytesIO(over_twice))
        finally:
            Image.MAX_IMAGE_PIXELS = previous


def _spooled_to_disk(size: int) -> bool:
    """Whether Starlette's multipart parser, the one the gateway reads its uploads with, moves a
    file part of ``size`` bytes out of memory into a temporary file."""
    boundary = "isc-boundary"
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="image_a"; filename="a.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    )
    body = head.encode() + b"\0" * size + f"\r\n--{boundary}--\r\n".encode()

    async def parse() -> bool:
        async def arriving() -> AsyncIterator[bytes]:
            for start in range(0, len(body), 65536):
                yield body[start : start + 65536]

        headers = Headers({"content-type": f"multipart/form-data; boundary={boundary}"})
        form = await MultiPartParser(headers, arriving()).parse()
        upload = form["image_a"]
        assert isinstance(upload, UploadFile) and upload.size == size
        try:
            return bool(upload.file._rolled)  # type: ignore[attr-defined]  # SpooledTemporaryFile
        finally:
            await form.close()

    with ThreadPoolExecutor(1) as thread:  # the browser tests keep a loop in the main thread
        return thread.submit(asyncio.run, parse()).result()


def test_the_gateway_process_keeps_uploads_in_memory_up_to_the_limit() -> None:
    previous = MultiPartParser.spool_max_size
    try:
        # The probe sees a spill: past the parser's setting, a part goes to a temporary file.
        assert _spooled_to_disk(MultiPartParser.spool_max_size + 1)
        gateway_process.configure_process(Settings(max_upload_bytes=5_000_000))
        assert not _spooled_to_disk(5_000_000)  # an upload at the limit stays in memory
        # So does the largest part the body limit lets through (its size is checked after
        # parsing, so one part may exceed the upload limit).
        assert not _spooled_to_disk(2 * 5_000_000 + MULTIPART_OVERHEAD_BYTES)
    finally:
        MultiPartParser.spool_max_size = previous


def test_building_the_apps_leaves_the_process_as_it_was() -> None:
    with threadpool_limits(limits=2, user_api="blas"):
        blas, pixels, spool = (
            _blas_threads(),
            Image.MAX_IMAGE_PIXELS,
            MultiPartParser.spool_max_size,
        )
        create_worker(Settings(cnn_methods="", max_image_pixels=1234567))
        create_gateway(Settings(max_upload_bytes=5_000_000))
        assert _blas_threads() == blas
        assert (Image.MAX_IMAGE_PIXELS, MultiPartParser.spool_max_size) == (pixels, spool)


def test_allocator_settings_apply_unless_the_environment_sets_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for variable in SETTINGS:
        monkeypatch.delenv(variable, raising=False)
    assert tune_allocator() == {variable: value for variable, (_, value) in SETTINGS.items()}
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert "MALLOC_ARENA_MAX" not in tune_allocator()


def test_objects_alive_once_the_models_are_loaded_are_frozen_out_of_collections() -> None:
    gc.unfreeze()
    loader = ModelLoader(build_registry(Settings(cnn_methods="")))
    loader.start()
    try:
        assert loader.done.wait(30)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
