"""The page's Collections view in headless Chromium, against a real gateway, worker and embedded
Qdrant store (MobileNetV2 with the shared ImageNet weights, real photos)."""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from tests.browser.test_swipe_and_phone import LONG_NAME, OVERFLOW, PHONE
from tests.support.paths import WEIGHTS, photo, require
from tests.support.service import Service, running_service

PHOTO_NAMES = ("cat.png", "dog_1.png", "parrot.jpg", "owl.jpg", "sunflower.png", "bird.png")
MAX_FILES = 4  # per request: below the page's first batch of 16, so its batches must follow it


def jpeg_copy(data: bytes, quality: int) -> bytes:
    """The same photo re-encoded as JPEG: other bytes, the same picture."""
    out = io.BytesIO()
    Image.open(io.BytesIO(data)).convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def file_payload(name: str, data: bytes, mime: str) -> dict:
    return {"name": name, "mimeType": mime, "buffer": data}


def photos() -> list[dict]:
    """The six photos, a planted JPEG copy of the cat, and two files that are not images."""
    files = [
        file_payload(name, photo(name), "image/png" if name.endswith("png") else "image/jpeg")
        for name in PHOTO_NAMES
    ]
    files.append(file_payload("cat-copy.jpg", jpeg_copy(photo("cat.png"), 60), "image/jpeg"))
    files.append(file_payload("notes.txt", b"a shopping list, not a picture", "text/plain"))
    files.append(file_payload("broken.jpg", b"\xff\xd8\xff" + b"not a jpeg" * 40, "image/jpeg"))
    return files


@pytest.fixture(scope="module")
def svc(log_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """Its own store on disk, so collections of other tests and runs never show up here."""
    require(WEIGHTS)
    with running_service(
        log_dir,
        "browser-collections",
        weights_dir=str(WEIGHTS),
        cnn_methods="mobilenet_v2",
        cnn_precision="float32",
        collections_dir=str(tmp_path_factory.mktemp("page-collections")),
        collection_max_files=str(MAX_FILES),
    ) as service:
        yield service


def open_collections(page: Page, svc: Service) -> None:
    page.goto(svc.base_url + "/#collections")
    expect(page.locator("#collections-view")).to_be_visible()
    expect(page.locator("#compare-form")).to_be_hidden()
    expect(page.locator("#collection-method option[value=mobilenet_v2]")).to_be_enabled()


def create(page: Page, name: str) -> None:
    page.fill("#collection-name", name)
    page.click("#create-button")
    expect(page.locator(f"#collections-table tr[data-name={name}] .count")).to_have_text("0")
    expect(page.locator("#current-name")).to_have_text(name)


def add_by_api(svc: Service, name: str, files: list[tuple[str, bytes]]) -> None:
    with svc.client() as client:
        created = client.post("/api/v1/collections", json={"name": name})
        assert created.status_code == 201, created.text
        for start in range(0, len(files), MAX_FILES):
            batch = files[start : start + MAX_FILES]
            added = client.post(
                f"/api/v1/collections/{name}/images",
                files=[("files", item) for item in batch],
            )
            assert added.status_code == 200 and added.json()["refused"] == 0, added.text


def add_answers(page: Page, name: str) -> list[int]:
    """The statuses of the page's adds to collection ``name`` from now on, in order."""
    answers: list[int] = []
    page.on(
        "response",
        lambda r: (
            answers.append(r.status) if r.url.endswith(f"/collections/{name}/images") else None
        ),
    )
    return answers


def test_upload_search_and_open_a_hit_as_a_pair(page: Page, svc: Service, output_dir: Path) -> None:
    open_collections(page, svc)
    expect(page.locator("#collections-empty")).to_be_visible()
    create(page, "photos")
    expect(page.locator("#current-info")).to_contain_text("0 images, indexed with MobileNetV2")

    # Every text the status line shows on the way, to see the count and the time left.
    page.evaluate(
        """() => { window.statuses = [];
        new MutationObserver(() => statuses.push(document.getElementById('upload-status')
          .textContent)).observe(document.getElementById('upload-status'),
          { childList: true, characterData: true, subtree: true }); }"""
    )
    answers = add_answers(page, "photos")
    page.set_input_files("#add-files", files=photos())
    status = page.locator("#upload-status")
    expect(status).to_contain_text("Done: 9 of 9 files", timeout=120_000)
    expect(status).to_contain_text("7 indexed, 0 already there, 2 refused")
    bar = page.locator("#upload-progress")
    assert bar.evaluate("bar => [bar.value, bar.max]") == [9, 9]
    statuses = page.evaluate("window.statuses")
    assert any("files (" in text and "left" in text for text in statuses), statuses
    expect(page.locator("#collections-table tr[data-name=photos] .count")).to_have_text("7")
    # Eight files were sent (notes.txt never was), in two requests of four: the limit the
    # gateway reports in /api/v1/methods, so none was refused.
    assert answers == [200, 200]
    refused = page.locator("#upload-refused li")
    expect(refused).to_have_count(2)
    expect(refused.filter(has_text="notes.txt")).to_contain_text(
        "not a supported image (text/plain)"
    )
    expect(refused.filter(has_text="notes.txt")).to_contain_text("(not sent)")
    # broken.jpg went to the service, which refused it with its own reason.
    expect(refused.filter(has_text="broken.jpg")).not_to_contain_text("not sent")
    expect(refused.filter(has_text="broken.jpg")).to_contain_text("broken.jpg: ")
    with svc.client() as client:
        assert client.get("/api/v1/collections/photos").json()["images"] == 7

    page.set_input_files(
        "#search-file",
        files=[file_payload("parrot-q70.jpg", jpeg_copy(photo("parrot.jpg"), 70), "image/jpeg")],
    )
    hits = page.locator("#hits > li")
    expect(hits).to_have_count(7, timeout=60_000)
    top = hits.first
    expect(top.locator(".hit-name")).to_have_text("parrot.jpg")
    expect(top.locator(".verdict")).to_have_text("near duplicate")
    expect(hits.nth(1).locator(".verdict")).not_to_have_text("near duplicate")
    page.wait_for_function(
        "document.querySelector('#hits > li .hit-thumb').complete &&"
        " document.querySelector('#hits > li .hit-thumb').naturalWidth > 0"
    )
    assert top.locator(".hit-thumb").evaluate("img => [img.naturalWidth, img.naturalHeight]") == [
        141,
        256,
    ]  # parrot.jpg is 512 x 929: its thumbnail's long side is 256
    width = top.locator(".bar-fill").evaluate("bar => parseFloat(bar.style.width)")
    assert width > 95  # the copy's cosine is above 0.95

    page.screenshot(path=str(output_dir / "collections-search.png"), full_page=True)

    top.locator("button.hit").click()
    expect(page.locator("#compare-form")).to_be_visible()
    expect(page.locator("#collections-view")).to_be_hidden()
    assert page.evaluate("location.hash") == "#compare"
    expect(page.locator("#result")).to_be_visible(timeout=60_000)
    expect(page.locator("#result-method")).to_have_text("MobileNetV2")
    expect(page.locator("#info-a")).to_contain_text("parrot-q70.jpg")
    expect(page.locator("#info-b")).to_contain_text("parrot-thumbnail.jpg · 141 × 256 px")
    page.wait_for_function("document.getElementById('heatmap').naturalWidth > 0")
    # The same pair through the API: the query and the stored thumbnail, as the page sent them.
    query = jpeg_copy(photo("parrot.jpg"), 70)
    with svc.client() as client:
        stored = client.get(f"/api/v1/collections/photos/images/{top.get_attribute('data-id')}")
        thumbnail = base64.b64decode(stored.json()["thumbnail"].split(",", 1)[1])
        expected = client.post(
            "/api/v1/compare",
            files={"image_a": ("q.jpg", query), "image_b": ("t.jpg", thumbnail)},
            data={"method": "mobilenet_v2", "align": "true"},
        ).json()
    bar_width = page.evaluate("document.getElementById('score-bar').style.width")
    assert bar_width == f"{expected['similarity_percent']}%"  # the same score, to the digit
    expect(page.locator("#verdict")).to_have_text(expected["verdict"].replace("-", " "))
    heatmap = Image.open(io.BytesIO(base64.b64decode(expected["heatmap"].split(",", 1)[1])))
    shown = page.evaluate("[heatmap.naturalWidth, heatmap.naturalHeight]")
    assert shown == list(heatmap.size) and shown[0] < shown[1]  # over A, the tall parrot


def test_a_gateway_that_reports_no_batch_limits_is_followed_after_its_413(
    page: Page, svc: Service
) -> None:
    """A gateway that does not report its per-request limits (an older one, or one whose proxy
    has its own): the page sends its first batch of eight, learns the limit of four from the
    real 413's ``limit_files`` and sends the same files again in two batches."""

    def without_batch_limits(route) -> None:  # the real answer, less the two fields
        answer = route.fetch()
        body = answer.json()
        for field in ("collection_max_files", "max_request_bytes"):
            body["limits"].pop(field)
        route.fulfill(response=answer, json=body)

    page.route("**/api/v1/methods", without_batch_limits)
    open_collections(page, svc)
    create(page, "learned")
    answers = add_answers(page, "learned")
    page.set_input_files("#add-files", files=photos())
    expect(page.locator("#upload-status")).to_contain_text("Done: 9 of 9 files", timeout=120_000)
    expect(page.locator("#upload-status")).to_contain_text("7 indexed, 0 already there, 2 refused")
    assert answers == [413, 200, 200]
    with svc.client() as client:
        assert client.get("/api/v1/collections/learned").json()["images"] == 7


def test_duplicates_show_the_planted_copy_and_download_as_csv_and_json(
    page: Page, svc: Service, output_dir: Path
) -> None:
    files = [(name, photo(name)) for name in PHOTO_NAMES]
    files.append(("cat-copy.jpg", jpeg_copy(photo("cat.png"), 60)))
    add_by_api(svc, "dedup", files)
    with svc.client() as client:
        expected = client.get("/api/v1/collections/dedup/duplicates").json()
    assert len(expected["groups"]) == 1

    open_collections(page, svc)
    page.click("#collections-table tr[data-name=dedup] button:text('Open')")
    page.click("#dup-button")
    groups = page.locator("#dup-groups > li")
    expect(groups).to_have_count(1)
    group = groups.first
    expect(group.locator("h5")).to_have_text("Group 1: 2 images")
    names = group.locator(".dup-images .file-name").all_text_contents()
    assert sorted(names) == ["cat-copy.jpg", "cat.png"]
    score = expected["pairs"][0]["score"]
    expect(group.locator(".dup-pairs li")).to_have_count(1)
    expect(group.locator(".dup-pairs li")).to_contain_text(f"cosine {score:.4f}")
    page.wait_for_function(
        "[...document.querySelectorAll('#dup-groups img')].every(i => i.complete &&"
        " i.naturalWidth === 256)"  # cat.png is 512 x 341: thumbnails 256 wide
    )
    expect(page.locator("#dup-status")).to_contain_text("1 group of near-duplicates (1 pair")
    expect(page.locator("#dup-status")).to_contain_text("calibrated")
    page.screenshot(path=str(output_dir / "collections-duplicates.png"), full_page=True)

    with page.expect_download() as csv_download:
        page.click("#dup-csv")
    assert csv_download.value.suggested_filename == "duplicates-dedup.csv"
    rows = list(csv.reader(io.StringIO(Path(csv_download.value.path()).read_text())))
    ids = {pair[side]["id"]: pair[side]["file_name"] for pair in expected["pairs"] for side in "ab"}
    assert rows == [["group", "file", "id"]] + [
        ["1", ids[image_id], image_id] for image_id in expected["groups"][0]
    ]
    with page.expect_download() as json_download:
        page.click("#dup-json")
    assert json_download.value.suggested_filename == "duplicates-dedup.json"
    assert json.loads(Path(json_download.value.path()).read_text()) == expected


def test_names_are_checked_and_a_collection_can_be_deleted(page: Page, svc: Service) -> None:
    open_collections(page, svc)
    requests: list[str] = []
    page.on(
        "request", lambda r: requests.append(r.method) if r.url.endswith("/collections") else None
    )
    page.fill("#collection-name", "Holiday Photos!")
    page.click("#create-button")
    expect(page.locator("#collection-name-error")).to_contain_text("lower-case letters")
    expect(page.locator("#collection-name")).to_have_attribute("aria-invalid", "true")
    page.fill("#collection-name", "x" * 63 + "y")  # maxlength keeps 63
    assert len(page.input_value("#collection-name")) == 63
    assert "POST" not in requests
    create(page, "to-delete")
    page.fill("#collection-name", "to-delete")
    page.click("#create-button")  # exists: the service's 409, next to the field
    expect(page.locator("#collection-name-error")).to_contain_text("collection_exists")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#collections-table tr[data-name=to-delete] button:text('Delete')")
    expect(page.locator("#collections-table tr[data-name=to-delete]")).to_have_count(0)
    expect(page.locator("#collection-panel")).to_be_hidden()
    with svc.client() as client:
        assert client.get("/api/v1/collections/to-delete").status_code == 404


def test_a_folder_and_dropped_files_are_added_with_their_paths(
    page: Page, svc: Service, tmp_path: Path
) -> None:
    folder = tmp_path / "shoot"
    (folder / "day-2").mkdir(parents=True)
    (folder / "owl.jpg").write_bytes(photo("owl.jpg"))
    (folder / "day-2" / "bird.png").write_bytes(photo("bird.png"))
    open_collections(page, svc)
    create(page, "folder")
    page.set_input_files("#add-folder", str(folder))
    expect(page.locator("#upload-status")).to_contain_text("Done: 2 of 2 files", timeout=60_000)
    expect(page.locator("#collections-table tr[data-name=folder] .count")).to_have_text("2")
    with svc.client() as client:
        search = client.post(
            "/api/v1/collections/folder/search",
            files={"image": ("b.png", photo("bird.png"))},
            data={"k": "1"},
        ).json()
    assert search["hits"][0]["image"]["file_name"] == "shoot/day-2/bird.png"

    encoded = base64.b64encode(photo("cat.png")).decode()
    transfer = page.evaluate_handle(
        f"""() => {{ const bytes = Uint8Array.from(atob('{encoded}'), c => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], 'cat.png', {{ type: 'image/png' }}));
        transfer.items.add(new File([bytes], 'cat-again.png', {{ type: 'image/png' }}));
        return transfer; }}"""
    )
    page.dispatch_event("#add-zone", "drop", {"dataTransfer": transfer})
    status = page.locator("#upload-status")
    expect(status).to_contain_text("Done: 2 of 2 files", timeout=60_000)
    expect(status).to_contain_text("1 indexed, 1 already there, 0 refused")  # the same bytes
    expect(page.locator("#collections-table tr[data-name=folder] .count")).to_have_text("3")


def test_the_pairwise_view_is_the_default_and_the_tabs_switch(page: Page, svc: Service) -> None:
    page.goto(svc.base_url + "/")
    expect(page.locator("#compare-form")).to_be_visible()
    expect(page.locator("#collections-view")).to_be_hidden()
    expect(page.locator(".view-nav a[data-view=compare]")).to_have_attribute("aria-current", "page")
    page.click(".view-nav a[data-view=collections]")
    expect(page.locator("#collections-view")).to_be_visible()
    expect(page.locator(".view-nav a[data-view=collections]")).to_have_attribute(
        "aria-current", "page"
    )
    page.go_back()
    expect(page.locator("#compare-form")).to_be_visible()
    expect(page.locator("#collections-view")).to_be_hidden()


def test_the_collections_view_fits_a_phone(page: Page, svc: Service, output_dir: Path) -> None:
    page.set_viewport_size(PHONE)
    open_collections(page, svc)
    long_collection = "a" * 63  # no break opportunity
    create(page, long_collection)
    page.set_input_files(
        "#add-files",
        files=[
            file_payload(LONG_NAME, photo("cat.png"), "image/png"),
            file_payload("dog.png", photo("dog_1.png"), "image/png"),
            file_payload(LONG_NAME + ".txt", b"not a picture", "text/plain"),
        ],
    )
    expect(page.locator("#upload-status")).to_contain_text("Done: 3 of 3", timeout=60_000)
    page.set_input_files(
        "#search-file", files=[file_payload("q.png", photo("cat.png"), "image/png")]
    )
    expect(page.locator("#hits > li")).to_have_count(2, timeout=60_000)
    expect(page.locator("#hits > li").first.locator(".verdict")).to_have_text("identical")
    page.fill("#dup-threshold", "0")
    page.click("#dup-button")
    expect(page.locator("#dup-groups > li")).to_have_count(1)
    expect(page.locator("#dup-status")).to_contain_text("the score asked for")
    page.screenshot(path=str(output_dir / "phone-collections.png"), full_page=True)
    found = page.evaluate(OVERFLOW)
    assert found["scroll"] <= PHONE["width"] and found["wide"] == [], "\n".join(found["wide"])
