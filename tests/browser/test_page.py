"""The page, driven in headless Chromium against the real gateway and worker."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.support.images import png
from tests.support.paths import PHOTOS, photo, require
from tests.support.service import Service
from worker.decode import decode_image

METHODS = ["ssim", "vgg16", "resnet50", "mobilenet_v2"]


def open_page(page: Page, service: Service) -> None:
    page.goto(service.base_url + "/")
    expect(page.locator("#method option[value=ssim]")).to_be_attached()


def choose(page: Page, a: str = "cat.png", b: str = "cat_2.png") -> None:
    page.set_input_files("#file-a", str(require(PHOTOS / a)))
    page.set_input_files("#file-b", str(require(PHOTOS / b)))
    expect(page.locator("#preview-a")).to_be_visible()
    expect(page.locator("#preview-b")).to_be_visible()


def run_comparison(page: Page, method: str) -> None:
    page.select_option("#method", method)
    page.click("#compare-button")
    expect(page.locator("#result")).to_be_visible(timeout=60_000)
    page.wait_for_function("document.getElementById('heatmap').naturalWidth > 0")


def api_result(service: Service, method: str, a: str = "cat.png", b: str = "cat_2.png") -> dict:
    with httpx.Client(base_url=service.base_url, timeout=120) as client:
        response = client.post(
            "/api/v1/compare",
            files={"image_a": (a, photo(a)), "image_b": (b, photo(b))},
            data={"method": method},
        )
    response.raise_for_status()
    return response.json()


@pytest.mark.parametrize("method", METHODS)
def test_compare_with_each_method(
    page: Page, service: Service, method: str, output_dir: Path
) -> None:
    open_page(page, service)
    choose(page)
    run_comparison(page, method)
    expected = api_result(service, method)
    expect(page.locator("#score-percent")).to_have_text(f"{expected['similarity_percent']:.1f}%")
    expect(page.locator("#verdict")).to_have_text(expected["verdict"].replace("-", " "))
    expect(page.locator("#explanation")).to_have_text(expected["explanation"])
    width = page.evaluate("document.getElementById('heatmap').naturalWidth")
    assert width == 512  # the heatmap of image A (512 x 341)
    bar_width = page.evaluate("document.getElementById('score-bar').style.width")
    assert bar_width == f"{expected['similarity_percent']}%"
    expect(page.locator("#legend-low")).to_have_text(expected["heatmap_legend"]["low"])
    page.screenshot(path=str(output_dir / f"result-{method}.png"), full_page=True)


def test_previews_show_name_pixel_size_and_file_size(page: Page, service: Service) -> None:
    open_page(page, service)
    choose(page)
    size_kb = len(photo("cat.png")) / 1024
    expect(page.locator("#info-a")).to_have_text(f"cat.png · 512 × 341 px · {size_kb:.1f} KB")
    expect(page.locator("#preview-a")).to_have_attribute("alt", "Preview of image A: cat.png")
    expect(page.locator("#compare-button")).to_be_enabled()


def test_wrong_file_type_is_refused_at_once(page: Page, service: Service) -> None:
    open_page(page, service)
    page.set_input_files(
        "#file-a", files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello"}]
    )
    expect(page.locator("#error-a")).to_contain_text("“notes.txt” is not a supported image")
    expect(page.locator("#compare-button")).to_be_disabled()


def test_corrupt_image_is_refused_next_to_its_box(page: Page, service: Service) -> None:
    open_page(page, service)
    page.set_input_files(
        "#file-b",
        files=[{"name": "fake.png", "mimeType": "image/png", "buffer": b"not a png" * 50}],
    )
    expect(page.locator("#error-b")).to_contain_text("could not be read as an image")


def test_oversized_file_is_refused_at_once(page: Page, service: Service) -> None:
    from tests.conftest import MAX_UPLOAD_BYTES

    open_page(page, service)
    big = b"\x89PNG" + b"\0" * MAX_UPLOAD_BYTES
    page.set_input_files(
        "#file-a", files=[{"name": "big.png", "mimeType": "image/png", "buffer": big}]
    )
    expect(page.locator("#error-a")).to_contain_text("the limit is 2.9 MB")


def test_server_error_is_shown_as_a_message(page: Page, service: Service) -> None:
    open_page(page, service)
    tiny = png(np.full((8, 8, 3), 90, np.uint8))
    page.set_input_files("#file-a", str(require(PHOTOS / "cat.png")))
    page.set_input_files(
        "#file-b", files=[{"name": "tiny.png", "mimeType": "image/png", "buffer": tiny}]
    )
    expect(page.locator("#preview-b")).to_be_visible()
    page.select_option("#method", "ssim")
    page.click("#compare-button")
    banner = page.locator("#error")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("image_b is 8x8 pixels; this method needs at least 11x11")
    expect(banner).to_contain_text("HTTP 422, image_too_small")
    expect(banner).not_to_contain_text("Traceback")


def test_unavailable_methods_are_disabled_with_the_reason(
    page: Page, service_without_weights: Service
) -> None:
    open_page(page, service_without_weights)
    vgg16 = page.locator("#method option[value=vgg16]")
    expect(vgg16).to_be_disabled()
    expect(vgg16).to_contain_text("unavailable")
    expect(vgg16).to_contain_text("vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5")
    expect(page.locator("#method option[value=resnet50]")).to_contain_text("not enabled")
    expect(page.locator("#method option[value=ssim]")).to_be_enabled()
    expect(page.locator("#method")).to_have_value("ssim")
    expect(page.locator("#method-description")).to_contain_text("Structural similarity")


def test_a_second_press_while_waiting_sends_nothing(page: Page, service: Service) -> None:
    open_page(page, service)
    choose(page)
    held = []
    page.route("**/api/v1/compare", lambda route: held.append(route))
    page.select_option("#method", "ssim")
    page.click("#compare-button")
    page.wait_for_function("document.getElementById('compare-form').hasAttribute('aria-busy')")
    expect(page.locator("#compare-button")).to_be_disabled()
    expect(page.locator("#progress")).to_be_visible()
    page.evaluate("document.getElementById('compare-form').requestSubmit()")
    page.locator("#method").press("Enter")
    page.wait_for_timeout(300)
    assert len(held) == 1
    held[0].continue_()
    expect(page.locator("#result")).to_be_visible()
    expect(page.locator("#progress")).to_be_hidden()
    expect(page.locator("#compare-button")).to_be_enabled()
    assert len(held) == 1


def test_views_opacity_swipe_and_download(page: Page, service: Service) -> None:
    open_page(page, service)
    choose(page)
    run_comparison(page, "ssim")
    page.fill("#opacity", "30")
    assert page.evaluate("document.getElementById('heatmap').style.opacity") == "0.3"
    page.check("input[name=view][value=swipe]")
    expect(page.locator("#view-swipe")).to_be_visible()
    expect(page.locator("#view-heatmap")).to_be_hidden()
    page.fill("#swipe", "80")
    assert (
        page.evaluate("document.getElementById('swipe-b').style.clipPath")
        == "inset(0px 0px 0px 20%)"
    )
    page.check("input[name=view][value=side]")
    expect(page.locator("#side-a")).to_be_visible()
    expect(page.locator("#side-b")).to_be_visible()
    page.check("input[name=view][value=heatmap]")
    expect(page.locator("#download-heatmap")).to_have_text("Download heatmap (JPG)")
    with page.expect_download() as download_info:
        page.click("#download-heatmap")
    download = download_info.value
    assert download.suggested_filename == "heatmap-ssim.jpg"
    image = Image.open(download.path())
    assert image.format == "JPEG" and image.size == (512, 341)


def _png_file(name: str, pixels: np.ndarray) -> dict:
    return {"name": name, "mimeType": "image/png", "buffer": png(np.ascontiguousarray(pixels))}


def _file_in_page(page: Page, name: str) -> str:
    """JavaScript that builds a DataTransfer holding the photo ``name``."""
    encoded = base64.b64encode(photo(name)).decode()
    return (
        f"(() => {{ const bytes = Uint8Array.from(atob('{encoded}'), c => c.charCodeAt(0));"
        f" const transfer = new DataTransfer();"
        f" transfer.items.add(new File([bytes], '{name}', {{type: 'image/png'}}));"
        f" return transfer; }})()"
    )


def test_drag_and_drop_and_paste(page: Page, service: Service) -> None:
    open_page(page, service)
    transfer = _file_in_page(page, "dog_1.png")
    page.evaluate(
        f"""() => document.querySelector('#picker-a .dropzone').dispatchEvent(
                new DragEvent('drop', {{dataTransfer: {transfer}, bubbles: true,
                                        cancelable: true}}))"""
    )
    expect(page.locator("#info-a")).to_contain_text("dog_1.png")
    page.focus("#file-b")
    page.evaluate(
        f"""() => document.dispatchEvent(new ClipboardEvent('paste', {{
                clipboardData: {_file_in_page(page, "dog_2.png")}, bubbles: true,
                cancelable: true}}))"""
    )
    expect(page.locator("#info-b")).to_contain_text("dog_2.png")
    expect(page.locator("#preview-b")).to_be_visible()
    expect(page.locator("#info-a")).to_contain_text("dog_1.png")
    run_comparison(page, "mobilenet_v2")


def test_keyboard_only(page: Page, service: Service) -> None:
    open_page(page, service)
    order = []
    for _ in range(6):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.id || document.activeElement.className"))
    assert order == ["skip-link", "nav-compare", "nav-collections", "file-a", "file-b", "method"]
    page.focus("#file-a")
    outline = page.evaluate(
        "getComputedStyle(document.querySelector('label[for=file-a]')).outlineStyle"
    )
    assert outline == "solid"  # the visible focus of the file chooser
    for slot, name in (("a", "cat.png"), ("b", "cat_3.png")):
        _choose_with_keyboard(page, f"#file-{slot}", str(require(PHOTOS / name)))
        expect(page.locator(f"#preview-{slot}")).to_be_visible()
    page.focus("#method")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "align"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "compare-button"
    page.keyboard.press("Enter")
    expect(page.locator("#result")).to_be_visible()
    assert page.evaluate("document.activeElement.id") == "result-title"


def _choose_with_keyboard(page: Page, selector: str, path: str) -> None:
    """Open the file chooser with Space on the focused input, as a keyboard user does.

    Chromium ignores the key while it is still closing the previous chooser, so a press that
    opened nothing is repeated (the assertion is that the keyboard opens it at all)."""
    for attempt in range(3):
        page.focus(selector)
        try:
            with page.expect_file_chooser(timeout=5000) as chooser:
                page.keyboard.press("Space")
        except PlaywrightTimeoutError:
            if attempt == 2:
                raise
            continue
        chooser.value.set_files(path)
        return


def test_phone_sized_screen(page: Page, service: Service) -> None:
    page.set_viewport_size({"width": 375, "height": 740})
    open_page(page, service)
    choose(page)
    run_comparison(page, "ssim")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    a_bottom, b_top = page.evaluate(
        "[document.getElementById('picker-a').getBoundingClientRect().bottom,"
        " document.getElementById('picker-b').getBoundingClientRect().top]"
    )
    assert b_top >= a_bottom  # stacked, not side by side


def test_every_visible_image_has_a_text_alternative(page: Page, service: Service) -> None:
    open_page(page, service)
    choose(page)
    run_comparison(page, "ssim")
    views = {
        "heatmap": {"heatmap-base", "heatmap"},
        "side": {"side-a", "side-b"},
        "swipe": {"swipe-a", "swipe-b"},
    }
    for view, pictures in views.items():
        page.check(f"input[name=view][value={view}]")
        shown = page.evaluate(
            "[...document.querySelectorAll('img, canvas')].filter(i => i.offsetParent !== null)"
            ".map(i => [i.id, (i.alt ?? i.getAttribute('aria-label') ?? '').trim()])"
        )
        assert pictures <= {name for name, _ in shown}, (view, shown)  # the view's own images
        assert [name for name, alt in shown if not alt] == [], view


def test_heatmap_matches_the_api_pixels(page: Page, service: Service) -> None:
    open_page(page, service)
    choose(page)
    run_comparison(page, "ssim")
    src = page.get_attribute("#heatmap", "src")
    shown = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
    expected = api_result(service, "ssim")["heatmap"]
    served = Image.open(io.BytesIO(base64.b64decode(expected.split(",", 1)[1])))
    assert np.array_equal(np.asarray(shown), np.asarray(served))


def test_compare_all_shows_every_method_in_one_table(
    page: Page, service: Service, output_dir: Path
) -> None:
    open_page(page, service)
    choose(page)
    page.select_option("#method", "all")
    expect(page.locator("#method-description")).to_contain_text("every available method")
    page.click("#compare-button")
    expect(page.locator("#all-results")).to_be_visible(timeout=120_000)
    expected = api_result(service, "all")
    expect(page.locator("#summary")).to_have_text(expected["summary"])
    combined = expected["combined"]
    expect(page.locator("#combined .verdict")).to_have_text(combined["verdict"].replace("-", " "))
    expect(page.locator("#combined")).to_contain_text("Combined verdict")
    if combined["held_out"]:
        precision = int(combined["held_out"]["precision"] * 100 + 0.5)  # as Math.round
        expect(page.locator("#combined")).to_contain_text(f"held-out precision {precision} %")
    rows = page.locator("#all-table tbody tr")
    expect(rows).to_have_count(len(expected["results"]))
    for index, result in enumerate(expected["results"]):
        row = rows.nth(index)
        expect(row).to_have_attribute("data-method", result["method"])
        if result["method"] == "phash":  # read as bits that differ, not as a percentage
            bits = int(result["metrics"]["phash_distance"])
            expect(row).to_contain_text(f"{bits} of 64 bits differ")
        else:
            expect(row).to_contain_text(f"{result['similarity_percent']:.1f}%")
        expect(row.locator(".verdict")).to_have_text(result["verdict"].replace("-", " "))
    assert page.evaluate(
        "[...document.querySelectorAll('#all-table img')].every(i => i.naturalWidth > 0)"
    )
    page.screenshot(path=str(output_dir / "result-all.png"), full_page=True)
    page.locator("#all-table tbody tr[data-method=pixel] button").click()
    expect(page.locator("#result")).to_be_visible()
    expect(page.locator("#details-list")).to_contain_text("changed percent")


def test_cnn_second_map_and_alignment_switch(page: Page, service: Service) -> None:
    open_page(page, service)
    whole = decode_image(photo("parrot.jpg"), "a", 10**8).pixels
    page.set_input_files("#file-a", files=[_png_file("parrot.png", whole)])
    page.set_input_files("#file-b", files=[_png_file("crop.png", whole[60:, 40:])])
    run_comparison(page, "mobilenet_v2")  # "align" is checked by default
    expect(page.locator("#map-choice")).to_be_visible()
    main_src = page.get_attribute("#heatmap", "src")
    page.select_option("#map-select", "same_place")
    assert page.get_attribute("#heatmap", "src") != main_src
    expect(page.locator("#legend-scale")).to_contain_text("same one of")
    expect(page.locator("#download-heatmap")).to_have_attribute(
        "download", "heatmap-mobilenet_v2-same_place.jpg"
    )
    run_comparison(page, "ssim")
    expect(page.locator("#details-list")).to_contain_text("Alignment")  # on by default
    page.uncheck("#align")
    page.click("#compare-button")
    expect(page.locator("#progress")).to_be_hidden()
    expect(page.locator("#details-list")).not_to_contain_text("Alignment")


def test_every_verdict_has_its_own_colour(page: Page, service: Service) -> None:
    open_page(page, service)
    colours = page.evaluate(
        """['identical', 'near-duplicate', 'same-subject', 'related', 'different',
            'uncalibrated'].map(v => {
              const badge = document.createElement('span');
              badge.className = 'verdict';
              badge.dataset.verdict = v;
              document.body.appendChild(badge);
              const colour = getComputedStyle(badge).backgroundColor;
              badge.remove();
              return colour;
            })"""
    )
    assert len(set(colours)) == 6


def test_the_page_asks_for_the_api_key_when_the_service_needs_one(page: Page, log_dir) -> None:
    from tests.support.service import running_service

    with running_service(log_dir, "page-key", cnn_methods="", api_key="k3y") as secured:
        page.goto(secured.base_url + "/")
        expect(page.locator("#key-form")).to_be_visible()
        expect(page.locator("#error")).to_contain_text("API key")
        page.fill("#api-key", "k3y")
        page.click("#key-form button")
        expect(page.locator("#method option[value=ssim]")).to_be_enabled()
        choose(page)
        run_comparison(page, "ssim")
        expect(page.locator("#verdict")).to_have_text("different")


def _serve_methods(page: Page, edit) -> list[dict]:
    """Answer the page's GET /api/v1/methods with the real listing after ``edit(body, call)``;
    returns the bodies served, one per request."""
    served: list[dict] = []

    def handle(route) -> None:
        body = route.fetch().json()
        edit(body, len(served))
        served.append(body)
        route.fulfill(json=body)

    page.route("**/api/v1/methods", handle)
    return served


def test_a_choice_made_while_a_model_loads_is_kept(page: Page, service: Service) -> None:
    def vgg16_loads_for_three_polls(body: dict, call: int) -> None:
        if call < 3:
            vgg16 = next(m for m in body["methods"] if m["name"] == "vgg16")
            vgg16.update(available=False, state="loading", reason="The model is loading.")

    served = _serve_methods(page, vgg16_loads_for_three_polls)
    open_page(page, service)
    expect(page.locator("#method option[value=vgg16]")).to_be_disabled()
    page.select_option("#method", "pixel")
    # The page polls every 3 s while a model loads: two more polls, then the model is ready.
    expect(page.locator("#method option[value=vgg16]")).to_be_enabled(timeout=15_000)
    assert len(served) == 4
    expect(page.locator("#method")).to_have_value("pixel")
    expect(page.locator("#method-description")).to_contain_text("CIEDE2000")
    page.select_option("#method", "all")
    page.wait_for_timeout(3500)
    assert len(served) == 4  # nothing loads any more: the polling stopped
    expect(page.locator("#method")).to_have_value("all")


def test_file_inputs_accept_exactly_the_types_the_service_lists(
    page: Page, service: Service
) -> None:
    def only_png_and_webp(body: dict, call: int) -> None:
        body["limits"]["accepted_types"] = ["image/png", "image/webp"]

    _serve_methods(page, only_png_and_webp)
    open_page(page, service)
    for slot in ("a", "b"):
        expect(page.locator(f"#file-{slot}")).to_have_attribute("accept", "image/png,image/webp")
    page.set_input_files("#file-a", str(require(PHOTOS / "parrot.jpg")))
    expect(page.locator("#error-a")).to_contain_text(
        "“parrot.jpg” is not a supported image (image/jpeg). Use PNG, WEBP."
    )
    page.set_input_files("#file-a", str(require(PHOTOS / "cat.png")))
    expect(page.locator("#preview-a")).to_be_visible()


def test_file_inputs_accept_the_real_list(page: Page, service: Service) -> None:
    from shared.image_header import ACCEPTED_MIME_TYPES

    open_page(page, service)
    expect(page.locator("#file-a")).to_have_attribute("accept", ",".join(ACCEPTED_MIME_TYPES))


def test_a_repeated_comparison_says_it_came_from_the_result_cache(
    page: Page, service: Service
) -> None:
    open_page(page, service)
    choose(page, "owl.jpg", "parrot.jpg")  # a pair no other test compares with this method
    details = page.locator("#details-list")
    run_comparison(page, "pixel")
    expect(details).to_contain_text("(decode ")
    expect(details).not_to_contain_text("result cache")
    page.click("#compare-button")  # the same pair and method again
    expect(details).to_contain_text("a repeat, answered from the result cache", timeout=60_000)
    expect(details).to_contain_text("first computed in ")


def test_a_heic_photo_without_a_browser_preview_is_still_compared(
    page: Page, service: Service
) -> None:
    """Chromium cannot show HEIC; the page says so instead of refusing the file, and the
    service, which reads it, compares it."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    buffer = io.BytesIO()
    Image.open(io.BytesIO(photo("cat.png"))).convert("RGB").save(buffer, format="HEIF")
    open_page(page, service)
    page.set_input_files("#file-a", str(require(PHOTOS / "cat.png")))
    page.set_input_files(
        "#file-b",
        files=[{"name": "cat.heic", "mimeType": "image/heic", "buffer": buffer.getvalue()}],
    )
    expect(page.locator("#info-b")).to_contain_text("no preview (this browser cannot show HEIC)")
    run_comparison(page, "ssim")
    expect(page.locator("#verdict")).to_have_text("near duplicate")


def test_a_screenshot_check_boxes_the_changed_regions_and_zooms_to_one(
    page: Page, service: Service
) -> None:
    """Two renders of one card where only the price changed: the pixel method's exact check
    shows its summary, a box over the heatmap around each changed region, and zooms to one."""
    from tests.support.screenshots import card_html, render

    browser = page.context.browser
    assert browser is not None
    before = render(browser, card_html(price="$49.99"))
    after = render(browser, card_html(price="$59.99"))
    open_page(page, service)
    page.set_input_files(
        "#file-a", files=[{"name": "before.png", "mimeType": "image/png", "buffer": before}]
    )
    page.set_input_files(
        "#file-b", files=[{"name": "after.png", "mimeType": "image/png", "buffer": after}]
    )
    run_comparison(page, "pixel")
    expect(page.locator("#check")).to_be_visible()
    expect(page.locator("#check-summary")).to_contain_text("region")
    boxes = page.locator("#region-boxes .region-box")
    expect(boxes.first).to_be_attached()
    assert boxes.count() == page.locator("#region-list li").count() >= 1
    # The first box sits over the price: its centre is in the card's left half.
    box = boxes.first.bounding_box()
    stack = page.locator("#heatmap-stack").bounding_box()
    assert box is not None and stack is not None and box["width"] > 0
    assert box["x"] + box["width"] / 2 < stack["x"] + stack["width"] / 2
    page.locator("#region-list button").first.click()
    transform = "getComputedStyle(document.getElementById('heatmap')).transform"
    expect(boxes.first).to_have_class("region-box current")
    page.wait_for_function(f"{transform}.startsWith('matrix(')")  # zoomed in
    page.locator("#region-list button").first.click()  # again: back to the whole picture
    expect(boxes.first).to_have_class("region-box")
    page.wait_for_function(f"{transform} === 'none'")  # after the zoom's transition
