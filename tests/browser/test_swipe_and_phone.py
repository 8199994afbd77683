"""The swipe view draws B where the comparison put it, and the page fits a phone's width."""

from __future__ import annotations

import numpy as np
from playwright.sync_api import Page, expect

from tests.browser.test_page import _png_file, api_result, choose, open_page, run_comparison
from tests.support.images import png
from tests.support.paths import photo
from tests.support.service import Service
from worker.decode import decode_image

CROP_LEFT, CROP_TOP = 120, 80  # a 70 % crop of the 512 x 341 cat, off-centre


def _canvas_pixel(page: Page, x: int, y: int) -> np.ndarray:
    rgba = page.evaluate(
        "([x, y]) => [...document.getElementById('swipe-b').getContext('2d')"
        ".getImageData(x, y, 1, 1).data]",
        [x, y],
    )
    return np.array(rgba[:3], dtype=np.int16)


def test_swipe_draws_the_aligned_crop_over_the_same_place_of_a(
    page: Page, service: Service
) -> None:
    whole = decode_image(photo("cat.png"), "a", 10**8).pixels  # 512 x 341
    height, width = round(whole.shape[0] * 0.7), round(whole.shape[1] * 0.7)
    crop = whole[CROP_TOP : CROP_TOP + height, CROP_LEFT : CROP_LEFT + width]
    # Where B stretched into A's box (the old view) would show a different colour than A: a
    # textured point inside the crop, found from the pixels themselves.
    ys, xs = np.mgrid[
        CROP_TOP + 20 : CROP_TOP + height - 20 : 7, CROP_LEFT + 20 : CROP_LEFT + width - 20 : 7
    ]
    stretched = crop[
        (ys * crop.shape[0] / whole.shape[0]).astype(int),
        (xs * crop.shape[1] / whole.shape[1]).astype(int),
    ].astype(np.int16)
    local = np.stack([whole[ys + dy, xs + dx] for dy in (-2, 0, 2) for dx in (-2, 0, 2)]).astype(
        np.int16
    )
    smooth = np.abs(local - whole[ys, xs].astype(np.int16)).max(axis=(0, 3)) < 12
    wrong = np.abs(stretched - whole[ys, xs].astype(np.int16)).max(axis=2)
    wrong[~smooth] = 0  # a flat spot: bilinear sampling there is exact to a few levels
    index = np.unravel_index(int(np.argmax(wrong)), wrong.shape)
    x, y = int(xs[index]), int(ys[index])
    assert wrong[index] > 60  # the old view was visibly off here

    open_page(page, service)
    page.set_input_files("#file-a", files=[_png_file("cat.png", whole)])
    page.set_input_files("#file-b", files=[_png_file("crop-70.png", crop)])
    run_comparison(page, "ssim")  # aligned by default
    expect(page.locator("#details-list")).to_contain_text("registered")
    page.check("input[name=view][value=swipe]")
    expect(page.locator("#swipe-b")).to_have_attribute("data-drawn", "aligned")
    assert page.evaluate(
        "[document.getElementById('swipe-b').width, document.getElementById('swipe-b').height]"
    ) == [512, 341]
    shown = _canvas_pixel(page, x, y)
    assert np.abs(shown - whole[y, x]).max() <= 12, (x, y, shown, whole[y, x])
    # Outside the crop B has no counterpart: A in grey, half-way to neutral grey.
    grey = _canvas_pixel(page, 10, 10)
    assert np.ptp(grey) <= 2, grey
    expected = 0.5 * 128 + 0.5 * float(np.mean(whole[10, 10]))
    assert abs(float(grey[0]) - expected) <= 20, (grey, expected)


def test_swipe_turns_a_turned_and_mirrored_copy_back(page: Page, service: Service) -> None:
    whole = decode_image(photo("cat.png"), "a", 10**8).pixels
    turned = np.ascontiguousarray(np.rot90(whole[:, ::-1], 1))  # mirrored, a quarter turn
    open_page(page, service)
    page.set_input_files("#file-a", files=[_png_file("cat.png", whole)])
    page.set_input_files("#file-b", files=[_png_file("turned.png", turned)])
    run_comparison(page, "ssim")
    expect(page.locator("#details-list")).to_contain_text("turned back")
    with service.client() as client:
        answer = client.post(
            "/api/v1/compare",
            files={"image_a": ("a.png", png(whole)), "image_b": ("b.png", png(turned))},
            data={"method": "ssim"},
        ).json()
    assert answer["relation"]["mirrored"]
    expect(page.locator("#relation")).to_have_text(answer["relation"]["note"])
    page.check("input[name=view][value=swipe]")
    expect(page.locator("#swipe-b")).not_to_have_attribute("data-drawn", "")
    shown = np.array(
        page.evaluate(
            "() => [...document.getElementById('swipe-b').getContext('2d')"
            ".getImageData(0, 0, 512, 341).data]"
        ),
        dtype=np.int16,
    ).reshape(341, 512, 4)[..., :3]
    # Every pixel where it was: bilinear sampling of an exact copy is exact up to rounding.
    assert np.abs(shown - whole.astype(np.int16)).mean() < 2


PHONE = {"width": 390, "height": 844}
LONG_NAME = "PXL_" + "20260714_083015123_" * 8 + "IMG_20260714.png"  # no break opportunity

OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll('body *')].filter((node) => {
    if (node.offsetParent === null && getComputedStyle(node).position !== 'fixed') return false;
    if (node.closest('.visually-hidden, .skip-link')) return false;
    const box = node.getBoundingClientRect();
    return box.width > 0 && (box.right > width + 0.5 || box.left < -0.5);
  }).map((node) => `${node.tagName.toLowerCase()}#${node.id}.${node.className}`
    + ` ${Math.round(node.getBoundingClientRect().left)}..`
    + `${Math.round(node.getBoundingClientRect().right)}`);
  return { scroll: document.documentElement.scrollWidth, wide };
}"""


def _fits(page: Page) -> None:
    found = page.evaluate(OVERFLOW)
    assert found["scroll"] <= PHONE["width"] and found["wide"] == [], found


def test_the_page_fits_a_phone_after_one_comparison_and_after_all(
    page: Page, service: Service, output_dir
) -> None:
    page.set_viewport_size(PHONE)
    open_page(page, service)
    page.set_input_files(  # a refused file's message quotes its long name
        "#file-a", files=[{"name": LONG_NAME + ".txt", "mimeType": "text/plain", "buffer": b"x"}]
    )
    expect(page.locator("#error-a")).to_contain_text("is not a supported image")
    _fits(page)
    whole = decode_image(photo("cat.png"), "a", 10**8).pixels
    page.set_input_files("#file-a", files=[_png_file(LONG_NAME, whole)])
    page.set_input_files("#file-b", files=[_png_file("b-" + LONG_NAME, whole[40:, 30:])])
    expect(page.locator("#info-a")).to_contain_text("IMG_20260714.png")
    _fits(page)
    run_comparison(page, "ssim")
    for view in ("heatmap", "side", "swipe"):
        page.check(f"input[name=view][value={view}]")
        _fits(page)
    page.locator("details.details summary").click()
    _fits(page)
    page.screenshot(path=str(output_dir / "phone-result.png"), full_page=True)
    page.select_option("#method", "all")
    page.click("#compare-button")
    expect(page.locator("#all-results")).to_be_visible(timeout=120_000)
    page.wait_for_function(
        "[...document.querySelectorAll('#all-table img')].every(i => i.naturalWidth > 0)"
    )
    _fits(page)
    # Each method is a card: its verdict and heatmap are on the screen, not cut off.
    for row in page.locator("#all-table tbody tr").all():
        for part in (".verdict", "img", "button"):
            box = row.locator(part).bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, part
    page.screenshot(path=str(output_dir / "phone-all.png"), full_page=True)
    page.locator("#all-table tbody tr[data-method=phash] button").click()
    expect(page.locator("#result")).to_be_visible()
    _fits(page)


def test_phash_reads_as_bits_that_differ(page: Page, service: Service) -> None:
    open_page(page, service)
    choose(page)  # two different photos of cats
    run_comparison(page, "phash")
    expected = api_result(service, "phash")
    bits = int(expected["metrics"]["phash_distance"])
    assert expected["score"] == 1 - bits / 64  # the score stays in the API
    expect(page.locator("#score-percent")).to_have_text(f"{bits} of 64")
    expect(page.locator("#score-unit")).to_have_text("bits of the hashes differ, by")
    expect(page.locator("#score-bar")).to_be_hidden()
    expect(page.locator("#explanation")).to_have_text(expected["explanation"])
    expect(page.locator("#explanation")).to_contain_text(f"{bits} of 64 bits")
    run_comparison(page, "ssim")  # another method: a percentage and its bar again
    expect(page.locator("#score-unit")).to_have_text("similar by")
    expect(page.locator("#score-bar")).to_be_visible()
