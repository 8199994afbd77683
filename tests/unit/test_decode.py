"""Every accepted format and colour mode decodes to the right RGB pixels; bad files get 4xx."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageOps

from shared.errors import ErrorCode, ServiceError
from tests.support.images import astronaut, encode, png
from worker.decode import decode_image

LIMIT = 50_000_000


def _photo() -> np.ndarray:
    return astronaut()[::4, ::4]  # 128 x 128 real photo


@pytest.mark.parametrize(
    ("fmt", "options", "tolerance"),
    [
        ("PNG", {}, 0),
        ("BMP", {}, 0),
        ("TIFF", {}, 0),
        ("WEBP", {"lossless": True}, 0),
        ("JPEG", {"quality": 95}, 12),
        ("AVIF", {"quality": 90}, 12),
        ("HEIF", {"quality": 90}, 12),
    ],
)
def test_formats_decode_to_the_same_pixels(fmt: str, options: dict, tolerance: int) -> None:
    pixels = _photo()
    decoded = decode_image(encode(pixels, fmt, **options), "image_a", LIMIT)
    assert decoded.pixels.shape == pixels.shape
    assert decoded.pixels.dtype == np.uint8
    assert np.abs(decoded.pixels.astype(int) - pixels).mean() <= tolerance
    assert decoded.info.format == fmt
    assert (decoded.info.width, decoded.info.height) == (128, 128)


def test_gif_uses_the_first_frame() -> None:
    first = Image.new("RGB", (32, 24), (255, 0, 0))
    second = Image.new("RGB", (32, 24), (0, 0, 255))
    buffer = io.BytesIO()
    first.save(buffer, format="GIF", save_all=True, append_images=[second])
    decoded = decode_image(buffer.getvalue(), "image_a", LIMIT)
    assert decoded.info.format == "GIF"
    assert tuple(decoded.pixels[5, 5]) == (255, 0, 0)


def test_grayscale_becomes_three_equal_channels() -> None:
    grey = np.asarray(Image.fromarray(_photo()).convert("L"))
    decoded = decode_image(png(grey), "image_a", LIMIT)
    assert decoded.info.mode == "L"
    assert np.array_equal(decoded.pixels[..., 0], grey)
    assert np.array_equal(decoded.pixels[..., 1], decoded.pixels[..., 2])


def test_palette_image_keeps_its_colours() -> None:
    paletted = Image.fromarray(_photo()).convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    decoded = decode_image(encode(paletted, "PNG"), "image_a", LIMIT)
    assert decoded.info.mode == "P"
    assert np.array_equal(decoded.pixels, np.asarray(paletted.convert("RGB")))


def test_sixteen_bit_grey_is_scaled_by_its_range_not_stretched() -> None:
    ramp = (np.linspace(0, 65535, 64 * 48).reshape(48, 64)).astype(np.uint16)
    image = Image.fromarray(ramp)
    decoded = decode_image(encode(image, "PNG"), "image_a", LIMIT)
    assert decoded.info.mode.startswith("I")
    assert decoded.pixels[0, 0, 0] == 0
    assert decoded.pixels[-1, -1, 0] == 255
    assert decoded.pixels[24, 32, 0] == pytest.approx(ramp[24, 32] / 257, abs=1)


def test_cmyk_jpeg_is_converted_to_rgb() -> None:
    cmyk = Image.fromarray(_photo()).convert("CMYK")
    decoded = decode_image(encode(cmyk, "JPEG", quality=95), "image_a", LIMIT)
    assert decoded.info.mode == "CMYK"
    expected = np.asarray(cmyk.convert("RGB")).astype(int)
    assert np.abs(decoded.pixels.astype(int) - expected).mean() < 12


def test_bilevel_image_is_black_and_white() -> None:
    bilevel = Image.fromarray(_photo()).convert("1")
    decoded = decode_image(encode(bilevel, "PNG"), "image_a", LIMIT)
    assert set(np.unique(decoded.pixels)) <= {0, 255}


def test_transparency_is_composited_over_white() -> None:
    rgba = np.zeros((20, 30, 4), dtype=np.uint8)
    rgba[..., 0] = 200  # red, fully transparent on the left half, opaque on the right
    rgba[:, 15:, 3] = 255
    decoded = decode_image(png(rgba), "image_a", LIMIT)
    assert tuple(decoded.pixels[10, 2]) == (255, 255, 255)
    assert tuple(decoded.pixels[10, 25]) == (200, 0, 0)


def test_the_alpha_is_kept_beside_the_composited_colour() -> None:
    rgba = np.zeros((20, 30, 4), dtype=np.uint8)
    rgba[..., 0] = 200
    rgba[:, 15:, 3] = 255
    rgba[:, 10:15, 3] = 100
    decoded = decode_image(png(rgba), "image_a", LIMIT)
    assert decoded.info.has_alpha
    assert decoded.alpha is not None and decoded.alpha.dtype == np.uint8
    assert np.array_equal(decoded.alpha, rgba[..., 3])


def test_an_opaque_alpha_channel_is_no_transparency() -> None:
    rgba = np.dstack([astronaut()[:40, :50], np.full((40, 50), 255, np.uint8)])
    decoded = decode_image(png(rgba), "image_a", LIMIT)
    assert decoded.alpha is None and not decoded.info.has_alpha
    assert np.array_equal(decoded.pixels, rgba[..., :3])
    assert not decode_image(png(astronaut()[:40, :50]), "image_a", LIMIT).info.has_alpha


def test_a_transparent_palette_entry_and_colour_key_are_transparency() -> None:
    palette = Image.fromarray(np.tile(np.arange(4, dtype=np.uint8), (6, 2)), mode="P")
    palette.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255, 9, 9, 9])
    keyed = Image.fromarray(np.full((6, 8, 3), (10, 20, 30), np.uint8))
    keyed.paste((90, 90, 90), (0, 0, 4, 6))
    for image, options, transparent_column in (
        (palette, {"transparency": 3}, 3),
        (keyed, {"transparency": (10, 20, 30)}, 5),
    ):
        decoded = decode_image(encode(image, "PNG", **options), "image_a", LIMIT)
        assert decoded.alpha is not None, image.mode
        assert decoded.alpha[0, transparent_column] == 0
        assert tuple(decoded.pixels[0, transparent_column]) == (255, 255, 255)
        assert decoded.alpha[0, 0] == 255


def test_half_transparent_grey_with_alpha_blends_with_white() -> None:
    la = Image.fromarray(np.full((8, 8, 2), (0, 128), dtype=np.uint8), mode="LA")
    decoded = decode_image(encode(la, "PNG"), "image_a", LIMIT)
    assert decoded.pixels[0, 0, 0] == pytest.approx(127, abs=1)


@pytest.mark.parametrize(("orientation", "expected_size"), [(1, (40, 20)), (6, (20, 40))])
def test_exif_orientation_is_applied(orientation: int, expected_size: tuple[int, int]) -> None:
    pixels = np.zeros((20, 40, 3), dtype=np.uint8)
    pixels[:, :20] = (255, 0, 0)  # left half red
    exif = Image.Exif()
    exif[0x0112] = orientation
    decoded = decode_image(encode(pixels, "JPEG", quality=95, exif=exif), "image_a", LIMIT)
    assert (decoded.info.width, decoded.info.height) == expected_size
    if orientation == 6:  # rotated 90 degrees clockwise: the red half is now on top
        assert decoded.pixels[2, 10, 0] > 200
        assert decoded.pixels[-3, 10, 0] < 60


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize(("subsampling", "progressive"), [(0, False), (1, True), (2, False)])
def test_a_jpeg_decodes_to_pillows_pixels_in_every_orientation(
    orientation: int, subsampling: int, progressive: bool
) -> None:
    """Whole colour JPEGs are decoded by OpenCV (worker.decode._plain_jpeg), turned upright with
    its array operations: the very pixels Pillow gives, turned by Pillow's exif_transpose."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(
        astronaut()[:300, :200],
        "JPEG",
        quality=85,
        subsampling=subsampling,
        progressive=progressive,
        exif=exif,
    )
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
    decoded = decode_image(data, "image_a", LIMIT)
    assert decoded.pixels.flags.c_contiguous
    np.testing.assert_array_equal(decoded.pixels, expected)
    assert (decoded.info.width, decoded.info.height) == expected.shape[1::-1]


def test_a_jpeg_cut_short_by_its_last_bytes_is_still_refused() -> None:
    """Whole colour JPEGs take OpenCV's way; one that lost its last bytes is refused as
    before, however little is missing (libjpeg itself fills the rest with grey)."""
    data = encode(_photo(), "JPEG", quality=90)
    error = _error(data[:-64])
    assert (error.status_code, error.code) == (422, ErrorCode.CORRUPT_IMAGE)


@pytest.mark.parametrize("fmt", ["AVIF", "HEIF"])
def test_avif_and_heic_orientation_is_applied_once(fmt: str) -> None:
    """AVIF keeps the turn in its irot/imir boxes, which Pillow reports as EXIF orientation;
    libheif turns a HEIC itself and pillow-heif then reports it upright: either way the
    picture comes out turned once, and the size is the turned one."""
    pixels = np.zeros((20, 40, 3), dtype=np.uint8)
    pixels[:, :20] = (255, 0, 0)  # left half red
    exif = Image.Exif()
    exif[0x0112] = 6  # as bytes: pillow-heif turns it into the file's irot box, as a phone does
    decoded = decode_image(encode(pixels, fmt, quality=95, exif=exif.tobytes()), "a", LIMIT)
    assert (decoded.info.width, decoded.info.height) == (20, 40)
    assert decoded.pixels.shape == (40, 20, 3)
    assert decoded.pixels[2, 10, 0] > 200
    assert decoded.pixels[-3, 10, 0] < 60


@pytest.mark.parametrize("fmt", ["AVIF", "HEIF"])
@pytest.mark.parametrize("kept", [0.05, 0.5, 0.95])
def test_truncated_avif_and_heic_are_422(fmt: str, kept: float) -> None:
    data = encode(_photo(), fmt, quality=90)
    error = _error(data[: int(len(data) * kept)])
    assert (error.status_code, error.code) == (422, ErrorCode.CORRUPT_IMAGE)
    assert "truncated or corrupt" in error.message


def _error(data: bytes, limit: int = LIMIT) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        decode_image(data, "image_a", limit)
    return caught.value


def test_empty_file_is_422() -> None:
    error = _error(b"")
    assert (error.status_code, error.code) == (422, ErrorCode.EMPTY_FILE)


def test_text_file_is_415() -> None:
    error = _error(b"name,value\n1,2\n" * 20)
    assert (error.status_code, error.code) == (415, ErrorCode.UNSUPPORTED_MEDIA_TYPE)


def test_truncated_file_is_422() -> None:
    data = encode(_photo(), "PNG")
    error = _error(data[: len(data) // 2])
    assert (error.status_code, error.code) == (422, ErrorCode.CORRUPT_IMAGE)


def test_truncated_jpeg_is_422() -> None:
    data = encode(_photo(), "JPEG", quality=90)
    error = _error(data[: len(data) // 2])
    assert (error.status_code, error.code) == (422, ErrorCode.CORRUPT_IMAGE)


def test_image_over_the_declared_limit_is_413_before_decoding() -> None:
    bomb = encode(Image.new("L", (4000, 4000)), "PNG")  # 16 Mpx in a few kilobytes
    assert len(bomb) < 100_000
    error = _declared_error(bomb, 1_000_000)
    assert (error.status_code, error.code) == (413, ErrorCode.IMAGE_TOO_LARGE)
    assert error.detail["size"] == [4000, 4000]
    assert error.detail["limit_pixels"] == 1_000_000
    # The same file with its pixel data cut off: within the limit, decoding it fails (422);
    # over the limit it is still 413, so the size was refused from the header, undecoded.
    headless = bomb[: len(bomb) // 2]
    assert _error(headless).code is ErrorCode.CORRUPT_IMAGE
    assert _declared_error(headless, 1_000_000).code is ErrorCode.IMAGE_TOO_LARGE


def _declared_error(data: bytes, declared: int) -> ServiceError:
    with pytest.raises(ServiceError) as caught:
        decode_image(data, "image_a", 100_000, max_declared_pixels=declared)
    return caught.value


def test_the_declared_limit_is_pillows_guard_unless_given() -> None:
    """The worker's process sets Pillow's guard to ISC_MAX_DECLARED_PIXELS; decode_image refuses
    above it without being told."""
    data = encode(Image.new("L", (3000, 2000)), "PNG")  # 6 Mpx
    previous = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = 5_000_000
        assert _error(data, limit=1_000_000).code is ErrorCode.IMAGE_TOO_LARGE
        Image.MAX_IMAGE_PIXELS = 7_000_000
        assert decode_image(data, "a", 1_000_000).reduced
    finally:
        Image.MAX_IMAGE_PIXELS = previous


def _big_photo(width: int, height: int) -> np.ndarray:
    import cv2

    return cv2.resize(astronaut(), (width, height), interpolation=cv2.INTER_CUBIC)


@pytest.mark.parametrize(
    ("size", "bound", "expected"),
    [
        ((1024, 768), 786_432, (768, 1024)),  # within the bound: full size, not reduced
        ((1024, 768), 786_431, (384, 512)),  # one pixel over: 1/2
        ((1001, 751), 200_000, (376, 501)),  # odd sides round up, as libjpeg does
        ((1024, 768), 20_000, (96, 128)),  # 1/8, libjpeg's strongest
        ((1024, 768), 5_000, (48, 64)),  # beyond 1/8: then box-averaged by 2
    ],
)
def test_a_jpeg_over_the_bound_is_decoded_at_reduced_scale(
    size: tuple[int, int], bound: int, expected: tuple[int, int]
) -> None:
    pixels = _big_photo(*size)
    decoded = decode_image(encode(pixels, "JPEG", quality=90), "a", bound)
    assert decoded.pixels.shape == (*expected, 3)
    assert decoded.pixels.shape[0] * decoded.pixels.shape[1] <= bound
    assert decoded.reduced == (expected != size[::-1])
    decoded_size = (decoded.info.decoded_height, decoded.info.decoded_width)
    assert decoded_size == (expected if decoded.reduced else (None, None))
    assert (decoded.info.width, decoded.info.height) == size  # the original size
    # The same picture, smaller: within JPEG's error of an area-averaged copy.
    import cv2

    reference = cv2.resize(pixels, expected[::-1], interpolation=cv2.INTER_AREA)
    assert np.abs(decoded.pixels.astype(int) - reference).mean() < 6


@pytest.mark.parametrize(
    ("image", "fmt", "options"),
    [
        (Image.fromarray(_big_photo(1000, 700)), "PNG", {}),
        (Image.fromarray(_big_photo(1000, 700)), "WEBP", {"lossless": True}),
        (Image.fromarray(_big_photo(1000, 700)).convert("P", colors=64), "PNG", {}),
        (Image.fromarray(_big_photo(1000, 700)).convert("RGBA"), "TIFF", {}),
        (Image.fromarray(_big_photo(1000, 700)).convert("L"), "PNG", {}),
    ],
    ids=["png", "webp", "palette", "rgba-tiff", "grey"],
)
def test_other_formats_over_the_bound_are_reduced_after_decoding(
    image: Image.Image, fmt: str, options: dict
) -> None:
    decoded = decode_image(encode(image, fmt, **options), "a", 100_000)
    # Factor 3 is the smallest that fits: ceil(1000/3) x ceil(700/3) = 334 x 234.
    assert decoded.pixels.shape == (234, 334, 3)
    assert decoded.reduced
    assert (decoded.info.width, decoded.info.height) == (1000, 700)
    full = np.asarray(image.convert("RGB"), dtype=np.float64)
    block = full[:699, :999].reshape(233, 3, 333, 3, 3).mean(axis=(1, 3))
    assert np.abs(decoded.pixels[:233, :333] - block).max() <= 1  # box averages, rounded


def test_sixteen_bit_grey_over_the_bound_keeps_its_range() -> None:
    ramp = np.tile(np.linspace(0, 65535, 900), (600, 1)).astype(np.uint16)
    decoded = decode_image(encode(Image.fromarray(ramp), "PNG"), "a", 100_000)
    assert decoded.pixels.shape == (200, 300, 3)
    assert decoded.pixels[0, 0, 0] == 0
    assert decoded.pixels[0, -1, 0] == 255


def test_reduction_and_exif_orientation_together() -> None:
    pixels = _big_photo(1200, 800)
    pixels[:, :600] = (255, 0, 0)  # left half red
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned a quarter clockwise: the red half on top
    for data in (
        encode(pixels, "JPEG", quality=95, exif=exif),
        encode(pixels, "PNG", exif=exif),
    ):
        decoded = decode_image(data, "a", 300_000)
        assert decoded.reduced
        assert (decoded.info.width, decoded.info.height) == (800, 1200)
        assert decoded.pixels.shape == (600, 400, 3)
        assert decoded.pixels[10, 200, 0] > 200 and decoded.pixels[10, 200, 1] < 60
        assert decoded.pixels[-10, 200, 1] > 60 or decoded.pixels[-10, 200, 0] < 200


def test_the_method_side_and_the_bound_take_the_stronger_reduction() -> None:
    data = encode(_big_photo(1600, 1200), "JPEG", quality=90)
    # The bound alone asks for 1/2; the method needs only 200 px: 1/4 is the strongest that
    # still gives 200 px on the long side.
    assert decode_image(data, "a", 1_000_000).pixels.shape == (600, 800, 3)
    assert decode_image(data, "a", 1_000_000, enough_side=200).pixels.shape == (150, 200, 3)
    assert decode_image(data, "a", 50_000, enough_side=600).pixels.shape == (150, 200, 3)


def test_unsupported_format_is_415() -> None:
    error = _error(encode(_photo(), "PPM"))
    assert error.status_code == 415
    assert "PPM" in error.message


def test_reduced_jpeg_decoding_keeps_the_full_size_in_info() -> None:
    import cv2

    big = cv2.resize(astronaut(), (1024, 768))
    decoded = decode_image(encode(big, "JPEG", quality=90), "a", LIMIT, enough_side=300)
    assert 300 <= max(decoded.pixels.shape[:2]) < 1024  # decoded at a reduced scale
    assert (decoded.info.width, decoded.info.height) == (1024, 768)
    full = decode_image(encode(big, "JPEG", quality=90), "a", LIMIT)
    assert full.pixels.shape[:2] == (768, 1024)
    exif = Image.Exif()
    exif[0x0112] = 6
    turned = decode_image(encode(big, "JPEG", quality=90, exif=exif), "a", LIMIT, enough_side=300)
    assert (turned.info.width, turned.info.height) == (768, 1024)
    assert turned.pixels.shape[0] > turned.pixels.shape[1]
    lossless = decode_image(encode(big, "PNG"), "a", LIMIT, enough_side=300)
    assert lossless.pixels.shape[:2] == (768, 1024)  # only JPEG has cheap reduced decoding
