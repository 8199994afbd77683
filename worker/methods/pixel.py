"""Per-pixel perceptual colour difference: which pixels changed visibly.

Colour difference is CIEDE2000 (Sharma, Wu & Dalal 2005, via scikit-image) in CIELAB, after a
slight Gaussian smoothing of both images (sigma 0.7 px): a simple stand-in for the eye's spatial
pooling, the idea of S-CIELAB (Zhang & Wandell 1996), so that invisible compression noise does not
count. A pixel counts as changed when its difference exceeds the just-noticeable difference *and*
no pixel in B's 3x3 neighbourhood comes within it (CIE76, cheaper): one-pixel shifts of edges,
anti-aliasing and resampling after alignment then do not count as edits. The score is the share
of compared pixels that did not change.

Transparency is compared too (``worker.transparency``): the colour is compared composited over
white, and a pixel whose alpha changed by more than ``ALPHA_JND`` (again beyond its 3x3
neighbourhood in B) counts as changed as well, so that a transparent background made opaque
white, invisible over white, is still a change.
"""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
from skimage.color import deltaE_ciede2000, rgb2lab

from shared.methods import MethodName
from shared.schemas import HeatmapLegend, MethodState, ScreenshotCheck, WeightsSource
from worker.decode import DecodedImage
from worker.geometry import greyscale_side, prepare_pair
from worker.methods.base import Availability, CompareOptions, Comparison
from worker.screenshot import (
    LOSSLESS_FORMATS,
    changed_regions,
    diff_image,
    exact_difference,
)
from worker.transparency import either_has_alpha, with_alpha

# The commonly cited just-noticeable colour difference (G. Sharma, Digital Color Imaging
# Handbook, 2003: delta E of about 2.3). Configurable through the settings.
DEFAULT_JND = 2.3
WORK_SIDE = 1024  # differences are measured on at most this long side, for bounded cost
DISPLAY_SPAN = 20.0  # delta E00 at which the heatmap reaches full red
POOLING_SIGMA = 0.7  # px; spatial pooling before colour differences (see module docstring)
ALPHA_JND = 2.5
"""Alpha levels (of 255) above which a change of opacity counts. The smallest change that can
be seen: over 125 colours (each channel 0, 64, 128, 192, 255) composited over each other, an
alpha change of 3 levels is the first to move some composite (green over dark grey) by the
colour JND, 2.3 delta E00; 2 levels move none that far."""


def _shrink(pixels: np.ndarray, scale: float) -> np.ndarray:
    if scale >= 1.0:
        return pixels
    size = (max(1, round(pixels.shape[1] * scale)), max(1, round(pixels.shape[0] * scale)))
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)


def neighbourhood_min_distance(lab_a: np.ndarray, lab_b: np.ndarray) -> np.ndarray:
    """For each pixel of A, the smallest CIE76 distance to B's pixels in a 3x3 neighbourhood."""
    padded = np.pad(lab_b, ((1, 1), (1, 1), (0, 0)), mode="edge")
    height, width = lab_a.shape[:2]
    best = np.full((height, width), np.inf, dtype=np.float32)
    for dy in range(3):
        for dx in range(3):
            shifted = padded[dy : dy + height, dx : dx + width]
            distance = np.sqrt(((lab_a - shifted) ** 2).sum(axis=-1)).astype(np.float32)
            np.minimum(best, distance, out=best)
    return best


class PixelDifferenceMethod:
    """Share of visibly unchanged pixels, with a map of where and how much they changed."""

    name = MethodName.PIXEL
    decode_side: int | None = None

    def __init__(self, jnd: float = DEFAULT_JND) -> None:
        self.jnd = jnd

    def availability(self) -> Availability:
        """Needs nothing but the pixels."""
        return Availability(MethodState.READY, None, WeightsSource.NONE, "pixel")

    def compare(self, a: DecodedImage, b: DecodedImage, options: CompareOptions) -> Comparison:
        """CIEDE2000 per pixel after alignment; changed = above the JND beyond anti-aliasing,
        in colour or (when either image has transparency) in opacity.

        With a screenshot option the comparison is the exact one (``_compare_exact``). A pair
        that may be screenshots (same size, lossless) keeps the calibrated score and verdict of
        the smoothed comparison, and gets the exact check beside it (``screenshot``), so that
        no change is hidden and the verdict means what the calibration measured."""
        if options.screenshot_requested:
            return self._compare_exact(a, b, options)
        comparison = self._compare_smoothed(a, b, options)
        if may_be_screenshots(a, b):
            comparison = replace(
                comparison, screenshot=self._compare_exact(a, b, options).screenshot
            )
        return comparison

    def _compare_smoothed(
        self, a: DecodedImage, b: DecodedImage, options: CompareOptions
    ) -> Comparison:
        """The calibrated comparison: smoothed, at most ``WORK_SIDE``, after alignment."""
        transparent = either_has_alpha(a, b)
        if transparent:  # the alpha travels with the colour through the same geometry
            frame = prepare_pair(
                with_alpha(a),
                with_alpha(b),
                align=bool(options.align),
                shared=options.registration,
            )
        else:
            frame = prepare_pair(
                a.pixels, b.pixels, align=bool(options.align), shared=options.registration
            )
        scale = min(1.0, WORK_SIDE / max(frame.a.shape[:2]))
        small_a, small_b = _shrink(frame.a, scale), _shrink(frame.b, scale)
        covered = np.ones(small_a.shape[:2], dtype=bool)
        if frame.coverage is not None:
            covered = _shrink(frame.coverage.astype(np.uint8) * 255, scale) > 254
        pooled_a = cv2.GaussianBlur(small_a, (0, 0), POOLING_SIGMA)
        pooled_b = cv2.GaussianBlur(small_b, (0, 0), POOLING_SIGMA)
        lab_a = rgb2lab(np.ascontiguousarray(pooled_a[..., :3])).astype(np.float32)
        lab_b = rgb2lab(np.ascontiguousarray(pooled_b[..., :3])).astype(np.float32)
        delta = deltaE_ciede2000(lab_a, lab_b).astype(np.float32)
        colour_changed = (delta > self.jnd) & (neighbourhood_min_distance(lab_a, lab_b) > self.jnd)
        colour_changed &= covered
        heat = np.where(
            colour_changed,
            0.35 + 0.65 * np.clip((delta - self.jnd) / (DISPLAY_SPAN - self.jnd), 0.0, 1.0),
            0.0,
        ).astype(np.float32)
        alpha_changed = np.zeros_like(colour_changed)
        if transparent:
            # Opacity unpooled: an alpha edge is exact, not noise the eye averages away, and
            # pooling would count a ring of unchanged pixels around every changed area.
            opacity_a = small_a[..., 3:].astype(np.float32)
            opacity_b = small_b[..., 3:].astype(np.float32)
            alpha_delta = np.abs(opacity_a - opacity_b)[..., 0]
            alpha_changed = (alpha_delta > ALPHA_JND) & covered
            alpha_changed &= neighbourhood_min_distance(opacity_a, opacity_b) > ALPHA_JND
            alpha_heat = 0.35 + 0.65 * np.clip(
                (alpha_delta - ALPHA_JND) / (255.0 - ALPHA_JND), 0.0, 1.0
            )
            heat = np.maximum(heat, np.where(alpha_changed, alpha_heat, 0.0)).astype(np.float32)
        # Opacity is counted apart: the score is the colour as seen over white, so a copy whose
        # transparency was flattened (or added) reads as the same picture, while
        # alpha_changed_percent, the map and the explanation say the transparency differs.
        changed = colour_changed
        compared = int(covered.sum()) or 1
        changed_share = float(changed.sum()) / compared
        alpha_share = float(alpha_changed.sum()) / compared
        full = cv2.resize(
            heat, (frame.a.shape[1], frame.a.shape[0]), interpolation=cv2.INTER_NEAREST
        )
        visible = delta[covered]
        note = frame.note
        if scale < 1.0:
            note += f" Differences were measured at {small_a.shape[1]}x{small_a.shape[0]}."
        if transparent:
            note += _transparency_note(a, b, alpha_share)
        return Comparison(
            score=1.0 - changed_share,
            difference_map=frame.place_in_a(full),
            legend=self._legend(transparent),
            preparation=note,
            alignment=frame.alignment,
            metrics={
                "changed_percent": round(changed_share * 100, 4),
                "changed_pixels": float(changed.sum()),
                "compared_pixels": float(compared),
                "alpha_changed_percent": round(alpha_share * 100, 4),
                "mean_delta_e2000": round(float(visible.mean()) if visible.size else 0.0, 4),
                "max_delta_e2000": round(float(visible.max()) if visible.size else 0.0, 4),
                "jnd_delta_e2000": self.jnd,
            },
        )

    def _compare_exact(
        self, a: DecodedImage, b: DecodedImage, options: CompareOptions
    ) -> Comparison:
        """Pixel for pixel at full resolution over the common top-left area, no smoothing, no
        alignment (``worker.screenshot``): every change above the threshold is counted."""
        threshold = options.threshold if options.threshold is not None else self.jnd
        detect_aa = options.antialiasing is not False
        height = min(a.pixels.shape[0], b.pixels.shape[0])
        width = min(a.pixels.shape[1], b.pixels.shape[1])
        sizes_differ = a.pixels.shape[:2] != b.pixels.shape[:2]
        difference = exact_difference(
            a.pixels[:height, :width],
            b.pixels[:height, :width],
            None if a.alpha is None else a.alpha[:height, :width],
            None if b.alpha is None else b.alpha[:height, :width],
            threshold,
            detect_aa,
            options.ignore_regions,
        )
        changed = difference.changed
        changed_count = int(changed.sum())
        ignored = int(difference.ignored.sum())
        compared = height * width - ignored
        compared_or_1 = compared or 1
        share = changed_count / compared_or_1
        regions, region_count = changed_regions(changed, difference.delta)
        check = ScreenshotCheck(
            passed=_passed(options, changed_count, share, sizes_differ),
            changed_pixels=changed_count,
            changed_percent=round(share * 100, 6),
            compared_pixels=compared,
            antialiased_pixels=int(difference.antialiased.sum()),
            ignored_pixels=ignored,
            threshold_delta_e2000=threshold,
            antialiasing=detect_aa,
            max_changed_pixels=options.max_changed_pixels,
            max_changed_percent=options.max_changed_percent,
            sizes_differ=sizes_differ,
            compared_width=width,
            compared_height=height,
            region_count=region_count,
            regions=regions,
            summary="",
            diff_image=diff_image(a.pixels, difference) if options.diff_image else None,
        )
        check.summary = check_summary(check)
        delta = difference.delta
        span = max(DISPLAY_SPAN - threshold, 1e-6)
        heat = np.where(
            changed, 0.35 + 0.65 * np.clip((delta - threshold) / span, 0.0, 1.0), 0.0
        ).astype(np.float32)
        heat[difference.ignored] = np.nan  # not compared: grey on the map, as outside B
        full = np.full(a.pixels.shape[:2], np.nan, dtype=np.float32)
        full[:height, :width] = heat
        kept = delta[~difference.ignored]
        note = f"Compared pixel for pixel at full resolution ({width}x{height}), without "
        note += "resizing, smoothing or alignment"
        note += ", anti-aliased and one-pixel-shifted edge pixels left out." if detect_aa else "."
        if sizes_differ:
            note += (
                f" The sizes differ ({a.pixels.shape[1]}x{a.pixels.shape[0]} and "
                f"{b.pixels.shape[1]}x{b.pixels.shape[0]}): only the common top-left area "
                f"was compared."
            )
        if ignored:
            note += f" {len(options.ignore_regions)} ignored region(s), {ignored} pixels."
        warnings = []
        if a.reduced or b.reduced:
            warnings.append(
                "An image was decoded at reduced scale (over ISC_MAX_IMAGE_PIXELS): pixel "
                "coordinates are those of the reduced image."
            )
        if a.alpha is not None or b.alpha is not None:
            note += _transparency_note(a, b, float(difference.alpha_changed.sum()) / compared_or_1)
        # The score counts colour as seen over white, as the smoothed comparison does (a copy
        # whose transparency was flattened is the same picture); the check counts opacity too.
        colour_share = float(difference.colour_changed.sum()) / compared_or_1
        return Comparison(
            score=1.0 - colour_share,
            difference_map=full,
            legend=self._legend(a.alpha is not None or b.alpha is not None, threshold, ignored > 0),
            preparation=note,
            warnings=warnings,
            metrics={
                "changed_percent": round(colour_share * 100, 4),
                "changed_pixels": float(difference.colour_changed.sum()),
                "compared_pixels": float(compared),
                "alpha_changed_percent": round(
                    float(difference.alpha_changed.sum()) / compared_or_1 * 100, 4
                ),
                "antialiased_pixels": float(check.antialiased_pixels),
                "mean_delta_e2000": round(float(kept.mean()) if kept.size else 0.0, 4),
                "max_delta_e2000": round(float(kept.max()) if kept.size else 0.0, 4),
                "jnd_delta_e2000": threshold,
            },
            screenshot=check,
        )

    def _legend(
        self, transparent: bool, jnd: float | None = None, ignored: bool = False
    ) -> HeatmapLegend:
        jnd = self.jnd if jnd is None else jnd
        opacity = f", or opacity changed by more than {ALPHA_JND:g} of 255" if transparent else ""
        return HeatmapLegend(
            low=f"blue: no visible change (colour difference below {jnd:g} delta E00, "
            "or explained by anti-aliasing)",
            high=f"green to red: visibly changed, from {jnd:g} to {DISPLAY_SPAN:g}+ "
            f"delta E00 (CIEDE2000){opacity}",
            no_counterpart="grey: this part of A has no counterpart in B"
            + (" or lies in an ignored region" if ignored else ""),
            scale=f"changed pixels start at green; red = a colour difference of "
            f"{DISPLAY_SPAN:g} delta E00 or more"
            + (" (or a change from transparent to opaque)" if transparent else ""),
        )


def _transparency_note(a: DecodedImage, b: DecodedImage, alpha_share: float) -> str:
    """What the comparison of opacity found."""
    which = [label for label, image in (("A", a), ("B", b)) if image.alpha is not None]
    owners = f"only {which[0]} has" if len(which) == 1 else "both have"
    if alpha_share > 0:
        return (
            f" Transparency differs ({owners} transparency): the opacity of "
            f"{alpha_share * 100:.1f} % of the compared pixels changed by more than "
            f"{ALPHA_JND:g} of 255 levels (alpha_changed_percent, marked on the map); the score "
            f"counts colour only, as seen over white."
        )
    return (
        f" Transparency is the same ({owners} transparency; opacity compared with the colour, "
        f"colour over white)."
    )


def may_be_screenshots(a: DecodedImage, b: DecodedImage) -> bool:
    """Both images the same size in a lossless format (a PNG pair from a browser, not JPEG
    photos, whose compression noise the smoothed comparison is there to forgive), and not a
    colour picture against its greyscale copy: worth an exact check beside the score."""
    return (
        a.pixels.shape[:2] == b.pixels.shape[:2]
        and a.info.format in LOSSLESS_FORMATS
        and b.info.format in LOSSLESS_FORMATS
        and greyscale_side(a.pixels, b.pixels) is None
    )


def _passed(options: CompareOptions, changed: int, share: float, sizes_differ: bool) -> bool | None:
    """Within the limits given (and the same size); None when no limit was given."""
    if options.max_changed_pixels is None and options.max_changed_percent is None:
        return None
    if sizes_differ:
        return False
    if options.max_changed_pixels is not None and changed > options.max_changed_pixels:
        return False
    return not (
        options.max_changed_percent is not None and share * 100 > options.max_changed_percent
    )


def check_summary(check: ScreenshotCheck) -> str:
    """One sentence that never hides a change: 'N regions changed (...)', then the verdict."""
    if check.changed_pixels:
        regions = "1 region" if check.region_count == 1 else f"{check.region_count} regions"
        text = (
            f"{regions} changed ({check.changed_pixels} pixels, "
            f"{check.changed_percent:.4g} % of the compared pixels, above "
            f"{check.threshold_delta_e2000:g} delta E00)"
        )
    else:
        text = f"No pixel changed by more than {check.threshold_delta_e2000:g} delta E00"
    extras = []
    if check.antialiased_pixels:
        extras.append(
            f"{check.antialiased_pixels} anti-aliased or one-pixel-shifted edge pixels left out"
        )
    if check.ignored_pixels:
        extras.append(f"{check.ignored_pixels} pixels in ignored regions")
    if extras:
        text += "; " + ", ".join(extras)
    text += "."
    if check.sizes_differ:
        text += (
            f" The sizes differ: only the common {check.compared_width}x"
            f"{check.compared_height} area was compared."
        )
    if check.passed is True:
        text += " Check passed."
    elif check.passed is False:
        limits = []
        if check.max_changed_pixels is not None:
            limits.append(f"max_changed_pixels={check.max_changed_pixels}")
        if check.max_changed_percent is not None:
            limits.append(f"max_changed_percent={check.max_changed_percent:g}")
        why = "the sizes differ" if check.sizes_differ else "over " + " and ".join(limits)
        text += f" Check failed ({why})."
    return text
