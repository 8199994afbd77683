"""The page ``isc dedup --report report.html`` writes, opened from disk in the real headless
Chromium: the groups with their thumbnails shown, the planted copies together, the scores, and
not one request beyond the file itself."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from shared.collections import DuplicatesResult
from tests.support.dedup_album import ODD_NAME, Album, collections_service, isc, make_album
from tests.support.service import Service


@pytest.fixture(scope="module")
def svc(log_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with collections_service(log_dir, "dedup-report", tmp_path_factory.mktemp("store")) as service:
        yield service


@pytest.fixture(scope="module")
def written(
    svc: Service, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Album, Path, DuplicatesResult]:
    """The album, the report ``isc dedup`` wrote for it, and the service's answer."""
    folder = tmp_path_factory.mktemp("dedup-report")
    album = make_album(folder / "album")
    report = folder / "report.html"
    done = isc(svc, "dedup", album.folder, "--report", report, "--json")
    assert done.returncode == 0, done.stderr
    return album, report, DuplicatesResult.model_validate_json(done.stdout)


def test_report_shows_groups_thumbnails_and_scores_offline(
    page: Page, written: tuple[Album, Path, DuplicatesResult], output_dir: Path
) -> None:
    album, report, found = written
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("requestfailed", lambda request: requests.append(f"failed: {request.url}"))
    page.goto(report.as_uri())
    page.wait_for_load_state("load")
    groups = page.locator("section.group")
    expect(groups).to_have_count(3)
    # Each planted copy is in one group with the photo it copies.
    members = [group.locator(".member .name").all_inner_texts() for group in groups.all()]
    for copy, original in {**album.near_copies, **album.exact_copies}.items():
        assert any({copy, original} <= set(names) for names in members), (copy, members)
    assert sorted(map(sorted, members)) == sorted(
        [
            sorted(["owl.jpg", "owl-again.jpg", "owl-copy.jpg"]),
            sorted(["parrot.jpg", "parrot-small.jpg"]),
            sorted([ODD_NAME, "sunflower.png"]),
        ]
    )
    # Every thumbnail decoded: a real picture, not a broken image.
    thumbnails = page.locator(".member img")
    expect(thumbnails).to_have_count(7)
    sizes = thumbnails.evaluate_all("images => images.map(i => [i.complete, i.naturalWidth])")
    assert all(complete and width > 0 for complete, width in sizes), sizes
    boxes = [thumbnail.bounding_box() for thumbnail in thumbnails.all()]
    assert all(box is not None and box["width"] > 50 for box in boxes), boxes
    # The service's scores, one row per pair, in the group of that pair.
    for pair in found.pairs:
        row = page.locator("tr.pair", has_text=f"{pair.score:.4f}")
        expect(row).to_have_count(1)
        group = page.locator("section.group", has=row)
        expect(group.locator(".member .name", has_text=pair.b.file_name)).to_have_count(1)
    expect(page.locator("tr.exact-pair .score")).to_have_text(["same bytes", "same bytes"])
    expect(page.locator(".exact")).to_have_count(4)
    # Self-contained: the only request is the file itself (data: thumbnails need none).
    assert requests == [report.as_uri()], requests
    page.screenshot(path=str(output_dir / "dedup-report.png"), full_page=True)
