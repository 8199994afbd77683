"""A load run (not a test): 2,000 mixed requests from 32 concurrent clients.

    python bench/load.py [--requests 2000] [--clients 32] [--url http://127.0.0.1:8000]

Without --url it starts its own service (gateway + worker, CNNs without ImageNet weights on
random test weights). The mix covers every method, compare-all, the legacy endpoint and bad
inputs (empty, truncated, not an image, unknown method). It prints the status-code histogram,
latency percentiles, and the worker's resident memory after a warm-up and at the end
(goal: no 5xx, growth under 10 %).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import io
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.run import WEIGHTS, base_photos  # noqa: E402
from tests.support.service import running_service  # noqa: E402

MIX = [  # (weight, kind, method)
    (22, "v1", "ssim"),
    (8, "v1", "ms_ssim"),
    (8, "v1", "pixel"),
    (12, "v1", "phash"),
    (12, "v1", "mobilenet_v2"),
    (8, "v1", "resnet50"),
    (4, "v1", "vgg16"),
    (2, "v1", "all"),
    (8, "legacy", "ssim"),
    (4, "bad", "empty"),
    (4, "bad", "truncated"),
    (4, "bad", "not-an-image"),
    (4, "bad", "unknown-method"),
]


def image_pool(count: int) -> list[bytes]:
    """Distinct 640x480 JPEGs cut from real photos."""
    rng = np.random.default_rng(11)
    photos = base_photos()
    pool = []
    for index in range(count):
        photo = photos[index % len(photos)]
        h, w = photo.shape[:2]
        top, left = int(rng.integers(0, h // 5 + 1)), int(rng.integers(0, w // 5 + 1))
        crop = Image.fromarray(photo[top : top + h * 4 // 5, left : left + w * 4 // 5])
        buffer = io.BytesIO()
        crop.resize((640, 480)).save(buffer, format="JPEG", quality=88)
        pool.append(buffer.getvalue())
    return pool


def build_request(rng: random.Random, pool: list[bytes]) -> tuple[str, str, dict, dict]:
    """(label, path, form fields, files) of one random request from the mix."""
    weights = [weight for weight, _, _ in MIX]
    _, kind, method = rng.choices(MIX, weights)[0]
    a, b = rng.choice(pool), rng.choice(pool)
    if kind == "legacy":
        return "legacy ssim", "/compare", {}, {"image1": ("a.jpg", a), "image2": ("b.jpg", b)}
    if kind == "bad":
        bad = {"empty": b"", "truncated": a[: len(a) // 3], "not-an-image": b"%PDF-1.4 " * 50}
        fields = {"method": "sift" if method == "unknown-method" else "ssim"}
        return (
            f"bad {method}",
            "/api/v1/compare",
            fields,
            {
                "image_a": ("a.jpg", a),
                "image_b": ("b.jpg", bad.get(method, b)),
            },
        )
    return (
        method,
        "/api/v1/compare",
        {"method": method},
        {
            "image_a": ("a.jpg", a),
            "image_b": ("b.jpg", b),
        },
    )


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


async def run_load(base: str, count: int, clients: int, pool: list[bytes], seed: int):
    rng = random.Random(seed)
    requests = [build_request(rng, pool) for _ in range(count)]
    statuses: collections.Counter[tuple[str, int | str]] = collections.Counter()
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(count):
        queue.put_nowait(index)
    async with httpx.AsyncClient(base_url=base, timeout=300) as client:

        async def one_client() -> None:
            while not queue.empty():
                label, path, fields, files = requests[queue.get_nowait()]
                start = time.perf_counter()
                try:
                    response = await client.post(path, data=fields, files=files)
                    statuses[(label, response.status_code)] += 1
                except httpx.HTTPError as exc:
                    statuses[(label, f"error {type(exc).__name__}")] += 1
                latencies.append(time.perf_counter() - start)

        started = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(clients)))
    return statuses, latencies, time.perf_counter() - started


def report(statuses, latencies, wall: float, rss: dict[str, float]) -> None:
    by_status: collections.Counter[int | str] = collections.Counter()
    for (_, status), count in statuses.items():
        by_status[status] += count
    print(
        f"\n{sum(by_status.values())} requests in {wall:.1f} s ({sum(by_status.values()) / wall:.1f} req/s)"
    )
    print("status histogram:", dict(sorted(by_status.items(), key=str)))
    for (label, status), count in sorted(statuses.items(), key=str):
        print(f"  {label:<20} {status}: {count}")
    ordered = sorted(latencies)
    for q in (50, 90, 95, 99):
        print(f"  p{q} latency {ordered[int(q / 100 * (len(ordered) - 1))] * 1000:.0f} ms")
    print(f"  max latency {ordered[-1] * 1000:.0f} ms")
    server_errors = sum(c for s, c in by_status.items() if isinstance(s, int) and s >= 500)
    growth = (rss["end"] - rss["warm"]) / rss["warm"]
    print(
        f"worker RSS: start {rss['start']} MB, after warm-up {rss['warm']} MB, end {rss['end']} MB "
        f"(growth after warm-up {growth:+.1%}); 5xx answers: {server_errors}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Mixed load against the service.")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument(
        "--warmup",
        type=int,
        default=600,
        help="requests before the RSS baseline (fills the bounded caches)",
    )
    parser.add_argument("--url", default=None, help="an already running service")
    args = parser.parse_args()
    pool = image_pool(40)

    def go(base: str, worker_pid: int) -> None:
        rss = {"start": rss_mb(worker_pid)}
        asyncio.run(run_load(base, args.warmup, args.clients, pool, seed=1))
        rss["warm"] = rss_mb(worker_pid)
        statuses, latencies, wall = asyncio.run(
            run_load(base, args.requests, args.clients, pool, seed=2)
        )
        rss["end"] = rss_mb(worker_pid)
        report(statuses, latencies, wall, rss)

    if args.url:
        health = httpx.get(args.url + "/health", timeout=10).json()
        go(args.url, health["worker_pid"])
        return
    log_dir = Path(tempfile.mkdtemp(prefix="isc-load-"))
    settings = {
        "weights_dir": str(WEIGHTS),
        "cnn_random_init": "true",
        "max_inflight": str(max(args.clients, 32)),
    }
    with running_service(log_dir, "load", **settings) as service:
        go(service.base_url, service.health()["worker_pid"])
    print(f"service log: {log_dir / 'load.log'}")


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
