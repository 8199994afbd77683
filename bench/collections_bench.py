"""Collections in ``make bench`` (issue 18's speed and memory goals), as one entry point,
``bench_collections(factory)``, that returns a dict; ``bench/run.py`` calls it and prints it.

Named ``collections_bench`` rather than ``collections``: ``python bench/run.py`` puts ``bench/``
first on ``sys.path``, where a ``collections.py`` would stand in for the standard library's
module in any process started without ``site`` (``python -S``).

What it measures, in one run on this machine (under a minute on 2 cores):

a. indexing throughput: distinct 1024x768 JPEGs (``ImageFactory``) sent by ``CLIENTS`` clients,
   ``FILES_PER_REQUEST`` per ``POST /api/v1/collections/{name}/images``, MobileNetV2 with the
   real weights in float32, against the bare compiled forward pass of the same images in batches
   of ``BATCH`` (the service's batch limit, set to the same): the ratio, each round's forward
   pass right before the service indexes its images. Also against decoding and preparing them
   in process plus the forward pass, and the CPU time per image of each side (the service's
   gateway and worker processes; the bare parts in this process), which tells where the time
   goes when other jobs share the machine;
b. search p50 with ``SYNTHETIC`` vectors in the embedded store: the store's own query
   (in process) and the whole ``POST .../search`` (the query JPEG embedded by the worker);
c. ``GET .../duplicates`` over the same ``SYNTHETIC`` vectors, with near-duplicate groups
   planted, at the calibrated threshold: its time, and whether exactly the planted groups came
   back;
d. the worker's memory (RSS) after each of ``ROUNDS`` rounds of ``ROUND_IMAGES``, and its growth
   over the last half of them: it must not grow with the collection, since the vectors live
   beside the gateway (whose RSS is reported too). Measured after a warm-up of ``WARM_IMAGES``,
   with the embedding and result caches off (each bounded by its own byte limit, and never hit
   by distinct images). The RSS moves in steps, not with the count of images: measured here,
   it rose over the first 256 images, then by 0.5 MB over the next 1,024 in one run, while
   another stepped up once by 47 MB between its images 384 and 512 and not after (each new
   batch shape the forward pass meets, of 1 to ``BATCH`` images, can hold memory of its own:
   at most ``BATCH`` shapes).

The synthetic vectors are written through ``CollectionStore`` before the service starts (the
embedded mode allows one process per folder), with the weights fingerprint of the network the
service will load, so the service accepts them as its own.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Protocol

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from api.collections.store import CollectionStore  # noqa: E402
from bench.clients import post_many  # noqa: E402
from shared.methods import MethodName  # noqa: E402
from shared.settings import Settings  # noqa: E402
from tests.support.paths import WEIGHTS  # noqa: E402
from tests.support.service import running_service  # noqa: E402
from worker.decode import decode_image  # noqa: E402
from worker.methods.cnn import CNN_SPECS, CnnMethod  # noqa: E402

METHOD = "mobilenet_v2"
CLIENTS = 8
FILES_PER_REQUEST = 4
BATCH = 16
ROUND_IMAGES = 128  # N: indexed ROUNDS times for the speed and the memory check
ROUNDS = 4  # the worker's RSS is read after each; its growth over the last half is reported
WARM_IMAGES = 256  # the worker's RSS settles after a few hundred images (batch shapes)
SYNTHETIC = 10_000
PLANTED_GROUPS = 200  # of 2 to 4 members each
SEARCHES = 40
GOALS = {"index_ratio": 0.8, "search_p50_ms": 100.0, "duplicates_s": 60.0}


class Images(Protocol):
    """``bench.run.ImageFactory``: a new distinct 1024x768 JPEG at each call."""

    def next(self) -> bytes: ...


def rss_mb(pid: int) -> float:
    """Resident memory now (``VmRSS``), not the peak."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


# ---- the bare forward pass -------------------------------------------------------------------


def load_network() -> CnnMethod:
    settings = Settings(weights_dir=WEIGHTS, allow_weight_download=False, cnn_precision="float32")
    network = CnnMethod(CNN_SPECS[MethodName(METHOD)], settings)
    network.load()
    if network.availability().calibration_key is None:
        raise RuntimeError(f"{METHOD}: no weights in {WEIGHTS}; the bench needs the real ones")
    return network


def cpu_s(pid: int | None = None) -> float:
    """CPU seconds (user + system) used so far by a process (None: this one, all threads)."""
    if pid is None:
        times = os.times()
        return times.user + times.system
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def network_inputs(network: CnnMethod, jpegs: list[bytes]) -> tuple[np.ndarray, float, float]:
    """The inputs the service gives the network for these JPEGs (decoded as the worker decodes
    them for this CNN, ``decode_side``, and prepared), with the wall and CPU seconds it took."""
    preparation = network.runtime.recipe.preparation
    wall, cpu = time.perf_counter(), cpu_s()
    inputs = np.stack(
        [
            preparation.prepare(
                decode_image(j, "image", 10**9, enough_side=network.decode_side).pixels
            )[0]
            for j in jpegs
        ]
    ).astype(np.float32)
    return inputs, time.perf_counter() - wall, cpu_s() - cpu


def forward_seconds(network: CnnMethod, inputs: np.ndarray) -> tuple[float, float]:
    """Wall and CPU seconds of the bare compiled forward pass over ``inputs`` in batches of
    ``BATCH``, back to back."""
    wall, cpu = time.perf_counter(), cpu_s()
    for start in range(0, len(inputs), BATCH):
        network.forward(inputs[start : start + BATCH])
    return time.perf_counter() - wall, cpu_s() - cpu


# ---- synthetic vectors -----------------------------------------------------------------------


def synthetic_vectors(dimensions: int, seed: int = 18) -> tuple[np.ndarray, list[list[int]]]:
    """``SYNTHETIC`` non-negative vectors like a ReLU network's (two unrelated ones have a
    cosine near 0.3, as unrelated photos do with MobileNetV2), and ``PLANTED_GROUPS`` groups of
    near-copies (cosine about 0.95 to their original) at the end: the rows of each group."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(2, 5, PLANTED_GROUPS)
    copies = int((sizes - 1).sum())
    vectors = np.maximum(rng.standard_normal((SYNTHETIC, dimensions)), 0).astype(np.float32)
    originals = rng.choice(SYNTHETIC - copies, PLANTED_GROUPS, replace=False)
    row, planted = SYNTHETIC - copies, []
    for original, size in zip(originals, sizes, strict=True):
        group = [int(original)]
        for _ in range(size - 1):
            noise = rng.standard_normal(dimensions).astype(np.float32) * 0.25
            vectors[row] = np.maximum(vectors[original] + noise, 0)
            group.append(row)
            row += 1
        planted.append(sorted(group))
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True), planted


def fill_store(folder: Path, weights_key: str | None, vectors: np.ndarray) -> list[str]:
    """Write the vectors as collection ``synthetic`` (no thumbnails), in batches; their ids."""
    ids = [f"{row:032x}" for row in range(len(vectors))]
    store = CollectionStore(Settings(collections_dir=folder))
    try:
        store.create("synthetic", METHOD, vectors.shape[1], weights_key, thumbnails=False)
        for start in range(0, len(vectors), 1000):
            store.upsert(
                "synthetic",
                [
                    (ids[row], vectors[row].tolist(), {"file_name": f"v{row}", "bytes": 0})
                    for row in range(start, min(start + 1000, len(vectors)))
                ],
            )
    finally:
        store.close()
    return ids


def store_search_p50(folder: Path, queries: np.ndarray) -> float:
    """The embedded store's own k=10 query, in process, median over the queries (ms)."""
    store = CollectionStore(Settings(collections_dir=folder))
    try:
        store.search("synthetic", queries[0].tolist(), 10)  # opens and loads the collection
        times = []
        for query in queries:
            start = time.perf_counter()
            store.search("synthetic", query.tolist(), 10)
            times.append(time.perf_counter() - start)
    finally:
        store.close()
    return round(statistics.median(times) * 1000, 2)


# ---- through the service ---------------------------------------------------------------------


async def index_all(url: str, jpegs: list[bytes], offset: int) -> float:
    """Send the JPEGs ``FILES_PER_REQUEST`` at a time from ``CLIENTS`` clients; wall seconds."""
    requests = [jpegs[i : i + FILES_PER_REQUEST] for i in range(0, len(jpegs), FILES_PER_REQUEST)]

    def files(index: int) -> list[tuple[str, tuple[str, bytes]]]:
        return [
            ("files", (f"{offset + index * FILES_PER_REQUEST + n}.jpg", data))
            for n, data in enumerate(requests[index])
        ]

    wall, _, bodies = await post_many(url, lambda _: {}, files, len(requests), CLIENTS)
    if any(body["indexed"] != len(body["images"]) for body in bodies):
        raise RuntimeError(
            f"not all indexed: {[b for b in bodies if b['indexed'] != len(b['images'])]}"
        )
    return wall


def batch_totals(client: httpx.Client) -> tuple[float, float]:
    """The worker's forward passes so far and the images they took (its Prometheus metrics)."""
    totals = {"count": 0.0, "sum": 0.0}
    for line in client.get("/metrics").text.splitlines():
        for kind in totals:
            if line.startswith(f"isc_worker_batch_size_{kind}{{") and METHOD in line:
                totals[kind] += float(line.rsplit(" ", 1)[1])
    return totals["count"], totals["sum"]


def bench_collections(factory: Images) -> dict[str, Any]:
    """Every collections figure of one run (see the module docstring)."""
    started = time.perf_counter()
    network = load_network()
    warm = [factory.next() for _ in range(WARM_IMAGES)]
    rounds = [[factory.next() for _ in range(ROUND_IMAGES)] for _ in range(ROUNDS)]
    prepared = [network_inputs(network, jpegs) for jpegs in rounds]
    network.forward(prepared[0][0][:BATCH])  # warm
    weights_key = network.availability().calibration_key
    log_dir = Path(tempfile.mkdtemp(prefix="isc-bench-collections-"))
    vectors, planted = synthetic_vectors(1280)
    fill_started = time.perf_counter()
    ids = fill_store(log_dir / "store", weights_key, vectors)
    fill_s = time.perf_counter() - fill_started
    queries = np.random.default_rng(5).permutation(vectors)[:SEARCHES]
    report: dict[str, Any] = {
        "method": METHOD,
        "precision": "float32",
        "clients": CLIENTS,
        "files_per_request": FILES_PER_REQUEST,
        "batch": BATCH,
        "synthetic_vectors": SYNTHETIC,
        "store_fill_s": round(fill_s, 1),
        "store_search_p50_ms": store_search_p50(log_dir / "store", queries),
        "goals": GOALS,
    }
    settings = {
        "weights_dir": str(WEIGHTS),
        "cnn_methods": METHOD,
        "cnn_precision": "float32",
        "batch_max_size": str(BATCH),
        # Distinct images never hit the caches, and both are bounded by their byte limits:
        # off, what is left of the worker's memory is what could grow with the collection.
        "embedding_cache_bytes": "0",
        "result_cache_bytes": "0",
        "collections_dir": str(log_dir / "store"),
        "log_level": "warning",
    }
    with running_service(log_dir, "collections", **settings) as service:
        base = service.base_url + "/api/v1/collections"
        worker_pid = service.health()["worker_pid"]
        with service.client(timeout=600) as client:
            client.post(base, json={"name": "indexed", "method": METHOD}).raise_for_status()
            url = base + "/indexed/images"
            asyncio.run(index_all(url, warm, 0))
            rss = [rss_mb(worker_pid)]
            # Each round: the bare forward pass of its images, then the service indexing them,
            # back to back, so that both meet the machine in about the same state.
            seconds = worker_cpu = gateway_cpu = forward_wall = forward_cpu = 0.0
            passes, images = batch_totals(client)
            for number, jpegs in enumerate(rounds, 1):
                wall_s, cpu_used = forward_seconds(network, prepared[number - 1][0])
                forward_wall, forward_cpu = forward_wall + wall_s, forward_cpu + cpu_used
                worker_before, gateway_before = cpu_s(worker_pid), cpu_s(service.process.pid)
                seconds += asyncio.run(index_all(url, jpegs, number * 10_000))
                worker_cpu += cpu_s(worker_pid) - worker_before
                gateway_cpu += cpu_s(service.process.pid) - gateway_before
                rss.append(rss_mb(worker_pid))
            passes_after, images_after = batch_totals(client)
            count = ROUNDS * ROUND_IMAGES
            decode_wall = sum(wall_s for _, wall_s, _ in prepared)
            decode_cpu = sum(cpu_used for _, _, cpu_used in prepared)
            report["bare"] = {
                "forward_images_per_s": round(count / forward_wall, 1),
                "decode_and_forward_images_per_s": round(count / (decode_wall + forward_wall), 1),
                "forward_cpu_ms_per_image": round(forward_cpu / count * 1000, 2),
                "decode_cpu_ms_per_image": round(decode_cpu / count * 1000, 2),
            }
            rate = count / seconds
            report["index_images_per_s"] = round(rate, 1)
            report["index_ratio"] = round(rate * forward_wall / count, 2)
            report["index_ratio_to_decode_and_forward"] = round(
                rate * (decode_wall + forward_wall) / count, 2
            )
            report["index_cpu_ms_per_image"] = {
                "gateway": round(gateway_cpu / count * 1000, 2),
                "worker": round(worker_cpu / count * 1000, 2),
            }
            report["index_mean_batch"] = round(
                (images_after - images) / max(1.0, passes_after - passes), 1
            )
            report["worker_rss_mb"] = {"warm": rss[0]} | {
                f"after_{number * ROUND_IMAGES}": value for number, value in enumerate(rss[1:], 1)
            }
            half = ROUNDS // 2
            report["worker_rss_growth_images"] = (ROUNDS - half) * ROUND_IMAGES
            report["worker_rss_growth_mb"] = round(rss[ROUNDS] - rss[half], 1)
            report["gateway_rss_mb"] = rss_mb(service.process.pid)
            search_times = []
            for jpeg in [factory.next() for _ in range(SEARCHES)]:
                start = time.perf_counter()
                response = client.post(
                    base + "/synthetic/search", files={"image": ("q.jpg", jpeg)}, data={"k": "10"}
                )
                search_times.append(time.perf_counter() - start)
                response.raise_for_status()
            report["http_search_p50_ms"] = round(statistics.median(search_times) * 1000, 1)
            start = time.perf_counter()
            response = client.get(base + "/synthetic/duplicates")
            report["duplicates_s"] = round(time.perf_counter() - start, 2)
            response.raise_for_status()
            found = response.json()
    expected = sorted(sorted(ids[row] for row in group) for group in planted)
    report["duplicates_threshold"] = found["threshold"]
    report["duplicates_pairs"] = len(found["pairs"])
    report["planted_groups"] = len(planted)
    report["planted_groups_found"] = sorted(sorted(g) for g in found["groups"]) == expected
    network.close()
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report


def print_collections(report: dict[str, Any]) -> None:
    """The collections section of the bench table."""
    goals = report["goals"]
    print(
        f"\n== Collections ({report['method']}, {report['precision']}, same run; "
        f"{report['seconds']} s)"
    )
    bare = report["bare"]
    print(
        f"  indexing, {report['clients']} clients x {report['files_per_request']} files, "
        f"distinct 1024x768 JPEGs {report['index_images_per_s']:.1f} images/s | bare forward "
        f"pass (batch {report['batch']}) {bare['forward_images_per_s']:.1f} images/s | "
        f"{report['index_ratio']:.2f}x (goal >= {goals['index_ratio']}); against decoding and "
        f"forward pass in process ({bare['decode_and_forward_images_per_s']:.1f} images/s) "
        f"{report['index_ratio_to_decode_and_forward']:.2f}x"
    )
    cpu = report["index_cpu_ms_per_image"]
    print(
        f"  CPU per image: gateway {cpu['gateway']:.1f} ms + worker {cpu['worker']:.1f} ms "
        f"(forward passes of {report['index_mean_batch']} images on average) | bare: forward "
        f"pass {bare['forward_cpu_ms_per_image']:.1f} ms + decoding and preparing "
        f"{bare['decode_cpu_ms_per_image']:.1f} ms"
    )
    print(
        f"  search, {report['synthetic_vectors']:,} vectors in the embedded store: p50 "
        f"{report['store_search_p50_ms']:.1f} ms in the store, {report['http_search_p50_ms']:.1f} "
        f"ms through POST .../search with the query embedded (goal <= {goals['search_p50_ms']:g} ms)"
    )
    print(
        f"  duplicates over {report['synthetic_vectors']:,} vectors: {report['duplicates_s']:.1f} s "
        f"(goal <= {goals['duplicates_s']:g} s), {report['duplicates_pairs']} pairs at "
        f"{report['duplicates_threshold']}, the {report['planted_groups']} planted groups found "
        f"exactly: {report['planted_groups_found']}"
    )
    rss = ", ".join(f"{k} {v} MB" for k, v in report["worker_rss_mb"].items())
    print(
        f"  worker RSS {rss}: growth {report['worker_rss_growth_mb']:+.1f} MB over the last "
        f"{report['worker_rss_growth_images']} images (caches off); gateway (holds the store) "
        f"{report['gateway_rss_mb']} MB"
    )


if __name__ == "__main__":  # the section alone: python bench/collections_bench.py
    from bench.run import ImageFactory, base_photos

    print_collections(bench_collections(ImageFactory(base_photos())))
