"""The worker's process-wide settings: one BLAS thread, glibc keeping freed memory, the
start-up objects frozen out of garbage collection."""

from __future__ import annotations

import gc

import pytest
from threadpoolctl import threadpool_info

from shared.settings import Settings
from worker.allocator import SETTINGS, tune_allocator
from worker.app import ModelLoader, create_app
from worker.registry import build_registry


def test_the_worker_app_holds_blas_to_one_thread() -> None:
    create_app(Settings(cnn_methods=""))
    blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    assert blas, "NumPy's BLAS was not found"
    assert all(pool["num_threads"] == 1 for pool in blas)


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
