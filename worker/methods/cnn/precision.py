"""Which arithmetic each CNN runs in, and how many images a forward pass gathers, chosen by
measuring them on the machine the worker runs on.

bfloat16 (Keras's ``mixed_bfloat16``: float32 weights, bfloat16 arithmetic) pays off only where
the CPU has instructions for it, and not for every network: measured on an Intel Xeon with AMX,
VGG16 ran 4.7x faster, ResNet50 1.3x and MobileNetV2 0.7x (slower); on this project's AMD EPYC
(AVX-512 BF16), 1.86x, 1.06x and 0.77x. A setting for all networks at once is wrong for some of
them on every machine. So with ``auto`` (the default), once a network is loaded and the worker
ready, the worker measures it in the background (requests meanwhile run in float32):

1. **speed**: the compiled forward pass in both precisions on batches of ``BATCH_SIZES`` real
   photos, the two alternating, the median of ``REPEATS`` runs each after a warm-up;
2. **agreement**: every probe photo's embedding in both precisions (cosine at least
   ``MIN_COSINE``), and the verdict of every pair of probe photos under the calibrated thresholds
   (none may change);
3. **choice**: bfloat16 when it agrees and is at least ``MIN_SPEEDUP`` times as fast at its
   best batch size, else float32; the batch size is the one that gave the chosen precision the
   most images per second (the smallest within ``BATCH_TOLERANCE`` of the best, since a larger
   batch makes the first request of a burst wait longer).

The probe photos are scikit-image's (a dependency, so always there) and edited copies of them
(JPEG, blur, mirror), so that the pairs span near-duplicates to different pictures.

A measurement is stored (``ISC_CNN_TUNING_FILE``) under a key of the CPU, the core count,
TensorFlow's version, the network, its weights and its input, so that a restart on the same
machine reuses it instead of measuring again; the choice is re-derived from the stored figures.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from shared.schemas import PrecisionReport
from worker.verdict import Thresholds, decide

log = logging.getLogger(__name__)

Precision = Literal["float32", "bfloat16", "float16"]
Setting = Literal["auto", "float32", "bfloat16", "float16"]
Forward = Callable[[np.ndarray], np.ndarray]
Embed = Callable[[np.ndarray], np.ndarray]
"""Network output (a batch of feature maps) -> unit-length embeddings, one row per image."""

BATCH_SIZES = (1, 2, 4, 8, 16)
REPEATS = 3
MIN_COSINE = 0.999
MIN_SPEEDUP = 1.05
"""Below this, bfloat16's gain is within the run-to-run noise of these machines."""
BATCH_TOLERANCE = 0.03
DEFAULT_BATCH = 16
"""The batch limit while nothing is measured (and with a precision set explicitly)."""
PROBE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")
TUNING_VERSION = 1  # bump when what is measured changes: older entries are measured anew


@dataclass(frozen=True)
class Measurement:
    """What was measured for one network on one machine."""

    forward_ms: dict[str, dict[str, float]]
    """precision -> batch size (as text: JSON keys) -> median milliseconds per forward pass."""
    min_cosine: float
    max_score_shift: float
    verdicts_unchanged: bool
    images: int
    pairs: int


def probe_images() -> list[np.ndarray]:
    """Real photos and edited copies of them (JPEG q30, blur sigma 2, mirror), RGB uint8."""
    from skimage import data

    images = []
    for name in PROBE_PHOTOS:
        photo = getattr(data, name)()
        encoded = cv2.imencode(".jpg", photo[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 30])[1]
        decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
        assert decoded is not None  # we just encoded it
        images += [
            photo,
            np.ascontiguousarray(decoded[..., ::-1]),
            cv2.GaussianBlur(photo, (0, 0), 2.0),
            np.ascontiguousarray(photo[:, ::-1]),
        ]
    return images


def median_forward_ms(
    forwards: dict[str, Forward], inputs: np.ndarray, batch_sizes: Sequence[int], repeats: int
) -> dict[str, dict[str, float]]:
    """Median time of one forward pass per precision and batch size; the precisions alternate
    run by run, so that both meet the machine in the same state."""
    samples: dict[str, dict[str, list[float]]] = {
        name: {str(size): [] for size in batch_sizes} for name in forwards
    }
    for size in batch_sizes:
        batch = np.ascontiguousarray(np.resize(inputs, (size, *inputs.shape[1:])))
        for forward in forwards.values():
            forward(batch)  # warm-up: the first pass at a new size builds its kernels
        for _ in range(repeats):
            for name, forward in forwards.items():
                started = time.perf_counter()
                forward(batch)
                samples[name][str(size)].append((time.perf_counter() - started) * 1000)
    return {
        name: {size: round(statistics.median(runs), 3) for size, runs in by_size.items()}
        for name, by_size in samples.items()
    }


def agreement(
    full: np.ndarray, reduced: np.ndarray, thresholds: Thresholds | None
) -> tuple[float, float, bool, int]:
    """Lowest per-image cosine between the two precisions' embeddings (rows, unit length),
    largest change of a pair's score, whether every pair's verdict stayed, and the pairs."""
    min_cosine = float(np.min(np.sum(full * reduced, axis=1)))
    upper = np.triu_indices(len(full), k=1)
    full_scores = (full @ full.T)[upper]
    reduced_scores = (reduced @ reduced.T)[upper]
    shift = float(np.max(np.abs(full_scores - reduced_scores)))
    same = all(
        decide(float(x), False, thresholds) is decide(float(y), False, thresholds)
        for x, y in zip(full_scores, reduced_scores, strict=True)
    )
    return min_cosine, shift, same, len(full_scores)


def measure(
    forwards: dict[str, Forward],
    embed: Embed,
    inputs: np.ndarray,
    thresholds: Thresholds | None,
    batch_sizes: Sequence[int] = BATCH_SIZES,
    repeats: int = REPEATS,
) -> Measurement:
    """Speed of every precision in ``forwards`` and, with both, their agreement on ``inputs``
    (prepared network inputs of the probe photos)."""
    timings = median_forward_ms(forwards, inputs, batch_sizes, repeats)
    reduced_name = next((name for name in forwards if name != "float32"), None)
    if "float32" in forwards and reduced_name is not None:
        full = embed(forwards["float32"](inputs))
        reduced = embed(forwards[reduced_name](inputs))
        min_cosine, shift, same, pairs = agreement(full, reduced, thresholds)
    else:
        min_cosine, shift, same, pairs = 1.0, 0.0, True, 0
    images = len(inputs) if pairs else 0
    return Measurement(timings, round(min_cosine, 6), round(shift, 6), same, images, pairs)


def best_batch(forward_ms: dict[str, float]) -> tuple[int, float]:
    """The batch size with the most images per second (the smallest within tolerance of the
    best), and that rate."""
    rates = {int(size): int(size) * 1000 / ms for size, ms in forward_ms.items()}
    top = max(rates.values())
    size = min(size for size, rate in rates.items() if rate >= (1 - BATCH_TOLERANCE) * top)
    return size, rates[size]


def choose(
    measurement: Measurement,
    setting: Setting,
    reused: bool,
    batch_setting: int | None = None,
    device: str = "CPU",
) -> PrecisionReport:
    """The precision and batch size to use, from the figures (a batch size set explicitly
    wins), and the report that says why."""
    timings = measurement.forward_ms
    agrees = measurement.min_cosine >= MIN_COSINE and measurement.verdicts_unchanged
    if setting != "auto":
        precision: Precision = setting
        chosen_by: Literal["setting", "measurement"] = "setting"
    else:
        chosen_by = "measurement"
        precision = "float32"
        reduced_name = _reduced_in(timings)
        if reduced_name is not None and agrees:
            full_rate = best_batch(timings["float32"])[1]
            reduced_rate = best_batch(timings[reduced_name])[1]
            if reduced_rate >= MIN_SPEEDUP * full_rate:
                precision = reduced_name
    batch_size = batch_setting or best_batch(timings[precision])[0]
    speedup = None
    other = _reduced_in(timings)
    if other is not None and "float32" in timings:
        speedup = round(timings["float32"][str(batch_size)] / timings[other][str(batch_size)], 2)
    return PrecisionReport(
        precision=precision,
        chosen_by=chosen_by,
        speedup=speedup,
        min_cosine=measurement.min_cosine if measurement.pairs else None,
        max_score_shift=measurement.max_score_shift if measurement.pairs else None,
        verdicts_unchanged=measurement.verdicts_unchanged if measurement.pairs else None,
        batch_size=batch_size,
        reused=reused,
        device=device,
        note=_note(precision, chosen_by, speedup, batch_size, measurement, agrees, device)
        + f"; up to {batch_size} images per forward pass "
        + ("(as set)" if batch_setting else "(the most images per second measured)"),
    )


def _reduced_in(timings: dict[str, dict[str, float]]) -> Precision | None:
    """The reduced precision that was measured (bfloat16 on a CPU, float16 on a GPU)."""
    for name in ("bfloat16", "float16"):
        if name in timings:
            return name
    return None


def reduced_precision_for(device: str) -> Precision:
    """What ``auto`` tries beside float32: float16 on a GPU (its tensor cores), bfloat16 on a
    CPU (AVX-512 BF16, AMX)."""
    return "float16" if device.startswith("GPU") else "bfloat16"


def _note(
    precision: Precision,
    chosen_by: str,
    speedup: float | None,
    batch_size: int,
    measurement: Measurement,
    agrees: bool,
    device: str = "CPU",
) -> str:
    other = _reduced_in(measurement.forward_ms) or "bfloat16"
    where = "this GPU" if device.startswith("GPU") else "this CPU"
    if chosen_by == "setting":
        head = f"{precision}, as set"
    elif precision != "float32":
        head = f"{precision}: {speedup}x float32's speed at batch {batch_size} on {where}"
    elif speedup is not None and not agrees:
        head = f"float32: {other} disagreed"
    else:
        head = (
            f"float32: {other} ran at {speedup}x its speed on {where}"
            if speedup is not None
            else "float32"
        )
    if measurement.pairs:
        head += (
            f"; the two precisions' embeddings of {measurement.images} probe photos agree to "
            f"cosine {measurement.min_cosine:.4f} (at least {MIN_COSINE} needed), the scores of "
            f"their {measurement.pairs} pairs move by up to {measurement.max_score_shift:.4f}, "
            + ("no verdict changes" if measurement.verdicts_unchanged else "some verdicts change")
        )
    return head


def pending_report(setting: Setting, batch_size: int, device: str = "CPU") -> PrecisionReport:
    """What a network reports before (or without) a measurement."""
    if setting == "auto":
        return PrecisionReport(
            precision="float32",
            chosen_by="pending",
            batch_size=batch_size,
            device=device,
            note="float32 while this machine's faster precision is measured",
        )
    return PrecisionReport(
        precision=setting,
        chosen_by="setting",
        batch_size=batch_size,
        device=device,
        note=f"{setting}, as set; up to {batch_size} images per forward pass",
    )


def fallback_report(batch_size: int, error: str, device: str = "CPU") -> PrecisionReport:
    """``auto`` whose measurement failed: float32, and why."""
    return PrecisionReport(
        precision="float32",
        chosen_by="fallback",
        batch_size=batch_size,
        device=device,
        note=f"float32: measuring the precisions failed ({error})",
    )


def machine_key(parts: Sequence[str]) -> str:
    """A key for one network on this machine: the CPU model and its flags, the cores this
    process may use, and whatever the caller adds (versions, network, weights, input)."""
    cpu, flags = platform.processor() or platform.machine(), ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    text = "|".join([str(TUNING_VERSION), cpu, flags, str(cores), *parts])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class TuningStore:
    """Measurements kept in one JSON file, by key; a missing or unreadable file is empty."""

    def __init__(self, path: Path | None) -> None:
        self.path = path

    def get(self, key: str) -> Measurement | None:
        """The stored measurement under ``key``, if any."""
        entry = self._read().get(key)
        if entry is None:
            return None
        try:
            return Measurement(**entry)
        except TypeError:
            return None

    def put(self, key: str, measurement: Measurement) -> None:
        """Store a measurement (written atomically; a failure to write is only logged)."""
        if self.path is None:
            return
        entries = self._read()
        entries[key] = asdict(measurement)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial = self.path.with_name(f".{self.path.name}.{os.getpid()}")
            partial.write_text(json.dumps(entries, indent=1, sort_keys=True))
            partial.replace(self.path)
        except OSError as exc:
            log.warning("could not keep the CNN tuning measurements in %s: %s", self.path, exc)

    def _read(self) -> dict[str, dict]:
        if self.path is None or not self.path.is_file():
            return {}
        try:
            entries = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return entries if isinstance(entries, dict) else {}
