"""``isc dedup --report report.html`` and ``isc index`` on a real service and real photos: the
page is one self-contained file with the real thumbnails, names (escaped) and scores; indexing
sends several batches at once, no more than its bound, and answers in the folder's order."""

from __future__ import annotations

import html
import threading
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from isc_client import Client
from isc_client.cli import BATCH_FILES, PARALLEL_REQUESTS, _index
from shared.collections import AddStatus, DuplicatesResult
from tests.support.checks import decode_data_url
from tests.support.dedup_album import (
    ODD_NAME,
    Album,
    collections_service,
    isc,
    jpeg_copy,
    make_album,
)
from tests.support.paths import PHOTOS, require
from tests.support.service import Service


@pytest.fixture(scope="module")
def svc(log_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    with collections_service(log_dir, "cli-report", tmp_path_factory.mktemp("store")) as service:
        yield service


@pytest.fixture(scope="module")
def album(tmp_path_factory: pytest.TempPathFactory) -> Album:
    return make_album(tmp_path_factory.mktemp("album") / "photos")


class Tags(HTMLParser):
    """Every start tag with its attributes, and the page's text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_html_report_holds_the_groups_thumbnails_and_scores(
    svc: Service, album: Album, tmp_path: Path
) -> None:
    report = tmp_path / "report.html"
    done = isc(svc, "dedup", album.folder, "--report", report, "--json")
    assert done.returncode == 0, done.stderr
    found = DuplicatesResult.model_validate_json(done.stdout)
    page = report.read_text(encoding="utf-8")
    parsed = Tags()
    parsed.feed(page)
    text = "".join(parsed.text)
    tags = [tag for tag, _ in parsed.tags]
    # Self-contained: nothing to fetch, nothing to run.
    assert not {"script", "link", "iframe", "object", "embed"} & set(tags)
    assert "http://" not in page and "https://" not in page and "url(" not in page
    # Three groups: the owl with its JPEG copy and its byte copy, the parrot and its JPEG copy
    # (the service's two groups), the sunflower and its byte copy.
    assert [len(group) for group in found.groups] == [2, 2]
    assert tags.count("section") == 3
    sources = [attrs["src"] for tag, attrs in parsed.tags if tag == "img"]
    assert len(sources) == 7  # one per file of the groups (byte copies show the same picture)
    for source in sources:
        assert source is not None
        assert max(decode_data_url(source).size) == 256  # the service's JPEG thumbnail
    # Every pair's score as the service computed it, and the byte copies flagged.
    assert len(found.pairs) == 2
    for pair in found.pairs:
        assert f"{pair.score:.4f}" in text
    assert text.count("exact copy") == 4  # owl.jpg and owl-again.jpg, the sunflower's two
    classes = [attrs.get("class") or "" for tag, attrs in parsed.tags if tag == "tr"]
    assert sum("exact-pair" in each.split() for each in classes) == 2
    # The names are text, not markup.
    assert html.escape(ODD_NAME) in page and ODD_NAME in text and "<b>" not in page
    assert "report saved to" in done.stderr


def test_report_rows_follow_the_groups(svc: Service, album: Album, tmp_path: Path) -> None:
    report = tmp_path / "groups.csv"
    done = isc(svc, "dedup", album.folder, "--report", report)
    assert done.returncode == 0, done.stderr
    rows = [row.split(",", 2) for row in report.read_text(encoding="utf-8").splitlines()[1:]]
    by_group: dict[str, set[str]] = {}
    for group, name, _ in rows:
        by_group.setdefault(group, set()).add(name.strip('"').replace('""', '"'))
    assert sorted(by_group.values(), key=len, reverse=True) == [
        {"owl.jpg", "owl-again.jpg", "owl-copy.jpg"},
        {"parrot.jpg", "parrot-small.jpg"},
        {ODD_NAME, "sunflower.png"},
    ]


class CountingTransport(httpx.HTTPTransport):
    """The real network, counting the additions in flight at once."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.now = self.most = self.sent = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        adding = request.method == "POST" and request.url.path.endswith("/images")
        if adding:
            with self.lock:
                self.now += 1
                self.sent += 1
                self.most = max(self.most, self.now)
        try:
            return super().handle_request(request)
        finally:
            if adding:
                with self.lock:
                    self.now -= 1


def test_indexing_runs_batches_at_once_bounded_in_order(svc: Service, tmp_path: Path) -> None:
    """72 JPEG variants of the real photos (5 batches) and one photo's bytes twice, first and
    last by name: at most PARALLEL_REQUESTS requests at once, the outcomes in the folder's
    order, the repeated bytes sent after the rest (so always already_present, never indexed
    twice by two batches in flight together); a rerun finds everything there."""
    folder = tmp_path / "many"
    folder.mkdir()
    photos = sorted(p for p in require(PHOTOS).iterdir() if p.suffix in (".png", ".jpg"))
    for path in photos:
        for quality in (90, 70):
            for scale in (1.0, 0.8):
                data = jpeg_copy(path.read_bytes(), quality, scale)
                (folder / f"{path.stem}-q{quality}-s{scale}.jpg").write_bytes(data)
    (folder / "aaa-first.png").write_bytes((PHOTOS / "bird.png").read_bytes())
    (folder / "zzz-last.png").write_bytes((PHOTOS / "bird.png").read_bytes())
    names = sorted(path.name for path in folder.iterdir())
    assert len(names) - 1 > BATCH_FILES * PARALLEL_REQUESTS  # more batches than the bound
    transport = CountingTransport()
    with Client(svc.base_url, transport=transport) as client:
        done = _index(client, "many", "mobilenet_v2", folder, recursive=False)
        kept = client.image("many", done.images[0].id or "")
    assert kept.file_name == "aaa-first.png" and (kept.width, kept.height) == (512, 343)
    assert kept.thumbnail is not None and decode_data_url(kept.thumbnail).width == 256
    assert [image.file_name for image in done.images] == names
    assert (done.indexed, done.already_present, done.refused) == (len(names) - 1, 1, 0)
    assert done.images[-1].status is AddStatus.ALREADY_PRESENT
    assert done.images[-1].id == done.images[0].id
    assert transport.sent == 5 + 1  # 73 different files, then the repeated bytes
    assert 1 < transport.most <= PARALLEL_REQUESTS
    again = isc(svc, "index", folder, "--collection", "many")
    assert again.returncode == 0, again.stderr
    assert f"0 indexed, {len(names)} already present, 0 refused" in again.stdout
    # The progress bar's last state: count, rate and time left.
    assert f"{len(names)}/{len(names)}" in again.stderr and "images/s" in again.stderr
