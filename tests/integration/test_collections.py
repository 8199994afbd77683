"""Collections through the real gateway, worker and embedded Qdrant store: real photos, the real
MobileNetV2 weights, the store on disk under the test's tmp folder."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from PIL import Image

from isc_client import Client
from shared.collections import AddStatus, DuplicatesResult, SearchResult
from tests.support.dedup_album import ALBUM_PHOTOS, collections_service, jpeg_copy
from tests.support.paths import PHOTOS, SHARED, photo, require
from tests.support.service import Service, running_service

PHOTO_NAMES = ALBUM_PHOTOS  # six real photos, one of each subject


def start(log_dir: Path, name: str, collections_dir: Path, **settings: str) -> Iterator[Service]:
    with collections_service(log_dir, name, collections_dir, **settings) as service:
        yield service


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("collections")


@pytest.fixture(scope="module")
def svc(log_dir: Path, store_dir: Path) -> Iterator[Service]:
    yield from start(log_dir, "collections", store_dir)


def add(client: httpx.Client, name: str, files: list[tuple[str, bytes]]) -> dict:
    response = client.post(
        f"/api/v1/collections/{name}/images",
        files=[("files", (file_name, data)) for file_name, data in files],
    )
    assert response.status_code == 200, response.text
    return response.json()


def create(client: httpx.Client, name: str) -> dict:
    response = client.post("/api/v1/collections", json={"name": name, "method": "mobilenet_v2"})
    assert response.status_code == 201, response.text
    return response.json()


def test_search_with_a_jpeg_copy_finds_the_photo_first(svc: Service) -> None:
    with svc.client() as client:
        info = create(client, "photos")
        assert info["dimensions"] == 1280 and info["images"] == 0
        added = add(client, "photos", [(name, photo(name)) for name in PHOTO_NAMES])
        assert added["indexed"] == len(PHOTO_NAMES) and added["refused"] == 0
        response = client.post(
            "/api/v1/collections/photos/search",
            files={"image": ("q.jpg", jpeg_copy(photo("parrot.jpg"), quality=70))},
            data={"k": "3"},
        )
        assert response.status_code == 200, response.text
        hits = response.json()["hits"]
        assert len(hits) == 3
        assert hits[0]["image"]["file_name"] == "parrot.jpg"
        assert hits[0]["score"] > 0.95 > hits[1]["score"]
        scores = [hit["score"] for hit in hits]
        assert scores == sorted(scores, reverse=True)
        assert hits[0]["verdict"] == "near-duplicate"  # MobileNetV2's calibrated 0.797
        assert hits[1]["verdict"] != "near-duplicate"
        same = client.post(
            "/api/v1/collections/photos/search",
            files={"image": ("p.jpg", photo("parrot.jpg"))},
            data={"k": "3", "min_score": "0.9"},
        ).json()["hits"]
        assert [(hit["image"]["file_name"], hit["verdict"]) for hit in same] == [
            ("parrot.jpg", "identical")  # the same bytes; nothing else reaches 0.9
        ]
        thumbnail = hits[0]["image"]["thumbnail"]
        assert thumbnail.startswith("data:image/jpeg;base64,")
        small = Image.open(io.BytesIO(base64.b64decode(thumbnail.split(",", 1)[1])))
        assert max(small.size) == 256 and small.size[0] < small.size[1]  # parrot.jpg: 512x929
        listed = client.get("/api/v1/collections").json()["collections"]
        assert {"name": "photos", "images": len(PHOTO_NAMES)}.items() <= listed[0].items()


def test_adding_the_same_files_again_is_idempotent(svc: Service) -> None:
    with svc.client() as client:
        create(client, "again")
        files = [(name, photo(name)) for name in PHOTO_NAMES[:3]]
        first = add(client, "again", files)
        second = add(client, "again", [*files, ("copy-of-cat.png", photo("cat.png"))])
        assert first["indexed"] == 3
        assert second["indexed"] == 0 and second["already_present"] == 4
        assert [image["id"] for image in second["images"][:3]] == [
            image["id"] for image in first["images"]
        ]
        assert client.get("/api/v1/collections/again").json()["images"] == 3
        image_id = first["images"][0]["id"]
        stored = client.get(f"/api/v1/collections/again/images/{image_id}").json()
        assert stored["file_name"] == "cat.png" and stored["width"] == 512
        assert client.delete(f"/api/v1/collections/again/images/{image_id}").status_code == 204
        gone = client.get(f"/api/v1/collections/again/images/{image_id}")
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "image_not_found"
        assert client.get("/api/v1/collections/again").json()["images"] == 2


def test_a_bad_file_is_refused_and_the_others_are_indexed(svc: Service) -> None:
    with svc.client() as client:
        response = client.post("/api/v1/collections", json={"name": "mixed", "thumbnails": False})
        assert response.status_code == 201 and response.json()["thumbnails"] is False
        added = add(
            client,
            "mixed",
            [("cat.png", photo("cat.png")), ("notes.txt", b"not an image at all")],
        )
        assert added["indexed"] == 1 and added["refused"] == 1
        assert added["images"][1]["error"] == "unsupported_media_type"
        stored = client.get(f"/api/v1/collections/mixed/images/{added['images'][0]['id']}")
        assert stored.json()["thumbnail"] is None  # thumbnails off: nothing of the picture


def test_duplicates_finds_planted_copies_and_not_different_photos(svc: Service) -> None:
    flowers = SHARED / "eval" / "flowers-dev"
    lilies = sorted(require(flowers / "tiger_lily").glob("*.jpg"))[:3]
    with svc.client() as client:
        create(client, "dedup")
        files = [(name, photo(name)) for name in PHOTO_NAMES]
        files += [(f"lily-{path.name}", path.read_bytes()) for path in lilies]
        files.append(("cat-copy.jpg", jpeg_copy(photo("cat.png"), quality=60)))
        files.append(("owl-small.jpg", jpeg_copy(photo("owl.jpg"), scale=0.5)))
        assert add(client, "dedup", files)["indexed"] == len(files)
        response = client.get("/api/v1/collections/dedup/duplicates")
        assert response.status_code == 200, response.text
        found = response.json()
        assert found["threshold_source"] == "calibrated"
        names = {
            frozenset((pair["a"]["file_name"], pair["b"]["file_name"])) for pair in found["pairs"]
        }
        assert names == {
            frozenset(("cat.png", "cat-copy.jpg")),
            frozenset(("owl.jpg", "owl-small.jpg")),
        }, found["pairs"]
        assert all(pair["score"] >= found["threshold"] for pair in found["pairs"])
        assert all(pair["a"]["thumbnail"] is None for pair in found["pairs"])  # kept small
        assert sorted(len(group) for group in found["groups"]) == [2, 2]
        # A lower, explicit threshold is used as given.
        loose = client.get("/api/v1/collections/dedup/duplicates", params={"threshold": 0.0})
        assert loose.json()["threshold_source"] == "request"
        count = len(files)
        assert len(loose.json()["pairs"]) == count * (count - 1) // 2
        assert not loose.json()["truncated"]
        capped = client.get(
            "/api/v1/collections/dedup/duplicates", params={"threshold": 0.0, "max_pairs": 3}
        ).json()
        assert capped["truncated"] and capped["pairs"] == loose.json()["pairs"][:3]


def test_verify_adds_the_pixel_methods_scores_on_the_thumbnails(svc: Service) -> None:
    """A JPEG copy's hit is the same picture to SSIM and pHash as well; an unrelated photo
    further down is not, whatever its cosine."""
    with svc.client() as client:
        create(client, "verified")
        add(client, "verified", [(name, photo(name)) for name in PHOTO_NAMES])
        response = client.post(
            "/api/v1/collections/verified/search",
            files={"image": ("q.jpg", jpeg_copy(photo("parrot.jpg"), quality=70))},
            data={"k": str(len(PHOTO_NAMES)), "verify": "true"},
        )
        assert response.status_code == 200, response.text
        hits = response.json()["hits"]
        assert all(hit["verified"] is not None for hit in hits)  # 6 hits: all in the top 10
        top = hits[0]["verified"]
        assert hits[0]["image"]["file_name"] == "parrot.jpg"
        assert top["ssim"]["score"] > 0.9 and top["ssim"]["verdict"] == "near-duplicate"
        assert top["phash"]["metrics"]["phash_distance"] <= 4
        assert top["phash"]["verdict"] == "near-duplicate"
        others = {hit["image"]["file_name"]: hit["verified"] for hit in hits[1:]}
        for name, checked in others.items():
            assert checked["ssim"]["score"] < 0.5, (name, checked)
            assert checked["ssim"]["verdict"] == "different", (name, checked)
            assert checked["phash"]["metrics"]["phash_distance"] >= 16, (name, checked)
            assert checked["phash"]["verdict"] == "different", (name, checked)
        plain = client.post(
            "/api/v1/collections/verified/search",
            files={"image": ("q.jpg", jpeg_copy(photo("parrot.jpg"), quality=70))},
            data={"k": "2"},
        ).json()["hits"]
        assert [hit["verified"] for hit in plain] == [None, None]
        client.post("/api/v1/collections", json={"name": "no-thumbs", "thumbnails": False})
        refused = client.post(
            "/api/v1/collections/no-thumbs/search",
            files={"image": ("q.jpg", photo("cat.png"))},
            data={"verify": "true"},
        )
        assert refused.status_code == 422, refused.text
        assert "thumbnails" in refused.json()["error"]["message"]


def test_exact_copies_are_flagged_in_duplicates(svc: Service) -> None:
    """Files with the same bytes are one image under several names: it says so, and the
    duplicates answer flags them, inside a near-duplicate group or as a group of their own."""
    cat, parrot = photo("cat.png"), photo("parrot.jpg")
    with svc.client() as client:
        create(client, "copies")
        first = add(
            client,
            "copies",
            [
                ("cat.png", cat),
                ("cat-again.png", cat),  # the same bytes in the same request
                ("cat-copy.jpg", jpeg_copy(cat, quality=60)),  # a near-duplicate
                ("parrot.jpg", parrot),
                ("owl.jpg", photo("owl.jpg")),
            ],
        )
        assert first["indexed"] == 4 and first["already_present"] == 1
        later = add(client, "copies", [("parrot (1).jpg", parrot), ("cat.png", cat)])
        assert later["already_present"] == 2
        cat_id = first["images"][0]["id"]
        stored = client.get(f"/api/v1/collections/copies/images/{cat_id}").json()
        assert stored["file_name"] == "cat.png" and stored["exact_copies"] == ["cat-again.png"]
        found = client.get("/api/v1/collections/copies/duplicates").json()
        assert [len(group) for group in found["groups"]] == [2]  # cat.png with cat-copy.jpg
        near, alone = found["file_groups"]
        assert not near["byte_identical"]
        assert sorted(near["file_names"]) == ["cat-again.png", "cat-copy.jpg", "cat.png"]
        assert near["exact_copies"] == [["cat.png", "cat-again.png"]]
        assert near["ids"] == found["groups"][0]
        assert alone["byte_identical"] and alone["ids"] == [first["images"][3]["id"]]
        assert alone["exact_copies"] == [["parrot.jpg", "parrot (1).jpg"]]
        pair = found["pairs"][0]
        cat_side = pair["a"] if pair["a"]["id"] == cat_id else pair["b"]
        assert cat_side["exact_copies"] == ["cat-again.png"]


def test_bad_requests_get_clear_json_errors(svc: Service) -> None:
    with svc.client() as client:
        missing = client.get("/api/v1/collections/nope")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "collection_not_found"
        assert "nope" in missing.json()["error"]["message"]
        search = client.post(
            "/api/v1/collections/nope/search", files={"image": ("a.png", photo("cat.png"))}
        )
        assert search.status_code == 404
        assert search.json()["error"]["code"] == "collection_not_found"
        create(client, "twice")
        again = client.post("/api/v1/collections", json={"name": "twice"})
        assert again.status_code == 409 and again.json()["error"]["code"] == "collection_exists"
        bad_name = client.post("/api/v1/collections", json={"name": "Bad Name!"})
        assert bad_name.status_code == 422
        not_cnn = client.post("/api/v1/collections", json={"name": "ok", "method": "ssim"})
        assert not_cnn.status_code == 422
        too_many = client.post(
            "/api/v1/collections/twice/search",
            files={"image": ("a.png", photo("cat.png"))},
            data={"k": "1000"},
        )
        assert too_many.status_code == 422
        assert client.delete("/api/v1/collections/twice").status_code == 204
        assert client.get("/api/v1/collections/twice").status_code == 404


def test_too_many_files_is_413_at_the_limit_the_gateway_reports(svc: Service) -> None:
    """The per-request limit in ``/api/v1/methods`` is the one enforced, so that a client (the
    page's upload) can size its batches before sending any."""
    with svc.client() as client:
        limits = client.get("/api/v1/methods").json()["limits"]
        limit = limits["collection_max_files"]
        assert limits["max_request_bytes"] > 2 * limits["max_upload_bytes"]
        create(client, "batches")
        copy = jpeg_copy(photo("cat.png"), quality=30)
        over = client.post(
            "/api/v1/collections/batches/images",
            files=[("files", (f"{n}.jpg", copy)) for n in range(limit + 1)],
        )
        assert over.status_code == 413
        error = over.json()["error"]
        assert error["code"] == "too_many_files"
        assert error["detail"]["limit_files"] == limit
        assert client.get("/api/v1/collections/batches").json()["images"] == 0
        at_limit = add(client, "batches", [(f"{n}.jpg", copy) for n in range(limit)])
        assert at_limit["indexed"] == 1 and at_limit["already_present"] == limit - 1


def test_a_collection_survives_a_restart(log_dir: Path, tmp_path: Path) -> None:
    require(PHOTOS)
    files = [(name, photo(name)) for name in PHOTO_NAMES[:3]]
    for run, service in enumerate(_two_runs(log_dir, tmp_path)):
        with service.client() as client:
            if run == 0:
                create(client, "kept")
                add(client, "kept", files)
            else:
                assert client.get("/api/v1/collections/kept").json()["images"] == 3
                assert add(client, "kept", files)["already_present"] == 3


def _two_runs(log_dir: Path, store: Path) -> Iterator[Service]:
    for run in range(2):
        yield from start(log_dir, f"collections-restart-{run}", store)


def test_the_python_client_indexes_searches_and_finds_duplicates(svc: Service) -> None:
    with Client(svc.base_url) as client:
        info = client.create_collection("client")
        assert info.method == "mobilenet_v2"
        paths = [require(PHOTOS / name) for name in PHOTO_NAMES[:4]]
        added = client.add("client", [*paths, jpeg_copy(photo("cat.png"), quality=60)])
        assert [image.status for image in added.images] == [AddStatus.INDEXED] * 5
        found = client.search("client", jpeg_copy(photo("dog_1.png")), k=2)
        assert isinstance(found, SearchResult) and found.hits[0].image.file_name == "dog_1.png"
        duplicates = client.duplicates("client")
        assert [len(group) for group in duplicates.groups] == [2]
        assert {duplicates.pairs[0].a.file_name, duplicates.pairs[0].b.file_name} == {
            "cat.png",
            "image-4",
        }
        assert "client" in [c.name for c in client.collections().collections]
        client.delete_collection("client")
        assert "client" not in [c.name for c in client.collections().collections]
        embedding = client.embed(require(PHOTOS / "owl.jpg"))
        assert embedding.dimensions == len(embedding.vector) == 1280


ISC = Path(sys.executable).parent / "isc"


def isc(service: Service, *args: str | Path) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("ISC_URL", "ISC_API_KEY")}
    return subprocess.run(
        [str(ISC), *map(str, args), "--url", service.base_url],
        capture_output=True,
        text=True,
        timeout=120,
        env={**environment, "COLUMNS": "200"},
        check=False,
    )


def test_isc_index_search_and_dedup_a_folder(svc: Service, tmp_path: Path) -> None:
    folder = tmp_path / "album"
    folder.mkdir()
    for name in PHOTO_NAMES:
        (folder / name).write_bytes(photo(name))
    (folder / "owl-copy.jpg").write_bytes(jpeg_copy(photo("owl.jpg"), scale=0.75))
    (folder / "notes.txt").write_text("not an image")
    (folder / "cat-again.png").write_bytes(photo("cat.png"))  # the same bytes as cat.png
    report = tmp_path / "groups.csv"
    dedup = isc(svc, "dedup", folder, "--json", "--report", report)
    assert dedup.returncode == 0, dedup.stderr
    rows = [row.split(",") for row in report.read_text().splitlines()]
    assert rows[0] == ["group", "file", "id"]
    assert sorted((group, name) for group, name, _ in rows[1:]) == [
        ("1", "owl-copy.jpg"),
        ("1", "owl.jpg"),
        ("2", "cat-again.png"),
        ("2", "cat.png"),
    ]
    found = DuplicatesResult.model_validate_json(dedup.stdout)
    names = [{pair.a.file_name, pair.b.file_name} for pair in found.pairs]
    assert names == [{"owl.jpg", "owl-copy.jpg"}]
    assert "skipped 1 files" in dedup.stderr
    with Client(svc.base_url) as client:  # the temporary collection is gone
        assert not [c for c in client.collections().collections if c.name.startswith("isc-")]
    first = isc(svc, "index", folder, "--collection", "album")
    assert first.returncode == 0, first.stderr
    assert "7 indexed, 1 already present, 0 refused" in first.stdout  # cat-again.png
    again = isc(svc, "index", folder, "-c", "album")
    assert "0 indexed, 8 already present" in again.stdout
    hits = isc(svc, "search", require(PHOTOS / "parrot.jpg"), "-c", "album", "-k", "2", "--json")
    assert hits.returncode == 0, hits.stderr
    assert json.loads(hits.stdout)["hits"][0]["image"]["file_name"] == "parrot.jpg"
    missing = isc(svc, "search", require(PHOTOS / "parrot.jpg"), "-c", "nothing-here")
    assert missing.returncode == 3 and "collection_not_found" in missing.stderr


def test_embed_answers_the_unit_vector_with_its_weights(svc: Service) -> None:
    with svc.client() as client:
        response = client.post(
            "/api/v1/embed", files={"image": ("cat.png", photo("cat.png"))}, data={}
        )
        assert response.status_code == 200, response.text
        embedding = response.json()
        assert embedding["dimensions"] == len(embedding["vector"]) == 1280
        assert abs(sum(x * x for x in embedding["vector"]) - 1.0) < 1e-4
        assert embedding["weights_key"].startswith("mobilenet_v2:")
        assert embedding["near_duplicate_threshold"] == 0.797  # worker/calibration.json
        assert [b["verdict"] for b in embedding["verdict_bounds"]] == [
            "near-duplicate",
            "same-subject",
            "related",
        ]
        assert embedding["lowest_verdict"] == "different"
        assert (embedding["width"], embedding["height"]) == (512, 341)
        refused = client.post(
            "/api/v1/embed",
            files={"image": ("cat.png", photo("cat.png"))},
            data={"method": "ssim"},
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["code"] == "validation_error"


@pytest.mark.skipif(
    not os.environ.get("ISC_TEST_QDRANT_URL"),
    reason="no Qdrant server: set ISC_TEST_QDRANT_URL (e.g. http://127.0.0.1:6333) to run it",
)
def test_the_same_code_on_a_qdrant_server(log_dir: Path, tmp_path: Path) -> None:
    url = os.environ["ISC_TEST_QDRANT_URL"]
    name = f"server-{os.getpid()}"
    for service in start(log_dir, "collections-server", tmp_path / "unused", qdrant_url=url):
        with service.client() as client:
            create(client, name)
            try:
                added = add(client, name, [(n, photo(n)) for n in PHOTO_NAMES[:3]])
                assert added["indexed"] == 3
                response = client.post(
                    f"/api/v1/collections/{name}/search",
                    files={"image": ("q.jpg", jpeg_copy(photo("cat.png")))},
                )
                assert response.json()["hits"][0]["image"]["file_name"] == "cat.png"
            finally:
                client.delete(f"/api/v1/collections/{name}")
        assert not (tmp_path / "unused").exists()  # nothing written locally


def test_concurrent_adds_and_searches_are_safe(svc: Service) -> None:
    """Eight clients at once: four add (two of them the same files), four search; the store
    ends with each image once and every answer is whole."""
    lilies = sorted(require(SHARED / "eval" / "flowers-dev" / "tiger_lily").glob("*.jpg"))[:6]
    batches = [
        [(path.name, path.read_bytes()) for path in lilies[:3]],
        [(path.name, path.read_bytes()) for path in lilies[3:]],
        [(name, photo(name)) for name in PHOTO_NAMES[:3]],
        [(name, photo(name)) for name in PHOTO_NAMES[:3]],  # the same files as the one before
    ]
    with svc.client() as client:
        create(client, "busy")
        add(client, "busy", [("bird.png", photo("bird.png"))])

        def adding(files: list[tuple[str, bytes]]) -> dict:
            with svc.client() as own:
                return add(own, "busy", files)

        def searching(name: str) -> dict:
            with svc.client() as own:
                response = own.post(
                    "/api/v1/collections/busy/search",
                    files={"image": (name, photo(name))},
                    data={"k": "3"},
                )
                assert response.status_code == 200, response.text
                return response.json()

        with ThreadPoolExecutor(8) as pool:  # submitted together: adds and searches overlap
            adds = [pool.submit(adding, files) for files in batches]
            searches = [pool.submit(searching, "bird.png") for _ in range(4)]
            added = [future.result() for future in adds]
            found = [future.result() for future in searches]
        assert all(answer["refused"] == 0 for answer in added)
        assert sum(answer["indexed"] for answer in added) in range(9, 13)  # a race may count twice
        assert client.get("/api/v1/collections/busy").json()["images"] == 10
        assert all(answer["hits"][0]["image"]["file_name"] == "bird.png" for answer in found)


def test_vectors_of_other_weights_are_refused(log_dir: Path, tmp_path: Path) -> None:
    """A collection made with the ImageNet weights, opened by a worker with other weights (the
    test-only random initialisation): adding and searching answer 409 weights_mismatch."""
    for service in start(log_dir, "collections-weights", tmp_path):
        with service.client() as client:
            create(client, "imagenet")
    empty = tmp_path / "no-weights"
    empty.mkdir()
    with (
        running_service(
            log_dir,
            "collections-random-init",
            weights_dir=str(empty),
            cnn_random_init="true",
            cnn_methods="mobilenet_v2",
            cnn_precision="float32",
            collections_dir=str(tmp_path),
        ) as other,
        other.client() as client,
    ):
        response = client.post(
            "/api/v1/collections/imagenet/images", files=[("files", ("a.png", photo("cat.png")))]
        )
        assert response.status_code == 409, response.text
        assert response.json()["error"]["code"] == "weights_mismatch"
        assert "create a new collection" in response.json()["error"]["message"]
        assert client.get("/api/v1/collections/imagenet").json()["images"] == 0
