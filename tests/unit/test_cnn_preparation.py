"""Each image is prepared and embedded on its own: the geometry of the candidate preparations,
and (with the real MobileNetV2 weights) an embedding that does not depend on the partner."""

from __future__ import annotations

import numpy as np
import pytest

from shared.methods import MethodName
from shared.settings import Settings
from tests.support.paths import MOBILENET_V2_WEIGHTS, photo, require
from worker.cache import ByteBoundedLRU
from worker.decode import decode_image
from worker.methods.base import CompareOptions
from worker.methods.cnn import CNN_SPECS, CnnMethod
from worker.methods.cnn.canvas import IMAGENET_MEAN_RGB, STRIDE
from worker.methods.cnn.embedding import CANONICAL, canonical_recipe
from worker.methods.cnn.features import cosine
from worker.methods.cnn.preparation import PREPARATION_KINDS, Preparation

WIDE = np.zeros((100, 300, 3), dtype=np.uint8)  # 3:1
WIDE[:, :100] = 255  # a white left third


def test_plain_stretches_to_the_square_and_covers_it() -> None:
    canvas, placement = Preparation("plain", 224).prepare(WIDE)
    assert canvas.shape == (224, 224, 3)
    assert placement.cells.shape == (7, 7) and placement.cells.all()
    assert canvas[:, :70].min() > 254.9 and canvas[:, 80:].max() < 0.1  # left third, stretched


def test_fit_keeps_the_aspect_ratio_and_masks_the_padding() -> None:
    canvas, placement = Preparation("fit", 224).prepare(WIDE)
    _, _, height, width = placement.canvas_box
    assert width / height == pytest.approx(3, rel=0.02) and width == 224
    assert np.allclose(canvas[0, 0], IMAGENET_MEAN_RGB)  # padding: zero after preprocessing
    assert placement.cells[3].all() and not placement.cells[0].any()


def test_crop_keeps_the_centre_square_and_says_what_it_left_out() -> None:
    canvas, placement = Preparation("crop", 224).prepare(WIDE)
    assert canvas.shape == (224, 224, 3) and placement.cells.all()
    assert placement.image_box == (0, 100, 100, 100)  # the middle third of the image
    assert canvas.max() < 0.1  # the white left third is outside the crop
    shown = Preparation("crop", 224).over_image(np.zeros((7, 7), np.float32), placement)
    assert shown.shape[1] / shown.shape[0] == pytest.approx(3, rel=0.02)  # the image's shape
    third = shown.shape[1] // 3
    assert np.isnan(shown[:, : third - 2]).all() and np.isnan(shown[:, -third + 2 :]).all()
    assert not np.isnan(shown[:, third + 2 : -third - 2]).any()


def test_aspect_follows_the_image_in_stride_multiples() -> None:
    canvas, placement = Preparation("aspect", 224).prepare(WIDE)
    height, width = canvas.shape[:2]
    assert height % STRIDE == 0 and width % STRIDE == 0
    assert width / height == pytest.approx(3, rel=0.15)
    assert placement.cells.mean() > 0.9


@pytest.mark.parametrize("kind", PREPARATION_KINDS)
def test_the_map_goes_back_over_the_whole_image_shape(kind: str) -> None:
    tall = np.full((929, 512, 3), 128, dtype=np.uint8)
    preparation = Preparation(kind, 224)  # type: ignore[arg-type]
    _, placement = preparation.prepare(tall)
    rows, cols = placement.cells.shape
    shown = preparation.over_image(np.full((rows, cols), 0.25, np.float32), placement)
    assert shown.shape[0] / shown.shape[1] == pytest.approx(929 / 512, rel=0.02)
    assert np.nanmax(shown) == pytest.approx(0.25) and np.nanmin(shown) == pytest.approx(0.25)


def test_an_aligned_mask_is_carried_to_the_same_grid() -> None:
    preparation = Preparation("crop", 224)
    mask = np.zeros((300, 400), dtype=np.float32)
    mask[:, 200:] = 1.0  # content only on the right half of the image
    cells = preparation.project(mask)
    assert cells.shape == (7, 7)
    assert cells[:, 5:].all() and not cells[:, :3].any()


def test_the_recipe_follows_the_configured_input_area() -> None:
    assert canonical_recipe(224 * 224) == CANONICAL
    assert canonical_recipe(320 * 320).preparation.side == 320
    assert canonical_recipe(300 * 300).preparation.side % STRIDE == 0


@pytest.fixture(scope="module")
def uncached_mobilenet() -> CnnMethod:
    """Real ImageNet weights, no embedding cache: every embedding is computed afresh."""
    settings = Settings(
        weights_dir=require(MOBILENET_V2_WEIGHTS).parent,
        allow_weight_download=False,
        batch_max_wait_ms=0.0,
    )
    method = CnnMethod(CNN_SPECS[MethodName.MOBILENET_V2], settings, ByteBoundedLRU(0, lambda _: 0))
    method.load()
    return method


def test_an_images_embedding_is_the_same_whatever_its_partner(
    uncached_mobilenet: CnnMethod,
) -> None:
    """cat.png alone, as image A beside a wide photo, and as image B beside a tall one: the same
    vector, recomputed each time (no cache), and the score is symmetric."""
    x = decode_image(photo("cat.png"), "x", 10**8)  # 512x341
    y = decode_image(photo("kite_and_cold.jpg"), "y", 10**8)  # 1352x900
    z = decode_image(photo("parrot.jpg"), "z", 10**8)  # 512x929
    alone = uncached_mobilenet.embed(x)
    as_a = uncached_mobilenet.feature_maps([x.pixels, y.pixels], [None, None]).embeddings[0]
    as_b = uncached_mobilenet.feature_maps([z.pixels, x.pixels], [None, None]).embeddings[1]
    assert alone.shape == (1280,) and np.linalg.norm(alone) == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(as_a, alone, atol=1e-5)
    np.testing.assert_allclose(as_b, alone, atol=1e-5)
    forward = uncached_mobilenet.compare(x, z, CompareOptions(align=False)).score
    backward = uncached_mobilenet.compare(z, x, CompareOptions(align=False)).score
    assert forward == pytest.approx(backward, abs=1e-5)
    assert forward == pytest.approx(cosine(alone, uncached_mobilenet.embed(z)), abs=1e-5)
