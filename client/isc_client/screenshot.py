"""The pixel method's screenshot check (visual regression, as pixelmatch or odiff do), as one
options object: the service's six form fields travel together, so that ``compare`` keeps a
short signature and a CI script can build the check once and reuse it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shared.ignore_regions import Rectangle, format_ignore_regions


@dataclass(frozen=True)
class ScreenshotOptions:
    """Options of the screenshot check; any one given makes the pixel method compare pixel for
    pixel at full size, and the result's ``screenshot`` say ``passed`` when a limit was given.

    ``threshold``: delta E00 above which a pixel counts as changed (the service's default is the
    just-noticeable difference, 2.3; 0 counts every differing byte). ``antialiasing``: leave
    anti-aliased edge pixels out (the service's default; ``False`` counts them).
    ``ignore_regions``: rectangles ``(x, y, w, h)`` of image A not to compare, or the service's
    text form ``"x,y,w,h;x,y,w,h"``. ``max_changed_pixels`` / ``max_changed_percent``: the
    limits that decide ``passed``. ``diff_image``: also return a pixelmatch-style diff PNG.
    """

    threshold: float | None = None
    antialiasing: bool | None = None
    ignore_regions: str | Sequence[Rectangle] | None = None
    max_changed_pixels: int | None = None
    max_changed_percent: float | None = None
    diff_image: bool = False

    def form_fields(self) -> dict[str, str]:
        """The fields to send, only those given (the service's defaults stay its own)."""
        regions = self.ignore_regions
        fields = {
            "threshold": None if self.threshold is None else repr(float(self.threshold)),
            "antialiasing": None
            if self.antialiasing is None
            else ("true" if self.antialiasing else "false"),
            "ignore_regions": regions
            if isinstance(regions, str) or regions is None
            else format_ignore_regions(tuple((x, y, w, h) for x, y, w, h in regions)),
            "max_changed_pixels": None
            if self.max_changed_pixels is None
            else str(int(self.max_changed_pixels)),
            "max_changed_percent": None
            if self.max_changed_percent is None
            else repr(float(self.max_changed_percent)),
            "diff_image": "true" if self.diff_image else None,
        }
        return {key: value for key, value in fields.items() if value}
