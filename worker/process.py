"""Process-wide settings of the worker process, applied once from ``python -m worker``.

They change the whole interpreter (the BLAS thread pool, glibc's allocator, Pillow's module
globals), so they belong to the process's entry point, not to the app factory: a test or a tool
that builds an app to look at it leaves the interpreter it runs in as it was.
"""

from __future__ import annotations

import cv2
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
    # The worker runs requests side by side (pixel_threads, one per core); OpenCV's own
    # threads inside each call then only add hand-offs. Measured here (2 cores, default SSIM on
    # 1024x768 pairs, one at a time): 22.6 ms of CPU per request with one thread against 25.7
    # with two, for 1.4 ms more latency; under load the CPU is what limits throughput.
    cv2.setNumThreads(settings.opencv_threads or -1)  # -1: OpenCV's default
    # Pillow's own decompression-bomb guard, at the service's declared-size limit (the header
    # check comes first; this one catches what a header did not tell).
    guard_pillow(settings.max_declared_pixels)
