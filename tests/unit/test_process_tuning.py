"""The process-wide settings: one BLAS thread, glibc keeping freed memory, Pillow's pixel limit
and in-memory uploads, applied by each process's ``configure_process``, never by building an
app; and the start-up objects frozen out of garbage collection."""

from __future__ import annotations

import gc

import pytest
from PIL import Image
from starlette.formparsers import MultiPartParser
from threadpoolctl import threadpool_info, threadpool_limits

from api import process as gateway_process
from api.app import create_app as create_gateway
from shared.settings import Settings
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
    with threadpool_limits(limits=2, user_api="blas"):  # put back as it was afterwards
        previous = Image.MAX_IMAGE_PIXELS
        try:
            worker_process.configure_process(Settings(max_image_pixels=1234567))
            assert _blas_threads() == [1] * len(_blas_threads())
            assert Image.MAX_IMAGE_PIXELS == 1234567
        finally:
            Image.MAX_IMAGE_PIXELS = previous


def test_the_gateway_process_keeps_uploads_in_memory_up_to_the_limit() -> None:
    previous = MultiPartParser.spool_max_size
    try:
        gateway_process.configure_process(Settings(max_upload_bytes=5_000_000))
        assert MultiPartParser.spool_max_size > 5_000_000
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
