"""Copies that changed shape or colour, through the real service: recognised, compared on what
they share, and named in the result's relation."""

from __future__ import annotations

import cv2
import numpy as np

from tests.support.images import coffee, png
from tests.support.paths import photo
from tests.support.service import Service
from worker.decode import decode_image

PIXEL_METHODS = ("ssim", "ms_ssim", "pixel")


def test_a_squashed_thumbnail_is_unsquashed_and_reads_near_duplicate(service: Service) -> None:
    """A 640x480 photo resized to 300x300, as thumbnailers do."""
    a = cv2.resize(decode_image(photo("dog_1.png"), "a", 10**8).pixels, (640, 480))
    squashed = cv2.resize(a, (300, 300), interpolation=cv2.INTER_AREA)
    for method in PIXEL_METHODS:
        result = service.compare(png(a), png(squashed), method)
        assert result["verdict"] == "near-duplicate", (method, result["explanation"])
        assert result["relation"]["scale_xy"] == [0.4688, 0.625], method
        assert "aspect ratio changed" in result["explanation"]
    cropped = service.compare(png(a), png(squashed), "ssim", align="false")
    assert cropped["relation"] is None and cropped["verdict"] != "near-duplicate"


def test_a_greyscale_copy_is_compared_in_grey_and_says_so(service: Service) -> None:
    a = coffee()
    grey = cv2.cvtColor(cv2.cvtColor(a, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    result = service.compare(png(a), png(grey), "pixel")
    assert result["verdict"] == "near-duplicate", result["explanation"]
    assert result["relation"]["greyscale"] == "b"
    assert "colour was not compared" in result["explanation"]
    assert result["verdict"] != "identical"


def test_photos_of_different_shapes_are_not_taken_for_stretched_copies(service: Service) -> None:
    a = decode_image(photo("cat.png"), "a", 10**8).pixels
    b = cv2.resize(decode_image(photo("dog_1.png"), "b", 10**8).pixels, (300, 300))
    for method in PIXEL_METHODS:
        result = service.compare(png(a), png(b), method)
        assert result["relation"] is None or result["relation"]["scale_xy"] is None, method
        assert result["verdict"] != "near-duplicate", method


def test_a_copy_on_a_larger_canvas_is_found_inside_it(service: Service) -> None:
    a = coffee()  # 600 x 400
    canvas = np.full((520, 760, 3), 255, np.uint8)
    canvas[60:460, 80:680] = a
    result = service.compare(png(a), png(canvas), "ssim")
    assert "registration" in result["relation"]["found_by"], result["explanation"]
    assert result["relation"]["crop_coverage_percent"] > 95
    assert result["verdict"] == "near-duplicate"


def test_the_summary_names_the_relation_first(service: Service) -> None:
    a = coffee()  # 600 x 400
    crop = np.ascontiguousarray(a[60:340, 90:510])  # 70 % of each side
    result = service.compare(png(a), png(crop), "all")
    assert result["summary"].startswith("B is a crop of A showing"), result["summary"]
    assert "blur, compression, noise" not in result["summary"]
    squashed = cv2.resize(a, (300, 300), interpolation=cv2.INTER_AREA)
    result = service.compare(png(a), png(squashed), "all")
    assert result["summary"].startswith("B is A resized to 300x300, its aspect ratio changed."), (
        result["summary"]
    )
