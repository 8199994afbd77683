"""Alignment recovers known shifts, crops, scalings and rotations of a real photo, and is applied
only when B has moved and the registration makes the pair agree better."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import pytest

from shared.methods import MethodName
from tests.support.images import astronaut, coffee, jpeg
from tests.support.paths import EINSTEIN, PHOTOS, require
from tests.unit.test_ssim import PUBLISHED
from worker import alignment
from worker.alignment import register
from worker.decode import DecodedImage, decode_image
from worker.geometry import prepare_pair
from worker.methods.base import CompareOptions, Comparison
from worker.methods.ssim import SsimMethod
from worker.metrics import mean_over_coverage, structural_similarity


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


def _corner_error(found: list[list[float]], truth: np.ndarray, width: int, height: int) -> float:
    """Largest distance, over B's corners, between where the found and the true transform put
    them in A."""
    corners = np.array([[0, 0], [width, 0], [0, height], [width, height]], dtype=float)
    return float(np.abs(_apply(np.array(found), corners) - _apply(truth, corners)).max())


def test_recovers_a_crop_and_shift_within_two_pixels() -> None:
    a = coffee()  # 600 x 400
    top, left = 37, 61
    b = a[top : top + 300, left : left + 450]
    registration = register(a, b)
    assert registration.info.applied
    truth = np.array([[1.0, 0.0, left], [0.0, 1.0, top]])
    assert _corner_error(registration.info.matrix, truth, 450, 300) <= 2.0
    assert registration.info.coverage_percent == pytest.approx(100 * 300 * 450 / 240_000, abs=3)


@pytest.mark.parametrize(("angle", "scale"), [(5.0, 1.0), (-12.0, 1.0), (0.0, 0.7), (8.0, 1.25)])
def test_recovers_rotation_and_scale_within_two_pixels(angle: float, scale: float) -> None:
    a = astronaut()
    height, width = a.shape[:2]
    # B = A rotated and scaled about its centre; the true B->A map is the inverse.
    forward = cv2.getRotationMatrix2D((width / 2, height / 2), angle, scale)
    b = cv2.warpAffine(a, forward, (width, height), borderMode=cv2.BORDER_REFLECT)
    truth = cv2.invertAffineTransform(forward)
    registration = register(a, b)
    assert registration.info.applied
    assert _corner_error(registration.info.matrix, truth, width, height) <= 2.0
    assert registration.info.rotation_deg == pytest.approx(angle, abs=0.5)  # B turned by angle


def test_alignment_raises_ssim_above_the_unaligned_comparison() -> None:
    a = coffee()
    b = np.ascontiguousarray(a[12:, 20:])  # the same scene, shifted
    aligned = prepare_pair(a, b, align=True, min_side=11)
    plain = prepare_pair(a, b, align=False, min_side=11)
    assert aligned.alignment is not None and aligned.alignment.applied
    aligned_score = mean_over_coverage(
        structural_similarity(aligned.a, aligned.b), aligned.coverage
    )
    plain_score = structural_similarity(plain.a, plain.b).mssim
    assert aligned_score > 0.95
    assert plain_score < 0.6
    assert "registered onto A" in aligned.note


def test_does_not_align_different_photos() -> None:
    registration = register(astronaut(), coffee())
    assert not registration.info.applied
    assert registration.warped_b is None
    assert "weak" in registration.info.note or "few" in registration.info.note


def test_identical_images_need_no_alignment() -> None:
    a = coffee()
    registration = register(a, a.copy())
    assert not registration.info.applied
    assert registration.info.note.startswith("already aligned")


# --- Alignment is applied only when it helps (issue 11) -------------------------------------


def _photo(name: str) -> np.ndarray:
    return decode_image(require(PHOTOS / name).read_bytes(), name, 10**8).pixels


def _jpeg_copy(pixels: np.ndarray, quality: int) -> np.ndarray:
    return decode_image(jpeg(pixels, quality), "image_b", 10**8).pixels


def _noisy(pixels: np.ndarray, sigma: float) -> np.ndarray:
    noise = np.random.default_rng(7).normal(0, sigma, pixels.shape)
    return np.clip(pixels + noise, 0, 255).astype(np.uint8)


def _blurred(sigma: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda pixels: cv2.GaussianBlur(pixels, (0, 0), sigma)


# Copies that did not move. cat.png blurred by sigma 2 and 3 and hot_dog_3.png by sigma 3 are
# three that registering whenever features allowed warped by 0.3-2.3 px, changing their SSIM.
UNMOVED: dict[str, tuple[str, Callable[[np.ndarray], np.ndarray]]] = {
    "cat blur 2": ("cat.png", _blurred(2.0)),
    "cat blur 3": ("cat.png", _blurred(3.0)),
    "hot dog blur 3": ("hot_dog_3.png", _blurred(3.0)),
    "grace hopper blur 0.5": ("grace_hopper.png", _blurred(0.5)),
    "dog noise 5": ("dog_1.png", lambda p: _noisy(p, 5)),
    "hot dog noise 25": ("hot_dog_3.png", lambda p: _noisy(p, 25)),
    "owl JPEG 10": ("owl.jpg", lambda p: _jpeg_copy(p, 10)),
    "parrot JPEG 50": ("parrot.jpg", lambda p: _jpeg_copy(p, 50)),
    "bird JPEG 95": ("bird.png", lambda p: _jpeg_copy(p, 95)),
}


def _ssim(a: np.ndarray, b: np.ndarray, align: bool | None) -> Comparison:
    """SSIM through the method, ``align=None`` being the default a request gets."""
    options = CompareOptions(align=align).for_method(MethodName.SSIM)
    return SsimMethod().compare(DecodedImage.from_pixels(a), DecodedImage.from_pixels(b), options)


@pytest.mark.parametrize("case", UNMOVED)
def test_a_copy_that_did_not_move_scores_exactly_as_without_alignment(case: str) -> None:
    name, degrade = UNMOVED[case]
    a = _photo(name)
    b = degrade(a)
    default = _ssim(a, b, None)
    plain = _ssim(a, b, False)
    assert default.alignment is not None and not default.alignment.applied
    assert default.alignment.note.startswith("already aligned: B has not moved")
    assert default.score == plain.score  # to the last digit
    assert np.array_equal(default.difference_map, plain.difference_map, equal_nan=True)
    assert default.preparation.startswith("Alignment: already aligned")


@pytest.mark.parametrize(("name", "published"), PUBLISHED.items())
def test_published_einstein_values_hold_with_alignment_at_its_default(
    name: str, published: float
) -> None:
    def load(stem: str) -> np.ndarray:
        return decode_image(require(EINSTEIN / f"{stem}.gif").read_bytes(), stem, 10**8).pixels

    result = _ssim(load("einstein"), load(name), None)
    assert result.alignment is not None and result.alignment.requested
    assert result.alignment.note.startswith("already aligned: B has not moved")
    assert result.score == pytest.approx(published, abs=0.001)


def _shifted(pixels: np.ndarray, dx: float, dy: float) -> np.ndarray:
    height, width = pixels.shape[:2]
    shift = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(pixels, shift, (width, height), borderMode=cv2.BORDER_REFLECT)


def _rotated(pixels: np.ndarray, angle: float) -> np.ndarray:
    height, width = pixels.shape[:2]
    turn = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    return cv2.warpAffine(pixels, turn, (width, height), borderMode=cv2.BORDER_REFLECT)


MOVED: dict[str, tuple[str, Callable[[np.ndarray], np.ndarray]]] = {
    "shifted 1 px": ("dog_2.png", lambda p: _shifted(p, 1, 0)),
    "shifted 2 px": ("cat.png", lambda p: _shifted(p, 2, 1)),
    "shifted 40 px": ("owl.jpg", lambda p: _shifted(p, 40, 20)),
    "cropped to 80 %": ("parrot.jpg", lambda p: np.ascontiguousarray(p[60:-120, 40:-60])),
    "crop enlarged back": (
        "hot_dog_4.png",
        lambda p: cv2.resize(p[20:-20, 25:-25], p.shape[1::-1], interpolation=cv2.INTER_LINEAR),
    ),
    "rotated 2 degrees": ("bird.png", lambda p: _rotated(p, 2.0)),
    "rotated 20 degrees": ("dragonfly.png", lambda p: _rotated(p, 20.0)),
}


@pytest.mark.parametrize("case", MOVED)
def test_a_shifted_cropped_or_rotated_copy_is_still_registered(case: str) -> None:
    name, move = MOVED[case]
    a = _photo(name)
    b = move(a)
    default = _ssim(a, b, None)
    plain = _ssim(a, b, False)
    assert default.alignment is not None and default.alignment.applied
    assert default.alignment.note.startswith("B was registered onto A, raising their agreement")
    # Clearly better: at least a fifth of the unaligned dissimilarity is gone.
    assert 1 - default.score < 0.8 * (1 - plain.score)


def test_the_feature_search_does_not_run_for_a_pair_that_did_not_move(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*_: object) -> None:
        raise AssertionError("feature search ran on a pair that did not move")

    monkeypatch.setattr(alignment, "estimate_transform", refuse)
    a = _photo("pets.jpg")
    registration = register(a, _jpeg_copy(a, 40))
    assert registration.info.note == alignment.STILL_NOTE
    with pytest.raises(AssertionError, match="feature search ran"):
        register(a, _shifted(a, 3, 0))  # a moved pair does get there


def test_probe_tells_unmoved_copies_from_moved_ones() -> None:
    a = _photo("sunflower.png")
    assert alignment.has_not_moved(a, _blurred(1.5)(a))
    assert alignment.has_not_moved(a, _noisy(a, 15))
    assert not alignment.has_not_moved(a, _shifted(a, 1, 0))
    assert not alignment.has_not_moved(a, _shifted(a, 0, -1))
    assert not alignment.has_not_moved(a, _rotated(a, 2.0))
    scaled = cv2.resize(a[10:-10, 15:-15], a.shape[1::-1], interpolation=cv2.INTER_LINEAR)
    assert not alignment.has_not_moved(a, scaled)
    assert not alignment.has_not_moved(a, a[:, :-1])  # different sizes: not probed


def test_a_registration_that_does_not_help_is_rejected_and_says_why() -> None:
    # B is A shrunk as a whole: the unaligned policy scales it back exactly, so the transform
    # the feature search finds cannot make the pair agree clearly better.
    a = _photo("cat_2.png")
    b = cv2.resize(a, (a.shape[1] // 2, a.shape[0] // 2), interpolation=cv2.INTER_AREA)
    registration = register(a, b)
    assert not registration.info.applied and registration.warped_b is None
    assert registration.info.scale == pytest.approx(2.0, abs=0.01)  # it was found, though
    assert registration.info.note.startswith("registration rejected: it did not make the")
    frame = prepare_pair(a, b, align=True)
    assert frame.note.startswith("Not aligned: registration rejected")
    plain = prepare_pair(a, b, align=False)
    assert np.array_equal(frame.b, plain.b)


def test_different_photographs_stop_at_the_screening_pass() -> None:
    """Two photos that share no scene are turned away by the cheap screening pass: what the
    result reports is that pass's match count, and the precise pass would have found more
    candidate matches (so it was not the one that ran)."""
    a = astronaut()
    b = cv2.resize(coffee(), (a.shape[1], a.shape[0]))
    screened = alignment.estimate_transform(a, b, alignment.SCREEN_SIDE, alignment.SCREEN_FEATURES)
    precise = alignment.estimate_transform(a, b)
    registration = register(a, b)
    assert not registration.info.applied
    assert registration.info.note.startswith("the feature match is weak")
    assert (registration.info.matches, registration.info.inliers) == screened[1:]
    assert precise[1] != screened[1]


def test_moved_copies_pass_the_screening_pass_and_get_the_precise_transform() -> None:
    """A moved copy passes the screen; the transform used is the precise pass's."""
    a = astronaut()
    height, width = a.shape[:2]
    forward = cv2.getRotationMatrix2D((width / 2, height / 2), 15.0, 0.8)
    b = cv2.warpAffine(a, forward, (width, height), borderMode=cv2.BORDER_REFLECT)
    registration = register(a, b)
    precise, matches, inliers = alignment.estimate_transform(a, b)
    assert registration.info.applied
    assert precise is not None
    assert (registration.info.matches, registration.info.inliers) == (matches, inliers)
    assert np.allclose(registration.info.matrix, precise, atol=1e-5)


def test_one_registration_serves_every_aligning_method_of_a_request() -> None:
    """SSIM, MS-SSIM, the pixel method (here with an alpha channel, so its B is RGBA) and a
    second pass share one search: the same transform, each with its own resampled B."""
    from worker.alignment import SharedRegistration
    from worker.methods.ms_ssim import MsSsimMethod
    from worker.methods.pixel import PixelDifferenceMethod

    a = coffee()
    b = np.ascontiguousarray(a[37:337, 61:511])
    alpha = np.full(b.shape[:2], 255, np.uint8)
    alpha[:20, :20] = 0  # a transparent corner: the pixel method warps an RGBA B
    image_a = DecodedImage.from_pixels(a)
    image_b = DecodedImage.from_pixels(b)
    image_b_alpha = DecodedImage(image_b.pixels, image_b.info, alpha=alpha)
    shared = SharedRegistration()
    options = CompareOptions(align=True, registration=shared)
    results = [
        SsimMethod().compare(image_a, image_b, options),
        MsSsimMethod().compare(image_a, image_b, options),
        PixelDifferenceMethod().compare(image_a, image_b_alpha, options),
    ]
    assert shared.searches == 1
    matrices = [r.alignment.matrix for r in results if r.alignment is not None]
    assert len(matrices) == 3 and all(m == matrices[0] for m in matrices)
    assert results[0].alignment is not None and results[0].alignment.applied
    alone = SsimMethod().compare(image_a, image_b, CompareOptions(align=True))
    assert alone.score == results[0].score  # sharing changes nothing but the work
