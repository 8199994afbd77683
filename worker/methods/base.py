"""What every comparison method provides, so that the worker treats them all alike."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np

from shared.errors import ErrorCode, ServiceError
from shared.methods import METHOD_INFO, MethodName
from shared.schemas import (
    AlignmentInfo,
    HeatmapFormat,
    HeatmapLegend,
    MethodState,
    ScreenshotCheck,
    WeightsSource,
)
from worker.alignment import SharedRegistration
from worker.decode import DecodedImage


@dataclass(frozen=True)
class Availability:
    """Whether a method can run now, why not, and which calibration applies to it."""

    state: MethodState
    reason: str | None
    weights: WeightsSource
    calibration_key: str | None
    """Key into the calibration file; None when no calibrated thresholds can apply."""

    def refusal(self, name: MethodName, retry_after_s: int) -> ServiceError:
        """The 503 for a request to this method while it is not ready: only a model still
        loading is worth retrying, so only then with ``Retry-After``."""
        loading = self.state is MethodState.LOADING
        return ServiceError(
            ErrorCode.METHOD_UNAVAILABLE,
            self.reason or f"{METHOD_INFO[name].title} is not ready yet; try again shortly.",
            {"method": str(name), "state": str(self.state)},
            headers={"Retry-After": str(retry_after_s)} if loading else None,
        )


@dataclass(frozen=True)
class CompareOptions:
    """Per-request choices; ``align=None`` means the method's own default, which ``for_method``
    settles before a method sees the options (a method reads ``align`` as given)."""

    align: bool | None = None
    heatmap_format: HeatmapFormat = HeatmapFormat.JPEG
    difference_map: bool = False
    """Also return the difference values as a grey PNG at A's size (``difference_map``)."""
    # The screenshot check (pixel method; ``worker.screenshot``). Tuples and scalars only: the
    # options are part of the result-cache key. None: not given (the default applies).
    threshold: float | None = None
    """Delta E00 above which a pixel counts as changed; None: the configured JND."""
    antialiasing: bool | None = None
    """Leave anti-aliased pixels out; None: on (the default), but not asked for."""
    ignore_regions: tuple[tuple[int, int, int, int], ...] = ()
    """Rectangles x, y, w, h of A that are not compared."""
    max_changed_pixels: int | None = None
    max_changed_percent: float | None = None
    diff_image: bool = False
    """Return the pixelmatch-style diff PNG at A's full size."""
    registration: SharedRegistration | None = field(default=None, compare=False, hash=False)
    """This request's registration of B onto A, found once for every method that aligns (set
    by the service after the result-cache key is made; not part of it)."""

    @property
    def screenshot_requested(self) -> bool:
        """Whether any screenshot option was given: the pixel method then compares the pair
        pixel for pixel at full resolution, whatever its format."""
        return (
            self.threshold is not None
            or self.antialiasing is not None
            or bool(self.ignore_regions)
            or self.max_changed_pixels is not None
            or self.max_changed_percent is not None
            or self.diff_image
        )

    @property
    def orient(self) -> bool:
        """Whether B may be turned or mirrored back before comparing (``worker.orientation``):
        unless the client asked for B as given (``align=false``). Read before ``for_method``."""
        return self.align is not False

    def for_method(self, name: MethodName) -> CompareOptions:
        """These options with ``align`` settled: as asked, else ``aligns_by_default``."""
        if self.align is not None:
            return self
        return replace(self, align=METHOD_INFO[name].aligns_by_default)


@dataclass
class DifferenceView:
    """A map of where the images differ, over image A's extent."""

    name: str
    title: str
    description: str
    values: np.ndarray
    """Float map over image A's extent (any resolution, A's aspect ratio): 0 = alike,
    1 = different, NaN = no counterpart in B."""
    legend: HeatmapLegend


@dataclass
class Comparison:
    """The outcome of one method on one pair, before rendering and wording."""

    score: float
    difference_map: np.ndarray
    """The primary view, as in ``DifferenceView.values``."""
    legend: HeatmapLegend
    preparation: str
    warnings: list[str] = field(default_factory=list)
    alignment: AlignmentInfo | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    extra_views: list[DifferenceView] = field(default_factory=list)
    cache_hits: int = 0
    batch_size: int | None = None
    model_ms: float | None = None
    """For CNNs: time of the forward pass that computed this pair (None: all from cache)."""
    precision: str | None = None
    device: str | None = None
    """Where a CNN ran ('CPU', 'GPU (...)'); None for methods without a network."""
    heatmap_max_side: int | None = None
    """A method whose map is coarse may ask for a smaller heatmap than the configured one."""
    screenshot: ScreenshotCheck | None = None
    """The exact pixel-for-pixel check (pixel method on screenshots), for the result."""


class Method(Protocol):
    """A comparison method in the registry."""

    name: MethodName
    decode_side: int | None
    """Long side the method needs at most (a JPEG may then be decoded smaller); None: full."""

    def availability(self) -> Availability:
        """Ready, loading or unavailable (with the reason and how to fix it)."""
        ...

    def compare(self, a: DecodedImage, b: DecodedImage, options: CompareOptions) -> Comparison:
        """Score the pair and say where it differs; raise ``ServiceError`` for bad input."""
        ...
