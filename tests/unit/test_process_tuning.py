"""The worker's process-wide settings: one BLAS thread, glibc keeping freed memory."""

from __future__ import annotations

import pytest
from threadpoolctl import threadpool_info

from shared.settings import Settings
from worker.allocator import SETTINGS, tune_allocator
from worker.app import create_app


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
