"""Decoding the two JPEGs of a request: pinned lanes against plain threads (worker/pair_runner.py).

    .venv/bin/python bench/pair_decode.py [--rounds 300] [--callers 1 2]

Two 1024x768 JPEGs (quality 90) made from the shared photos, decoded as the worker decodes
uploads, by: one thread in turn; the pair runner with lanes pinned to the usable cores; and the
same lanes unpinned. ``--callers`` runs that many requests at once (each decoding its own pair)
to see how the lanes share the cores under load. Variants are interleaved round by round, so
that other work on the machine hits them alike; medians are printed.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from worker.decode import decode_image  # noqa: E402
from worker.pair_runner import PairRunner, usable_cores  # noqa: E402

PHOTOS = REPO.parent / "shared" / "eval" / "photos"


def jpeg_1024x768(path: Path) -> bytes:
    pixels = np.asarray(Image.open(path).convert("RGB"))
    resized = cv2.resize(pixels, (1024, 768), interpolation=cv2.INTER_AREA)
    buffer = io.BytesIO()
    Image.fromarray(resized).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def decode(data: bytes) -> object:
    return decode_image(data, "image", 10**8)


def timed_round(run_pair: Callable[[], object], callers: int) -> float:
    """Milliseconds until ``callers`` concurrent requests have each decoded their pair."""
    start = threading.Barrier(callers + 1)

    def caller() -> None:
        start.wait()
        run_pair()

    threads = [threading.Thread(target=caller) for _ in range(callers)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return (time.perf_counter() - began) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--callers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    first, second = jpeg_1024x768(PHOTOS / "bird.png"), jpeg_1024x768(PHOTOS / "owl.jpg")
    cores = usable_cores()
    pinned = PairRunner(cores, threads_per_core=8, pin=True)
    unpinned = PairRunner(cores, threads_per_core=8, pin=False)
    variants: dict[str, Callable[[], object]] = {
        "one thread, in turn": lambda: (decode(first), decode(second)),
        "pinned lanes": lambda: pinned.run(decode, first, second),
        "unpinned lanes": lambda: unpinned.run(decode, first, second),
    }
    print(f"usable cores: {len(cores)}; two 1024x768 JPEGs; {args.rounds} rounds")
    for callers in args.callers:
        for run_pair in variants.values():  # warm up threads and caches
            timed_round(run_pair, callers)
        times: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(args.rounds):
            for name, run_pair in variants.items():
                times[name].append(timed_round(run_pair, callers))
        for name, values in times.items():
            print(
                f"{callers} caller(s), {name:<20} median {statistics.median(values):6.2f} ms "
                f"(p10 {np.percentile(values, 10):6.2f}, p90 {np.percentile(values, 90):6.2f})"
            )
    pinned.shutdown()
    unpinned.shutdown()


if __name__ == "__main__":
    main()
