"""The duplicate pairs of a collection: block-wise, exact against the full cosine matrix."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from api.collections import duplicates
from api.collections.duplicates import groups, similar_pairs, with_exact_copies
from api.collections.store import MAX_NAMES, CollectionStore, fast_commits, names_of
from shared.settings import Settings


def test_blocks_find_exactly_the_pairs_of_the_full_matrix(monkeypatch) -> None:
    monkeypatch.setattr(duplicates, "BLOCK", 7)  # several blocks, one of them partial
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((40, 16)).astype(np.float32)
    vectors[5] = vectors[30] * 2.0 + 0.01  # a planted near-copy, another length
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    full = unit @ unit.T
    expected = {(i, j) for i in range(40) for j in range(i + 1, 40) if full[i, j] >= 0.3}
    pairs, truncated = similar_pairs(vectors, 0.3, max_pairs=10_000)
    assert {(i, j) for i, j, _ in pairs} == expected and not truncated
    assert pairs[0][:2] == (5, 30) and pairs[0][2] > 0.999
    scores = [s for _, _, s in pairs]
    assert scores == sorted(scores, reverse=True)


def test_over_max_pairs_the_most_similar_are_kept(monkeypatch) -> None:
    monkeypatch.setattr(duplicates, "BLOCK", 4)
    rng = np.random.default_rng(4)
    vectors = np.abs(rng.standard_normal((30, 8)))
    everything, _ = similar_pairs(vectors, -1.0, max_pairs=10_000)
    assert len(everything) == 30 * 29 // 2
    kept, truncated = similar_pairs(vectors, -1.0, max_pairs=25)
    assert truncated and [p[:2] for p in kept] == [p[:2] for p in everything[:25]]


def test_groups_join_pairs_transitively() -> None:
    pairs = [(0, 3, 0.9), (3, 5, 0.9), (1, 2, 0.95)]
    assert groups(7, pairs) == [[0, 3, 5], [1, 2]]


def test_exact_copies_join_their_group_or_make_their_own() -> None:
    names = [["a.jpg"], ["b.jpg", "b2.jpg"], ["c.jpg"], ["d.jpg", "d2.jpg", "d3.jpg"], ["e"]]
    joined = [[0, 1]]  # a and b are near-duplicates; b also came under two names
    assert with_exact_copies(names, joined) == [[0, 1], [3]]
    assert with_exact_copies([["x"], ["y"]], []) == []


def test_the_store_keeps_every_name_of_the_same_bytes(tmp_path: Path) -> None:
    """The embedded store, on disk: a second write of stored bytes (another request, another
    name) keeps the first payload and vector and adds the name; names are kept once, and at
    most MAX_NAMES of them."""
    store = CollectionStore(Settings(collections_dir=tmp_path))
    try:
        store.create("names", "mobilenet_v2", 4, "key")
        image = "0123456789abcdef0123456789abcdef"
        first = {"file_name": "a.jpg", "file_names": ["a.jpg", "a copy.jpg"], "width": 5}
        store.upsert("names", [(image, [1.0, 0, 0, 0], first)])
        store.upsert("names", [(image, [0, 1.0, 0, 0], {"file_name": "b.jpg", "width": 9})])
        store.add_names("names", {image: ["a.jpg", "c.jpg", "c.jpg"]})
        stored = store.image("names", image)
        assert stored is not None and stored.payload["width"] == 5
        assert names_of(stored.payload) == ["a.jpg", "a copy.jpg", "b.jpg", "c.jpg"]
        _, vectors = store.vectors("names")
        assert vectors.tolist() == [[1.0, 0, 0, 0]]
        store.add_names("names", {image: [f"{n}.jpg" for n in range(2 * MAX_NAMES)]})
        stored = store.image("names", image)
        assert stored is not None and len(names_of(stored.payload)) == MAX_NAMES
        assert names_of({"file_name": "old.jpg"}) == ["old.jpg"]  # written before names
    finally:
        store.close()


def test_the_embedded_store_commits_without_waiting_for_the_disk(tmp_path: Path) -> None:
    """WAL and synchronous=NORMAL on every collection's SQLite file, for a new collection and
    for those found when the store is opened again (qdrant-client keeps that connection
    private: this fails if a version moves it)."""
    for run in range(2):
        store = CollectionStore(Settings(collections_dir=tmp_path))
        try:
            if run == 0:
                store.create("first", "mobilenet_v2", 4, "key")
            store.create(f"more-{run}", "mobilenet_v2", 4, "key")
            client = store._qdrant()
            collections = client._client.collections
            assert len(collections) == 2 + run
            for collection in collections.values():
                connection = collection.storage.storage
                assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
                assert connection.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
            assert fast_commits(client) == 2 + run
        finally:
            store.close()
