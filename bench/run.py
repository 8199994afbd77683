"""The benchmark: one command, a few minutes, every figure as a ratio against a baseline measured
in the same run (these machines are noisy; absolute times mean little).

    make bench            (python bench/run.py [--requests N] [--out FILE])

Measures, on this machine, in this run:
1. SSIM: ours against ``skimage.metrics.structural_similarity`` with the same Gaussian settings
   on a 2048x1536 photo pair (time ratio, score difference);
2. each CNN: end-to-end ``POST /api/v1/compare`` latency for two 1024x768 JPEGs against the bare
   compiled forward pass of a batch of two, the two alternating so that both meet the machine
   in the same state (the service overhead); the back-to-back forward time is shown too, and
   the floor: the same requests through the do-nothing relay and echo of
   ``bench/floor_servers.py`` (two processes, the same two HTTP hops, the same answer size);
3. throughput with 16 concurrent clients against the original app, as reproduced by
   ``bench/naive_server.py`` (one process, requests on threads as on Flask's threaded server,
   ``Model.predict`` per image, scikit-image's SSIM, a heatmap for every method), for each CNN
   and SSIM, with distinct images in every request (no cache hits on either side), ours and
   the original's runs alternating twice per method (pooled: all requests over all the time);
4. a repeated comparison of one pair (result-cache hit): server time;
5. bfloat16 against float32: forward speed-up and agreement of the scores;
6. peak memory (RSS) of the worker, the gateway and the original app;
7. what alignment costs a pair that did not move: the default SSIM request (alignment on)
   against ``align=false`` on 30 distinct 1024x768 photos and their degraded copies (JPEG,
   blur, noise), the two alternating, in the worker's comparison service in process;
8. a screenshot check: a 1920x1080 pair of PNG screenshots (Chromium, one price and the clock
   changed) compared with regions and a diff image, against ``pixelmatch`` (the Python port) on
   the same decoded pixels with its diff output, and the changed pixels each finds.
The table is printed and saved as JSON in bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import cv2
import httpx
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.clients import post_many  # noqa: E402
from bench.collections_bench import bench_collections, print_collections  # noqa: E402
from shared.methods import MethodName  # noqa: E402
from shared.settings import Settings  # noqa: E402
from tests.support.service import free_port, running_service, stop  # noqa: E402
from worker.allocator import tune_allocator  # noqa: E402
from worker.methods.base import CompareOptions  # noqa: E402
from worker.methods.cnn import CNN_SPECS, CnnMethod  # noqa: E402
from worker.metrics import structural_similarity, to_luma  # noqa: E402
from worker.registry import build_registry  # noqa: E402
from worker.service import ComparisonService  # noqa: E402

SHARED = Path(os.environ.get("ISC_SHARED_DIR", REPO.parent / "shared"))
PHOTOS = SHARED / "eval" / "photos"
WEIGHTS = SHARED / "weights"
CNNS = ["vgg16", "resnet50", "mobilenet_v2"]
CLIENTS = 16
LATENCY_REQUESTS = 32  # per model, one at a time: enough for a stable median here
THROUGHPUT_ROUNDS = 2  # ours and the original app's runs alternate this many times per method
SSIM_REQUEST_FACTOR = 4  # SSIM runs take this many times --requests (48 would last a second)


def median_ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 2)


def p95_ms(samples: list[float]) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000, 2)


Result = TypeVar("Result")


def timed(function: Callable[[], Result], runs: int) -> tuple[list[float], Result]:
    samples: list[float] = []
    for _ in range(runs):
        start = time.perf_counter()
        result = function()
        samples.append(time.perf_counter() - start)
    return samples, result


# ---- inputs -----------------------------------------------------------------------------------


def base_photos() -> list[np.ndarray]:
    """Real photos: the shared ones, or scikit-image's when those are absent."""
    if PHOTOS.is_dir():
        files = sorted(p for p in PHOTOS.iterdir() if p.suffix.lower() in {".png", ".jpg"})
        return [np.asarray(Image.open(p).convert("RGB")) for p in files]
    from skimage import data

    return [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()]


def jpeg_bytes(pixels: np.ndarray, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


class ImageFactory:
    """Distinct 1024x768 JPEGs made from real photos (different crops, flips, tints), so that no
    request of the throughput runs can hit a cache."""

    def __init__(self, photos: list[np.ndarray]) -> None:
        self.photos = photos
        self.rng = np.random.default_rng(7)
        self.count = 0

    def next(self) -> bytes:
        photo = self.photos[self.count % len(self.photos)]
        self.count += 1
        height, width = photo.shape[:2]
        share = self.rng.uniform(0.7, 1.0)
        crop_h, crop_w = int(height * share), int(width * share)
        top = int(self.rng.integers(0, height - crop_h + 1))
        left = int(self.rng.integers(0, width - crop_w + 1))
        crop = photo[top : top + crop_h, left : left + crop_w]
        image = cv2.resize(crop, (1024, 768), interpolation=cv2.INTER_AREA)
        if self.rng.random() < 0.5:
            image = image[:, ::-1]
        tint = self.rng.uniform(-6, 6, 3)
        image = np.clip(image.astype(np.float32) + tint, 0, 255).astype(np.uint8)
        return jpeg_bytes(np.ascontiguousarray(image))


# ---- 1. SSIM ----------------------------------------------------------------------------------


def bench_ssim(photos: list[np.ndarray]) -> dict:
    from skimage.metrics import structural_similarity as skimage_ssim

    biggest = max(photos, key=lambda p: p.shape[0] * p.shape[1])
    a = cv2.resize(biggest, (2048, 1536), interpolation=cv2.INTER_CUBIC)
    b = np.asarray(Image.open(io.BytesIO(jpeg_bytes(a, 40))).convert("RGB"))
    ours_default, default_score = timed(lambda: structural_similarity(a, b).mssim, 7)
    ours_full, full_score = timed(lambda: structural_similarity(a, b, downsample=False).mssim, 7)

    def theirs() -> float:
        return skimage_ssim(
            to_luma(a).astype(np.float64),
            to_luma(b).astype(np.float64),
            data_range=255,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
        )

    skimage_times, skimage_score = timed(theirs, 3)
    return {
        "skimage_ms": median_ms(skimage_times),
        "ours_full_resolution_ms": median_ms(ours_full),
        "ours_full_resolution_speedup": round(
            statistics.median(skimage_times) / statistics.median(ours_full), 1
        ),
        "ours_full_resolution_abs_diff": abs(float(full_score) - float(skimage_score)),
        "ours_default_ms": median_ms(ours_default),
        "ours_default_speedup": round(
            statistics.median(skimage_times) / statistics.median(ours_default), 1
        ),
        "ours_default_score": round(float(default_score), 6),
        "skimage_score": round(float(skimage_score), 6),
    }


# ---- 7. alignment on a pair that did not move -------------------------------------------------


def degraded_copy(jpeg: bytes, index: int) -> bytes:
    """The same picture, not moved: re-encoded, blurred or noised in turn."""
    pixels = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))
    if index % 3 == 0:
        return jpeg_bytes(pixels, 60)
    if index % 3 == 1:
        return jpeg_bytes(cv2.GaussianBlur(pixels, (0, 0), 1.0 + index % 2), 92)
    noise = np.random.default_rng(index).normal(0, 10, pixels.shape)
    return jpeg_bytes(np.clip(pixels + noise, 0, 255).astype(np.uint8), 92)


def bench_alignment_cost(factory: ImageFactory, pairs: int = 30, rounds: int = 3) -> dict:
    """Default SSIM (alignment on: the probe finds B has not moved) against align=false."""
    settings = Settings(cnn_methods="", result_cache_bytes=0)  # every request computed
    service = ComparisonService(build_registry(settings), settings)
    inputs = []
    for index in range(pairs):
        original = factory.next()
        inputs.append((original, degraded_copy(original, index)))
    default, unaligned = CompareOptions(), CompareOptions(align=False)
    for a, b in inputs[:3]:  # warm-up
        service.compare("ssim", a, b, default)
        service.compare("ssim", a, b, unaligned)
    on_s, off_s, equal = [], [], 0
    for _ in range(rounds):
        for a, b in inputs:
            started = time.perf_counter()
            aligned_result = service.compare("ssim", a, b, default)
            on_s.append(time.perf_counter() - started)
            started = time.perf_counter()
            plain_result = service.compare("ssim", a, b, unaligned)
            off_s.append(time.perf_counter() - started)
            equal += aligned_result.score == plain_result.score
    differences = [on - off for on, off in zip(on_s, off_s, strict=True)]
    return {
        "pairs": pairs,
        "rounds": rounds,
        "default_ms": median_ms(on_s),
        "align_false_ms": median_ms(off_s),
        "median_extra_ms": median_ms(differences),
        "ratio": round(statistics.median(on_s) / statistics.median(off_s), 2),
        "scores_equal": equal,
        "requests": len(on_s),
    }


# ---- 8. screenshot check against pixelmatch ----------------------------------------------------


def bench_screenshots(rounds: int = 7, pixelmatch_rounds: int = 2) -> dict:
    """The pixel method's exact check (anti-aliasing on, regions, diff PNG, pass/fail) on a
    full-HD pair of real screenshots, against pixelmatch's Python port with its diff output;
    both from the decoded pixels. Also the whole worker path (decode both PNGs, check, heatmap,
    diff image) in the worker's comparison service in process."""
    from pixelmatch import pixelmatch

    from tests.support.screenshots import chromium, dashboard_html, render
    from worker.decode import DecodedImage, decode_image
    from worker.methods.pixel import PixelDifferenceMethod

    with chromium() as browser:
        shot_a = render(browser, dashboard_html(), 1920, 1080)
        shot_b = render(browser, dashboard_html(price="$59.99", clock="10:42:13"), 1920, 1080)
    image_a, image_b = (decode_image(data, "shot", 10**8) for data in (shot_a, shot_b))
    method = PixelDifferenceMethod()
    options = CompareOptions(diff_image=True, max_changed_pixels=0)
    method.compare(image_a, image_b, options)  # warm-up
    ours_s, comparison = timed(lambda: method.compare(image_a, image_b, options), rounds)
    check = comparison.screenshot
    assert check is not None
    # What the full resolution costs against the smoothed comparison at WORK_SIDE that photos
    # get (the same pixels without a format: not taken for screenshots, no option given).
    photo_a, photo_b = (DecodedImage.from_pixels(image.pixels) for image in (image_a, image_b))
    smoothed_s, _ = timed(lambda: method.compare(photo_a, photo_b, CompareOptions()), 3)
    settings = Settings(cnn_methods="", result_cache_bytes=0)
    service = ComparisonService(build_registry(settings), settings)
    whole_s, _ = timed(lambda: service.compare("pixel", shot_a, shot_b, options), rounds)
    height, width = image_a.pixels.shape[:2]
    opaque = np.full((height, width, 1), 255, np.uint8)
    rgba_a = np.concatenate([image_a.pixels, opaque], axis=2).tobytes()
    rgba_b = np.concatenate([image_b.pixels, opaque], axis=2).tobytes()

    def theirs() -> int:
        return pixelmatch(rgba_a, rgba_b, width, height, bytearray(len(rgba_a)))

    theirs_s, theirs_count = timed(theirs, pixelmatch_rounds)
    return {
        "size": f"{width}x{height}",
        "ours_ms": median_ms(ours_s),
        "ours_service_ms": median_ms(whole_s),
        "smoothed_work_side_ms": median_ms(smoothed_s),
        "pixelmatch_ms": median_ms(theirs_s),
        "speedup": round(statistics.median(theirs_s) / statistics.median(ours_s), 1),
        "service_speedup": round(statistics.median(theirs_s) / statistics.median(whole_s), 1),
        "ours_changed_pixels": check.changed_pixels,
        "ours_regions": check.region_count,
        "ours_antialiased_pixels": check.antialiased_pixels,
        "pixelmatch_changed_pixels": theirs_count,
        "rounds": rounds,
        "pixelmatch_rounds": pixelmatch_rounds,
    }


def print_screenshots(shots: dict) -> None:
    """Section 8 of the table."""
    print(
        f"\n== Screenshot check, {shots['size']} PNG pair from Chromium (a price and the clock "
        "changed), anti-aliasing on both sides"
    )
    print(
        f"  pixelmatch 0.4 (Python port), diff output {shots['pixelmatch_ms']:>9.1f} ms   1.0x  "
        f"changed {shots['pixelmatch_changed_pixels']} px"
    )
    print(
        f"  ours: check + {shots['ours_regions']} regions + diff PNG {shots['ours_ms']:>9.1f} ms  "
        f"{shots['speedup']:>5.1f}x faster  changed {shots['ours_changed_pixels']} px "
        f"({shots['ours_antialiased_pixels']} anti-aliased or shifted left out)"
    )
    print(
        f"  ours, whole worker path (decode, heatmap) {shots['ours_service_ms']:>9.1f} ms  "
        f"{shots['service_speedup']:>5.1f}x faster"
    )
    print(
        f"  (the smoothed comparison at 1024 px that photos get: {shots['smoothed_work_side_ms']:.1f}"
        " ms on the same pair)"
    )


# ---- 2 and 5. bare forward passes, bfloat16 ---------------------------------------------------


def load_cnn(name: str, precision: str) -> CnnMethod:
    settings = Settings(
        weights_dir=WEIGHTS,
        allow_weight_download=False,
        cnn_random_init=True,
        cnn_precision=precision,
    )
    method = CnnMethod(CNN_SPECS[MethodName(name)], settings)
    method.load()
    return method


def network_inputs(method: CnnMethod, images: list[np.ndarray]) -> np.ndarray:
    """The inputs the service gives the network for ``images`` (its canonical preparation)."""
    preparation = method.runtime.recipe.preparation
    return np.stack([preparation.prepare(image)[0] for image in images]).astype(np.float32)


def bench_forward_and_bf16(
    factory: ImageFactory,
) -> tuple[dict, dict[str, dict[str, CnnMethod]]]:
    """Bare forward passes back to back, float32 and bfloat16; both models are kept for the
    latency runs, which interleave the one in the precision the service chose with requests."""
    from worker.decode import decode_image
    from worker.methods.base import CompareOptions

    pairs = [(factory.next(), factory.next()) for _ in range(12)]
    decoded = [(decode_image(a, "a", 10**9), decode_image(b, "b", 10**9)) for a, b in pairs]
    report, kept = {}, {}
    for name in CNNS:
        full = load_cnn(name, "float32")
        half = load_cnn(name, "bfloat16")
        batch = network_inputs(full, [decoded[0][0].pixels, decoded[0][1].pixels])
        full.forward(batch), half.forward(batch)  # warm
        full_times, _ = timed(partial(full.forward, batch), 15)
        half_times, _ = timed(partial(half.forward, batch), 15)
        options = CompareOptions()
        score_full = [full.compare(a, b, options).score for a, b in decoded]
        score_half = [half.compare(a, b, options).score for a, b in decoded]
        report[name] = {
            "weights": full.availability().weights.value,
            "forward_batch2_ms": median_ms(full_times),
            "forward_batch2_bf16_ms": median_ms(half_times),
            "bf16_speedup": round(statistics.median(full_times) / statistics.median(half_times), 2),
            "bf16_score_max_abs_diff": round(
                max(abs(x - y) for x, y in zip(score_full, score_half, strict=True)), 4
            ),
            "bf16_score_correlation": round(float(np.corrcoef(score_full, score_half)[0, 1]), 4),
        }
        kept[name] = {"float32": full, "bfloat16": half}
    return report, kept


# ---- 3 and 4. HTTP: latency, throughput, cache hits -------------------------------------------


def make_inputs(factory: ImageFactory, count: int) -> list[tuple[bytes, bytes]]:
    return [(factory.next(), factory.next()) for _ in range(count)]


def throughput(url: str, method_field: str, method: str, pairs, names: tuple[str, str]) -> dict:
    wall, latencies, bodies = asyncio.run(
        post_many(
            url,
            lambda _: {method_field: method},
            lambda i: {names[0]: ("a.jpg", pairs[i][0]), names[1]: ("b.jpg", pairs[i][1])},
            len(pairs),
            CLIENTS,
        )
    )
    hits = sum(body.get("timings", {}).get("cache_hits", 0) for body in bodies)
    hits += sum(body.get("timings", {}).get("result_cache_hit", False) for body in bodies)
    return {
        "requests": len(pairs),
        "requests_per_s": round(len(pairs) / wall, 2),
        "median_ms": median_ms(latencies),
        "p95_ms": p95_ms(latencies),
        "cache_hits": int(hits),
        "largest_batch": max(
            (body.get("timings", {}).get("batch_size") or 0 for body in bodies), default=0
        ),
    }


def pooled(runs: list[dict]) -> dict:
    """Several throughput runs as one: all their requests over all their time; the latencies
    and batch sizes of the last run; each run's rate kept (``runs``)."""
    requests = [run["requests"] for run in runs]
    seconds = sum(n / run["requests_per_s"] for n, run in zip(requests, runs, strict=True))
    return {
        **runs[-1],
        "requests": sum(requests),
        "requests_per_s": round(sum(requests) / seconds, 2),
        "cache_hits": sum(run["cache_hits"] for run in runs),
        "largest_batch": max(run["largest_batch"] for run in runs),
        "runs": [run["requests_per_s"] for run in runs],
    }


def sequential_latency(url: str, method: str, pairs, bare: CnnMethod, floor_url: str) -> dict:
    """One request at a time, each right after a bare forward pass of the same pair's canvases
    in this process: both see the same machine at the same moment, so drift between them (these
    machines change speed by tens of percent within a minute) does not count as overhead. The
    same pair then goes, again right after a forward pass, through the do-nothing relay and echo
    of ``bench/floor_servers.py`` with an answer as large as ours: the architecture's floor."""
    from worker.decode import decode_image

    latencies, forwards, totals, floors = [], [], [], []
    with httpx.Client(timeout=600) as client:
        for a, b in pairs:
            images = [decode_image(data, "x", 10**9).pixels for data in (a, b)]
            batch = network_inputs(bare, images)
            files = {"image_a": ("a.jpg", a), "image_b": ("b.jpg", b)}
            start = time.perf_counter()
            bare.forward(batch)
            forwards.append(time.perf_counter() - start)
            start = time.perf_counter()
            response = client.post(url, data={"method": method}, files=files)
            latencies.append(time.perf_counter() - start)
            response.raise_for_status()
            totals.append(response.json()["timings"])
            bare.forward(batch)
            start = time.perf_counter()
            client.post(
                floor_url,
                data={"method": method, "answer_bytes": str(len(response.content))},
                files=files,
            ).raise_for_status()
            floors.append(time.perf_counter() - start)
    in_service = [t["model_ms"] / 1000 for t in totals]
    return {
        "median_ms": median_ms(latencies),
        "p95_ms": p95_ms(latencies),
        "bare_forward_interleaved_ms": median_ms(forwards),
        "overhead_ms": round(median_ms(latencies) - median_ms(forwards), 2),
        "overhead_over_own_forward_ms": median_ms(
            [total - own for total, own in zip(latencies, in_service, strict=True)]
        ),
        "floor_two_hops_ms": median_ms(floors),
        "model_ms": median_ms(in_service),
        "decode_ms": round(statistics.median(t["decode_ms"] for t in totals), 2),
        "compute_ms": round(statistics.median(t["compute_ms"] for t in totals), 2),
        "heatmap_ms": round(statistics.median(t["heatmap_ms"] for t in totals), 2),
    }


def cache_hit(url: str, pair: tuple[bytes, bytes], method: str) -> dict:
    worker, total, client_side = [], [], []
    with httpx.Client(timeout=600) as client:
        for _ in range(21):
            start = time.perf_counter()
            body = client.post(
                url,
                data={"method": method},
                files={"image_a": ("a.jpg", pair[0]), "image_b": ("b.jpg", pair[1])},
            ).json()
            client_side.append(time.perf_counter() - start)
            if body["timings"]["result_cache_hit"]:
                worker.append(body["timings"]["worker_ms"] / 1000)
                total.append(body["timings"]["total_ms"] / 1000)
    return {
        "hits": len(worker),
        "worker_ms": median_ms(worker),
        "gateway_total_ms": median_ms(total),
        "client_ms": median_ms(client_side[1:]),
    }


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def start_server(args: list[str], health_url: str, log_path: Path) -> subprocess.Popen[bytes]:
    """``python bench/<args>`` in its own process group, once ``health_url`` answers."""
    with log_path.open("wb") as log:  # the child writes to its own copy of the descriptor
        process = subprocess.Popen(
            [sys.executable, str(REPO / "bench" / args[0]), *args[1:]],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(health_url, timeout=2).status_code < 500:
                return process
        time.sleep(0.5)
    stop(process)
    raise RuntimeError(f"{args[0]} did not start; see {log_path}")


@contextlib.contextmanager
def floor_servers(log_dir: Path) -> Iterator[str]:
    """The relay and echo of ``bench/floor_servers.py``; yields the relay's compare URL."""
    relay_port, echo_port = free_port(), free_port()
    echo = start_server(
        ["floor_servers.py", "echo", "--port", str(echo_port)],
        f"http://127.0.0.1:{echo_port}/health",
        log_dir / "floor-echo.log",
    )
    try:
        relay = start_server(
            [
                "floor_servers.py",
                "relay",
                "--port",
                str(relay_port),
                "--echo-url",
                f"http://127.0.0.1:{echo_port}/echo",
            ],
            f"http://127.0.0.1:{relay_port}/health",
            log_dir / "floor-relay.log",
        )
        try:
            yield f"http://127.0.0.1:{relay_port}/compare"
        finally:
            stop(relay)
    finally:
        stop(echo)


def measured_precisions(base_url: str, timeout_s: float = 600) -> dict[str, dict]:
    """Each CNN's precision report once the service has measured them (``auto``)."""
    deadline = time.monotonic() + timeout_s
    while True:
        methods = httpx.get(base_url + "/api/v1/methods", timeout=30).json()["methods"]
        reports = {m["name"]: m["precision"] for m in methods if m["precision"] is not None}
        if reports and all(r["chosen_by"] != "pending" for r in reports.values()):
            return reports
        if time.monotonic() > deadline:
            raise TimeoutError(f"the service is still measuring precisions: {reports}")
        time.sleep(1)


def bench_services(
    factory: ImageFactory, requests: int, bare: dict[str, dict[str, CnnMethod]]
) -> dict:
    report: dict = {"ours": {}, "original": {}}
    log_dir = Path(tempfile.mkdtemp(prefix="isc-bench-"))
    settings = {"weights_dir": str(WEIGHTS), "cnn_random_init": "true", "log_level": "warning"}
    with running_service(log_dir, "bench", **settings) as service:
        url = service.base_url + "/api/v1/compare"
        health = service.health()
        # The service measures each network's precision on this machine after start-up (a
        # fresh tuning file in log_dir: measured in this run); the runs below meet the choice.
        precisions = measured_precisions(service.base_url)
        report["ours"]["precision"] = precisions
        with floor_servers(log_dir) as floor:
            for name in CNNS:
                pairs = make_inputs(factory, LATENCY_REQUESTS)
                report["ours"][name] = {
                    "latency": sequential_latency(
                        url, name, pairs, bare[name][precisions[name]["precision"]], floor
                    )
                }
        with original_app(log_dir) as (original_url, original):
            # Each method's runs alternate, ours then the original's, THROUGHPUT_ROUNDS times,
            # so that both meet the machine in the same states (its speed drifts within
            # minutes); the idle side waits. SSIM requests are cheap: more of them per run, so
            # that a run lasts seconds, not one.
            for name in [*CNNS, "ssim"]:
                count = requests * (SSIM_REQUEST_FACTOR if name == "ssim" else 1)
                ours_runs, original_runs = [], []
                for _ in range(THROUGHPUT_ROUNDS):
                    ours_pairs = make_inputs(factory, count)
                    ours_runs.append(
                        throughput(url, "method", name, ours_pairs, ("image_a", "image_b"))
                    )
                    original_pairs = make_inputs(factory, count)
                    original_runs.append(
                        throughput(
                            original_url, "model", name, original_pairs, ("image1", "image2")
                        )
                    )
                report["ours"].setdefault(name, {})["throughput"] = pooled(ours_runs)
                report["original"][name] = {"throughput": pooled(original_runs)}
            report["original"]["peak_rss_mb"] = peak_rss_mb(original.pid)
        pair = (factory.next(), factory.next())
        report["ours"]["cache_hit_mobilenet_v2"] = cache_hit(url, pair, "mobilenet_v2")
        report["ours"]["cache_hit_ssim"] = cache_hit(url, pair, "ssim")
        report["ours"]["worker_peak_rss_mb"] = peak_rss_mb(health["worker_pid"])
        report["ours"]["gateway_peak_rss_mb"] = peak_rss_mb(service.process.pid)
    return report


def bench_local_workers(factory: ImageFactory, requests: int, rounds: int = 2) -> dict:
    """Default SSIM throughput at 16 clients with one and with two local workers behind the
    gateway (ISC_LOCAL_WORKERS), no CNN loaded, distinct pairs, the two alternating."""
    log_dir = Path(tempfile.mkdtemp(prefix="isc-bench-workers-"))
    rates: dict[int, list[float]] = {1: [], 2: []}
    settings = {"cnn_methods": "", "log_level": "warning", "result_cache_bytes": "0"}
    with (
        running_service(log_dir, "one", local_workers="1", **settings) as one,
        running_service(log_dir, "two", local_workers="2", **settings) as two,
    ):
        for _ in range(rounds):
            for count, service in ((1, one), (2, two)):
                pairs = make_inputs(factory, requests)
                url = service.base_url + "/api/v1/compare"
                measured = throughput(url, "method", "ssim", pairs, ("image_a", "image_b"))
                rates[count].append(measured["requests_per_s"])
    one_rate, two_rate = statistics.median(rates[1]), statistics.median(rates[2])
    return {
        "one_worker_requests_per_s": round(one_rate, 2),
        "two_workers_requests_per_s": round(two_rate, 2),
        "ratio": round(two_rate / one_rate, 2),
        "runs": rates,
    }


@contextlib.contextmanager
def original_app(log_dir: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The original app of ``bench/naive_server.py``; yields its compare URL and process."""
    port = free_port()
    process = start_server(
        ["naive_server.py", "--port", str(port), "--weights", str(WEIGHTS)],
        f"http://127.0.0.1:{port}/health",
        log_dir / "original-app.log",
    )
    try:
        yield f"http://127.0.0.1:{port}/compare", process
    finally:
        stop(process)


# ---- report -----------------------------------------------------------------------------------


def print_table(results: dict) -> None:
    ssim = results["ssim"]
    print("\n== SSIM, 2048x1536 photo pair (same run, same machine)")
    print(f"  scikit-image                         {ssim['skimage_ms']:>9.1f} ms   1.0x")
    print(
        f"  ours, full resolution                {ssim['ours_full_resolution_ms']:>9.1f} ms  "
        f"{ssim['ours_full_resolution_speedup']:>4.1f}x faster  |score diff| "
        f"{ssim['ours_full_resolution_abs_diff']:.1e}"
    )
    print(
        f"  ours, authors' downsampling (default){ssim['ours_default_ms']:>9.1f} ms  "
        f"{ssim['ours_default_speedup']:>4.1f}x faster  score {ssim['ours_default_score']} "
        f"vs {ssim['skimage_score']} at full resolution"
    )
    print(
        "\n== CNN end-to-end latency (two 1024x768 JPEGs, one request at a time), each request "
        "right after\n   a bare forward pass (batch of 2) in the benchmark process; overhead = "
        "request - forward"
    )
    for name in CNNS:
        hot = results["forward"][name]["forward_batch2_ms"]
        latency = results["services"]["ours"][name]["latency"]
        forward = latency["bare_forward_interleaved_ms"]
        overhead = latency["overhead_ms"]
        floor = latency["floor_two_hops_ms"]
        print(
            f"  {name:<13} forward {forward:>7.1f} ms ({hot:.1f} back to back) | request median "
            f"{latency['median_ms']:>7.1f} p95 {latency['p95_ms']:>7.1f} ms | overhead "
            f"{overhead:>5.1f} ms = {overhead / forward:>4.0%} of forward | floor {floor:>4.1f} "
            f"ms = {floor / forward:>4.0%} | in the service: forward {latency['model_ms']}, "
            f"decode {latency['decode_ms']}, heatmap {latency['heatmap_ms']} ms"
        )
    print(
        "  floor: the same two HTTP hops through a relay and an echo that do nothing "
        "(bench/floor_servers.py),\n  each request also right after a bare forward pass: "
        "what any gateway + worker pair pays here"
    )
    print(
        f"\n== Throughput, {CLIENTS} concurrent clients, distinct images (ours vs the original app:"
        "\n   bench/naive_server.py, one process, requests on threads)"
    )
    for name in [*CNNS, "ssim"]:
        ours = results["services"]["ours"][name]["throughput"]
        original = results["services"]["original"][name]["throughput"]
        print(
            f"  {name:<13} ours {ours['requests_per_s']:>6.2f} req/s (median {ours['median_ms']:>7.0f}"
            f", p95 {ours['p95_ms']:>7.0f} ms, largest batch {ours['largest_batch']}, cache hits "
            f"{ours['cache_hits']}, runs {ours['runs']}) | original "
            f"{original['requests_per_s']:>6.2f} req/s (runs {original['runs']}, median "
            f"{original['median_ms']:>7.0f}) | {ours['requests_per_s'] / original['requests_per_s']:>5.2f}x"
        )
    print("\n== Repeated comparison of one pair (result cache)")
    for key in ("cache_hit_mobilenet_v2", "cache_hit_ssim"):
        hit = results["services"]["ours"][key]
        print(
            f"  {key[10:]:<13} worker {hit['worker_ms']:.2f} ms, gateway total "
            f"{hit['gateway_total_ms']:.2f} ms, client round trip {hit['client_ms']:.2f} ms "
            f"({hit['hits']} hits)"
        )
    print(
        "\n== Precision: what the service chose on this machine (auto), and float32 against "
        "bfloat16 here (bare forward, batch of 2; scores on 12 pairs)"
    )
    for name in CNNS:
        f = results["forward"][name]
        chosen = results["services"]["ours"]["precision"][name]
        ratio = f["bf16_speedup"] if chosen["precision"] == "bfloat16" else 1.0
        print(
            f"  {name:<13} service: {chosen['precision']} at batch {chosen['batch_size']} "
            f"(its measurement: bfloat16 {chosen['speedup']}x, cosine {chosen['min_cosine']}) | "
            f"here: {f['forward_batch2_ms']:.1f} ms float32 -> {f['forward_batch2_bf16_ms']:.1f} "
            f"ms bfloat16 ({f['bf16_speedup']:.2f}x); chosen vs float32 {ratio:.2f}x | max |score "
            f"diff| {f['bf16_score_max_abs_diff']}"
        )
    ours = results["services"]["ours"]
    alignment = results["alignment"]
    print(
        f"\n== Alignment on {alignment['pairs']} distinct 1024x768 pairs that did not move "
        f"(SSIM in the worker's service, {alignment['rounds']} rounds)"
    )
    print(
        f"  default (align on) {alignment['default_ms']:.1f} ms | align=false "
        f"{alignment['align_false_ms']:.1f} ms | {alignment['ratio']:.2f}x, median extra "
        f"{alignment['median_extra_ms']:.1f} ms | scores equal {alignment['scores_equal']} of "
        f"{alignment['requests']}"
    )
    workers = results["local_workers"]
    print("\n== Local workers (ISC_LOCAL_WORKERS), default SSIM at 16 clients, no CNN loaded")
    print(
        f"  1 worker {workers['one_worker_requests_per_s']:.1f} req/s | 2 workers "
        f"{workers['two_workers_requests_per_s']:.1f} req/s | {workers['ratio']:.2f}x "
        f"(runs {workers['runs']})"
    )
    print("\n== Peak memory (RSS)")
    print(
        f"  worker {ours['worker_peak_rss_mb']} MB (all models loaded), gateway "
        f"{ours['gateway_peak_rss_mb']} MB, original app {results['services']['original']['peak_rss_mb']} MB"
    )
    print_screenshots(results["screenshots"])
    weights = {name: results["forward"][name]["weights"] for name in CNNS}
    print(f"\nCNN weights used: {weights} (random-init has the same speed as ImageNet weights)")
    print_collections(results["collections"])


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark the service against baselines.")
    parser.add_argument("--requests", type=int, default=48, help="requests per throughput run")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    tune_allocator()  # what the worker does at start: in-process timings meet the same malloc
    photos = base_photos()
    factory = ImageFactory(photos)
    started = time.time()
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "ssim": bench_ssim(photos),
    }
    results["alignment"] = bench_alignment_cost(factory)
    results["screenshots"] = bench_screenshots()
    results["forward"], bare_models = bench_forward_and_bf16(factory)
    results["services"] = bench_services(factory, args.requests, bare_models)
    results["local_workers"] = bench_local_workers(factory, args.requests)
    results["collections"] = bench_collections(factory)
    results["seconds"] = round(time.time() - started, 1)
    print_table(results)
    out = args.out or REPO / "bench" / "results" / f"bench-{results['when'].replace(':', '')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nsaved {out} ({results['seconds']} s)")


if __name__ == "__main__":
    main()
