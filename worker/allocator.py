"""glibc malloc settings for the worker process, applied with ``mallopt`` when it starts.

Every comparison allocates and frees arrays of a few hundred kilobytes to a few megabytes
(decoded images, network inputs, heatmap layers, response bodies). By default glibc serves
such blocks with ``mmap`` or hands the free top of its heap back to the kernel at once, so the
next request faults every page in again, which in a virtual machine costs more than the
arithmetic on it (measured here: drawing one heatmap took 1.0 ms, and 0.37 ms once freed
memory was kept). So the worker keeps up to ``TRIM_THRESHOLD`` of free memory per arena and
serves blocks below ``MMAP_THRESHOLD`` from the heap; two arenas keep freed memory from
scattering over one arena per thread, which otherwise lets resident memory creep up under
load although nothing leaks.

A ``MALLOC_*`` environment variable set by the operator wins over the value here.
"""

from __future__ import annotations

import ctypes
import logging
import os

log = logging.getLogger(__name__)

# mallopt parameter numbers, from glibc's <malloc.h>
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8

ARENA_MAX = 2
MMAP_THRESHOLD = 32 * 1024 * 1024  # blocks up to this size come from the heap and are reused
TRIM_THRESHOLD = 64 * 1024 * 1024  # free memory kept at the top of an arena before returning it

SETTINGS = {
    "MALLOC_ARENA_MAX": (M_ARENA_MAX, ARENA_MAX),
    "MALLOC_MMAP_THRESHOLD_": (M_MMAP_THRESHOLD, MMAP_THRESHOLD),
    "MALLOC_TRIM_THRESHOLD_": (M_TRIM_THRESHOLD, TRIM_THRESHOLD),
}


def tune_allocator() -> dict[str, int]:
    """Apply the settings not already given in the environment; returns what was applied.

    Does nothing where the C library is not glibc (musl, macOS): those allocators have other
    knobs, and the worker runs correctly without any of this.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return {}
    applied = {}
    for variable, (parameter, value) in SETTINGS.items():
        if variable in os.environ:
            continue
        if mallopt(ctypes.c_int(parameter), ctypes.c_int(value)) == 1:
            applied[variable] = value
        else:  # pragma: no cover - glibc accepts all three
            log.warning("mallopt(%s, %s) was refused", variable, value)
    return applied
