"""The heatmap keeps A's aspect ratio, maps low to blue and high to red, and greys the rest."""

from __future__ import annotations

import base64
import io

import cv2
import numpy as np
from PIL import Image
from skimage import data

from shared.schemas import HeatmapFormat
from worker.heatmap import colorize, data_url, render_overlay, resize_masked


def test_low_is_blue_and_high_is_red() -> None:
    low, high = colorize(np.array([[0.0, 1.0]], dtype=np.float32))[0]
    assert low[2] > low[0]  # blue beats red at 0
    assert high[0] > high[2]  # red beats blue at 1
    assert high[0] > 100


def test_colours_are_the_turbo_levels_of_the_clipped_rounded_values() -> None:
    values = np.array([[np.nan, -0.5, 0.0, 0.5, 0.2 / 255, 1.0, 1.7]], dtype=np.float32)
    turbo = cv2.cvtColor(
        cv2.applyColorMap(np.arange(256, dtype=np.uint8)[None], cv2.COLORMAP_TURBO),
        cv2.COLOR_BGR2RGB,
    )[0]
    levels = [
        0,
        0,
        0,
        128,
        0,
        255,
        255,
    ]  # NaN and below 0 -> 0; 0.5 -> 127.5 -> 128; above 1 -> 255
    assert np.array_equal(colorize(values)[0], turbo[levels])


def test_overlay_has_image_as_aspect_ratio_and_is_capped() -> None:
    image = np.full((300, 1200, 3), 128, dtype=np.uint8)
    difference = np.zeros((30, 120), dtype=np.float32)
    overlay = render_overlay(image, difference, max_side=600)
    assert overlay.shape == (150, 600, 3)


def test_overlay_colours_follow_the_map() -> None:
    image = np.full((100, 200, 3), 128, dtype=np.uint8)
    difference = np.zeros((100, 200), dtype=np.float32)
    difference[:, 100:] = 1.0
    overlay = render_overlay(image, difference, max_side=512).astype(int)
    left, right = overlay[50, 20], overlay[50, 180]
    assert left[2] > left[0]
    assert right[0] > right[2]


def test_no_counterpart_is_neutral_grey() -> None:
    image = np.full((100, 100, 3), 200, dtype=np.uint8)
    difference = np.full((100, 100), np.nan, dtype=np.float32)
    difference[:, :50] = 0.0
    overlay = render_overlay(image, difference, max_side=512)
    grey = overlay[50, 90]
    assert grey[0] == grey[1] == grey[2]


def test_masked_resize_ignores_nan_and_keeps_it_where_most_input_is_nan() -> None:
    values = np.array([[0.2, np.nan], [0.2, np.nan]], dtype=np.float32)
    resized = resize_masked(values, 4, 8)
    assert np.isnan(resized[:, -1]).all()
    assert np.allclose(resized[:, 0], 0.2)


def test_png_data_url_is_lossless() -> None:
    pixels = np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8)
    url = data_url(pixels, HeatmapFormat.PNG)
    assert url.startswith("data:image/png;base64,")
    decoded = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert decoded.format == "PNG"
    assert np.array_equal(np.asarray(decoded), pixels)


def test_jpeg_data_url_keeps_the_colours_of_a_real_overlay() -> None:
    photo = data.astronaut()
    difference = np.linspace(0, 1, 64 * 64, dtype=np.float32).reshape(64, 64)
    overlay = render_overlay(photo, difference, max_side=512)
    url = data_url(overlay, HeatmapFormat.JPEG)
    assert url.startswith("data:image/jpeg;base64,")
    decoded = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert decoded.format == "JPEG"
    error = np.abs(np.asarray(decoded, dtype=np.int16) - overlay.astype(np.int16))
    assert error.mean() < 2.0
    assert len(url) < len(data_url(overlay, HeatmapFormat.PNG)) / 4
