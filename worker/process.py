"""Process-wide settings of the worker process, applied once from ``python -m worker``.

They change the whole interpreter (the BLAS thread pool, glibc's allocator, Pillow's module
globals), so they belong to the process's entry point, not to the app factory: a test or a tool
that builds an app to look at it leaves the interpreter it runs in as it was.
"""

from __future__ import annotations

from threadpoolctl import threadpool_limits

from shared.image_header import guard_pillow
from shared.settings import Settings
from worker.allocator import tune_allocator


def configure_process(settings: Settings) -> None:
    """Tune this process for the worker's work; call once, before the app serves."""
    # NumPy's OpenBLAS keeps its threads spinning for a while after every call; on a small
    # machine they then steal the cores from the next CNN forward pass (measured: ResNet50
    # took 45 % longer after the small matmul of its own heatmap). The worker's matrix products
    # are tiny, so one BLAS thread costs nothing.
    threadpool_limits(limits=1, user_api="blas")
    tune_allocator()
    # Pillow's own decompression-bomb guard, at the service's declared-size limit (the header
    # check comes first; this one catches what a header did not tell).
    guard_pillow(settings.max_declared_pixels)
