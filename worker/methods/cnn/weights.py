"""Which ImageNet weights a network gets, and a fingerprint that ties calibration to them.

Lookup order: the file in ``ISC_WEIGHTS_DIR`` (or Keras's own cache), then Keras's download when
allowed, then (tests only) a seeded random initialisation. When none applies the method stays
unavailable: the client is told the file name and what to do, never the server's folders or an
exception; those go to the server log.

Nothing here imports Keras: the runtime passes its ``keras`` module and the constructor in, so
that TensorFlow is imported in one place only.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shared.methods import METHOD_INFO
from shared.schemas import WeightsSource
from shared.settings import Settings
from worker.methods.cnn.specs import CnnSpec

log = logging.getLogger(__name__)
_warned_folders: set[Path] = set()


class WeightsMissingError(RuntimeError):
    """The ImageNet weights are not on disk and could not be downloaded.

    ``str(error)`` is for the server log (the folders searched, why a download failed);
    ``reason`` is for clients: the file name and what to do, without server paths or internals.
    """

    def __init__(self, reason: str, log_detail: str) -> None:
        super().__init__(log_detail)
        self.reason = reason


@dataclass(frozen=True)
class LoadedNetwork:
    """A built network and what it was built with."""

    model: Any
    weights: WeightsSource
    calibration_key: str | None
    """``name:fingerprint`` for ImageNet weights; None where no calibration can hold."""
    origin: str
    """Where the weights came from, for the server log (may be a server path)."""


def keras_cache_dir() -> Path:
    """Where Keras itself keeps downloaded weights: ``$KERAS_HOME/models`` or ~/.keras/models."""
    home = os.environ.get("KERAS_HOME") or str(Path.home() / ".keras")
    return Path(home) / "models"


def weights_candidates(spec: CnnSpec, weights_dir: Path | None) -> list[Path]:
    """Where the weight file may be: the configured folder (or Keras's cache) and its
    ``models/``."""
    folder = weights_dir or keras_cache_dir()
    return [folder / spec.weights_file, folder / "models" / spec.weights_file]


def find_weights_file(spec: CnnSpec, weights_dir: Path | None) -> Path | None:
    """The weight file under the configured folder (or its ``models/``), if present."""
    return next((path for path in weights_candidates(spec, weights_dir) if path.is_file()), None)


def weights_fingerprint(model: Any) -> str:
    """SHA-256 of the weight values, in layer order.

    Calibrated thresholds hold only for the weights they were derived with. Hashing the values
    rather than the file lets the same weights saved in another HDF5 layout keep their
    calibration, while any other weights (another training run, random ones) cannot inherit it.
    """
    digest = hashlib.sha256()
    for variable in model.weights:
        digest.update(np.ascontiguousarray(np.asarray(variable), dtype=np.float32).tobytes())
    return digest.hexdigest()[:16]


def build_network(
    spec: CnnSpec,
    settings: Settings,
    keras: Any,
    constructor: Callable[..., Any],
    precision: str = "float32",
) -> LoadedNetwork:
    """The network in ``precision`` (mixed bfloat16: float32 weights, bfloat16 arithmetic),
    with the best weights available, or a ``WeightsMissingError``.

    Keras's dtype policy is global; it is set for the build only and then restored.
    """
    policy = f"mixed_{precision}" if precision in ("bfloat16", "float16") else "float32"
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        return _with_best_weights(spec, settings, keras, constructor)
    finally:
        keras.config.set_dtype_policy(previous)


def _imagenet(spec: CnnSpec, model: Any, origin: str) -> LoadedNetwork:
    key = f"{spec.name}:{weights_fingerprint(model)}"
    return LoadedNetwork(model, WeightsSource.IMAGENET, key, origin)


def warn_if_no_weights_folder(weights_dir: Path | None) -> None:
    """Say in the server log, once per folder, that the configured ``ISC_WEIGHTS_DIR`` is not a
    folder: a relative path is taken from the worker's working folder, so one that works beside
    this repository (``../shared/weights``) silently finds nothing when started elsewhere. The
    folder is named in the log only; clients hear the file name and what to do."""
    if weights_dir is None or weights_dir.is_dir() or weights_dir in _warned_folders:
        return
    _warned_folders.add(weights_dir)
    resolved = weights_dir.resolve()
    problem = "is not a folder" if weights_dir.exists() else "does not exist"
    relative = "" if weights_dir.is_absolute() else f" (from the working folder {Path.cwd()})"
    log.warning(
        "ISC_WEIGHTS_DIR=%s: %s%s %s; no CNN weights can be found there. Put the Keras ImageNet "
        "weight files, under Keras's file names, in a folder and give its absolute path.",
        weights_dir,
        resolved,
        relative,
        problem,
    )


def _with_best_weights(
    spec: CnnSpec, settings: Settings, keras: Any, constructor: Callable[..., Any]
) -> LoadedNetwork:
    common = dict(include_top=False, input_shape=(None, None, 3))
    warn_if_no_weights_folder(settings.weights_dir)
    path = find_weights_file(spec, settings.weights_dir)
    if path is not None:
        return _imagenet(spec, constructor(weights=str(path), **common), str(path))
    download_error: Exception | None = None
    if settings.allow_weight_download:
        try:
            model = constructor(weights="imagenet", **common)
        except Exception as exc:
            download_error = exc
        else:
            return _imagenet(spec, model, "Keras's download")
    if settings.cnn_random_init:
        keras.utils.set_random_seed(settings.cnn_random_seed)
        model = constructor(weights=None, **common)
        return LoadedNetwork(model, WeightsSource.RANDOM_INIT, None, "random initialisation")
    raise _missing(spec, settings, download_error)


def _missing(
    spec: CnnSpec, settings: Settings, download_error: Exception | None
) -> WeightsMissingError:
    title = METHOD_INFO[spec.name].title
    reason = (
        f"{title} needs its ImageNet weights file {spec.weights_file}: put it in the folder "
        f"named by ISC_WEIGHTS_DIR on the server (see the README), "
    )
    searched = " or ".join(str(path) for path in weights_candidates(spec, settings.weights_dir))
    log_detail = f"{title}: ImageNet weights not found at {searched}; "
    if not settings.allow_weight_download:
        reason += "or let the server download it (ISC_ALLOW_WEIGHT_DOWNLOAD=true, with internet)."
        log_detail += "download disabled (ISC_ALLOW_WEIGHT_DOWNLOAD=false)"
    else:
        reason += "or give the server internet access so that it can download the file."
        log_detail += f"Keras's download failed: {download_error!r}"
    return WeightsMissingError(reason, log_detail)
