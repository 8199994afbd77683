"""Pydantic models of what the service answers: the typed contract between gateway, worker and
clients. Every field carries a description and an example so that /docs explains itself."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from shared.methods import MethodFamily, MethodName

EXAMPLE_PNG = "data:image/png;base64,iVBORw0KGgo..."


class Verdict(StrEnum):
    """A short label for the score, from the method's calibrated thresholds."""

    IDENTICAL = "identical"
    NEAR_IDENTICAL = "near-identical"
    SIMILAR = "similar"
    DIFFERENT = "different"
    UNCALIBRATED = "uncalibrated"


class WeightsSource(StrEnum):
    """Where a CNN's weights came from; ``random-init`` results mean nothing semantically."""

    IMAGENET = "imagenet"
    RANDOM_INIT = "random-init"
    NONE = "none"


class ImageInfo(BaseModel):
    """An uploaded image as the worker decoded it."""

    width: int = Field(description="Decoded width in pixels, after EXIF rotation.", examples=[640])
    height: int = Field(
        description="Decoded height in pixels, after EXIF rotation.", examples=[480]
    )
    format: str | None = Field(
        None, description="File format found in the header (not the file name).", examples=["JPEG"]
    )
    mode: str | None = Field(
        None, description="Pillow colour mode of the file before conversion.", examples=["RGB"]
    )
    bytes: int = Field(description="Size of the uploaded file in bytes.", examples=[48213])


class Timings(BaseModel):
    """Where the time of one comparison went, in milliseconds."""

    decode_ms: float = Field(description="Decoding both images in the worker.", examples=[8.4])
    compute_ms: float = Field(
        description="The method itself (SSIM or both forward passes and the cosine).",
        examples=[61.2],
    )
    heatmap_ms: float = Field(description="Rendering and PNG-encoding the heatmap.", examples=[9.7])
    worker_ms: float = Field(description="Everything inside the worker.", examples=[81.0])
    total_ms: float | None = Field(
        None,
        description="Gateway receipt to answer, including upload checks and the worker hop.",
        examples=[95.3],
    )


class HeatmapLegend(BaseModel):
    """What the colours of the heatmap mean for this method."""

    low: str = Field(
        description="What the low end (blue) of the colours means.",
        examples=["blue: the local structure of B matches A"],
    )
    high: str = Field(
        description="What the high end (red) of the colours means.",
        examples=["red: the local structure differs (brightness, contrast or edges)"],
    )
    no_counterpart: str = Field(
        description="What grey means: parts of A that have no counterpart in B.",
        examples=["grey: this part of A has no counterpart in B (cropped away)"],
    )
    scale: str = Field(
        description="The quantity behind the colours, on a fixed scale.",
        examples=["colour = 1 - local SSIM (11x11 Gaussian window), from 0 (blue) to 1 (red)"],
    )


class CompareResult(BaseModel):
    """How alike two images are by one method, where they differ, and what that means."""

    method: MethodName = Field(
        description="The method that produced this result.", examples=["ssim"]
    )
    family: MethodFamily = Field(
        description="structural: compares pixels; semantic: compares what the images show.",
        examples=["structural"],
    )
    score: float = Field(
        description="The method's raw similarity: mean SSIM (-1..1) or the cosine of the two "
        "CNN embeddings (0..1 for these ReLU networks).",
        examples=[0.8312],
    )
    similarity_percent: float = Field(
        description="score clipped to 0..1, as a percentage.", examples=[83.12]
    )
    verdict: Verdict = Field(
        description="Short label from the method's thresholds; 'uncalibrated' when no "
        "thresholds could be derived from data for this method and weights.",
        examples=["near-identical"],
    )
    calibrated: bool = Field(
        description="Whether the verdict comes from thresholds derived from data "
        "(see tools/calibrate.py).",
        examples=[True],
    )
    explanation: str = Field(
        description="Plain-language account of what the method measures and what this value "
        "means for these two images.",
        examples=[
            "SSIM compares the two pictures pixel by pixel: local brightness, contrast and "
            "structure. A score of 0.83 ..."
        ],
    )
    heatmap: str = Field(
        description="PNG data URL: where the images differ, drawn over image A.",
        examples=[EXAMPLE_PNG],
    )
    heatmap_legend: HeatmapLegend = Field(description="What the heatmap's colours mean.")
    image_a: ImageInfo = Field(description="Image A as decoded.")
    image_b: ImageInfo = Field(description="Image B as decoded.")
    preparation: str = Field(
        description="How the two images were brought to a comparable form (sizes, crops).",
        examples=["Image B was resized to 640x480 and centre-cropped to match image A."],
    )
    weights: WeightsSource = Field(
        WeightsSource.NONE,
        description="For CNNs, where the weights came from; 'random-init' is for tests only "
        "and means the score says nothing about content. 'none' for SSIM.",
        examples=["none"],
    )
    warnings: list[str] = Field(
        default_factory=list,
        description="Anything that makes this result less trustworthy.",
        examples=[[]],
    )
    timings: Timings = Field(description="Where the time went, in milliseconds.")


class LegacyCompareResult(BaseModel):
    """The original product's answer, kept for existing clients of ``POST /compare``."""

    similarity_score: float = Field(description="Similarity from 0 to 1.", examples=[0.83])
    model_used: str = Field(description="The method that was used.", examples=["ssim"])
    heatmap_image: str = Field(description="PNG data URL of the heatmap.", examples=[EXAMPLE_PNG])


class MethodState(StrEnum):
    """Whether a method can answer now."""

    READY = "ready"
    LOADING = "loading"
    UNAVAILABLE = "unavailable"


class MethodStatus(BaseModel):
    """One method as ``GET /api/v1/methods`` lists it."""

    name: MethodName
    title: str = Field(examples=["MobileNetV2"])
    family: MethodFamily
    description: str = Field(description="One line for a person choosing a method.")
    available: bool = Field(description="Whether a comparison with it would run now.")
    state: MethodState
    reason: str | None = Field(
        None, description="Why it is not available, and how to fix that.", examples=[None]
    )
    weights: WeightsSource = WeightsSource.NONE
    calibrated: bool = Field(description="Whether its verdicts come from calibrated thresholds.")


class UploadLimits(BaseModel):
    """What the gateway accepts, so that a client can refuse a file before sending it."""

    max_upload_bytes: int = Field(description="Largest file per image.", examples=[20971520])
    max_image_pixels: int = Field(
        description="Largest image per upload, width x height.", examples=[40000000]
    )
    accepted_types: list[str] = Field(
        description="MIME types of the accepted formats.",
        examples=[["image/jpeg", "image/png", "image/webp", "image/gif", "image/bmp"]],
    )


class MethodsResponse(BaseModel):
    """All methods, in the order the page offers them, and the upload limits."""

    methods: list[MethodStatus]
    limits: UploadLimits | None = Field(
        None, description="The gateway's upload limits (set by the gateway)."
    )


class WorkerHealth(BaseModel):
    """The worker as it reports itself."""

    state: Literal["starting", "ready"] = Field(
        description="starting: models still loading; ready: start-up finished."
    )
    pid: int
    models_loaded: list[MethodName] = Field(description="CNNs in memory and ready.")
    models_unavailable: dict[str, str] = Field(
        default_factory=dict, description="CNNs that could not be loaded, with the reason."
    )
    methods: list[MethodStatus]


class HealthResponse(BaseModel):
    """The gateway and its worker."""

    status: Literal["ok", "degraded"] = Field(
        description="ok when the worker is ready; degraded otherwise (SSIM may still work)."
    )
    gateway: Literal["ready"] = "ready"
    worker: Literal["starting", "ready", "failed", "restarting", "stopped"] = Field(
        description="State of the model worker process."
    )
    worker_pid: int | None = None
    worker_restarts: int = Field(0, description="How often the gateway restarted the worker.")
    worker_error: str | None = Field(None, description="Why the worker is not ready, if known.")
    models_loaded: list[MethodName] = Field(default_factory=list)
    models_unavailable: dict[str, str] = Field(default_factory=dict)
