"""The collections' vector store: Qdrant through ``qdrant-client``, the same code for its embedded
local mode (on disk, the default) and for a server or cluster (``ISC_QDRANT_URL``).

All of it is synchronous and runs in threads (``anyio.to_thread``), never on the event loop.
One lock serialises the calls: the embedded mode is one process's files and not made for
concurrent threads, and a collection's writes stay whole (a batch is one upsert).
Each collection is one Qdrant collection named ``isc-<name>``; what it was made with (the CNN,
the weights' fingerprint, the vector length) is kept in that collection's own metadata.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
from qdrant_client import QdrantClient, models

from shared.errors import ErrorCode, ServiceError
from shared.settings import Settings

PREFIX = "isc-"
SCROLL_PAGE = 1024
MAX_NAMES = 100
"""Most file names kept per image (its byte-identical copies): a file sent under thousands of
names must not grow one payload without bound."""


@dataclass(frozen=True)
class StoredCollection:
    """A collection's metadata and size."""

    name: str
    method: str
    dimensions: int
    weights_key: str | None
    images: int
    thumbnails: bool


@dataclass(frozen=True)
class StoredImage:
    """A stored point: its id (the content hash) and payload."""

    id: str
    payload: dict[str, Any]


def names_of(payload: dict[str, Any]) -> list[str]:
    """Every file name an image's bytes were sent under, the first one first (points written
    before names were kept have ``file_name`` alone)."""
    names = payload.get("file_names")
    if isinstance(names, list) and names:
        return [str(n) for n in names]
    return [str(payload.get("file_name", ""))]


def fast_commits(client: QdrantClient) -> int:
    """Embedded mode: put each collection's SQLite file in WAL mode with ``synchronous=NORMAL``;
    how many files were set. Qdrant's local mode commits every point on its own, and with
    SQLite's defaults each commit waits for the disk twice: measured here, 73 ms to add 4
    points, serialised, against 1.9 ms on a RAM disk, a ceiling of about 55 images/s on
    indexing whatever the CPUs do. With WAL and NORMAL a commit waits for no disk; an
    acknowledged add still survives a crash of the service, and only a power cut can lose the
    last ones (the file stays consistent, and adding again is idempotent). The connection is
    qdrant-client's own (not public API): a version that moved it is skipped here, and
    ``tests/unit/test_collection_duplicates.py`` fails on it."""
    local = getattr(client, "_client", None)
    count = 0
    for collection in getattr(local, "collections", {}).values():
        connection = getattr(getattr(collection, "storage", None), "storage", None)
        if isinstance(connection, sqlite3.Connection):
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            count += 1
    return count


def point_id(image_id: str) -> str:
    """Qdrant takes UUIDs or integers; a 128-bit content hash is a UUID as it is."""
    return str(uuid.UUID(hex=image_id))


def image_id(point: object) -> str:
    """The content hash back from a point id."""
    return uuid.UUID(str(point)).hex


def not_found(name: str) -> ServiceError:
    """The 404 for a collection that does not exist."""
    return ServiceError(
        ErrorCode.COLLECTION_NOT_FOUND,
        f"There is no collection named '{name}'. GET /api/v1/collections lists them; "
        f"POST /api/v1/collections creates one.",
        {"collection": name},
    )


class CollectionStore:
    """Create, list, fill, search and read collections; opened on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: QdrantClient | None = None
        self._lock = threading.Lock()

    def _qdrant(self) -> QdrantClient:
        if self._client is None:
            if self.settings.qdrant_url:
                self._client = QdrantClient(
                    url=self.settings.qdrant_url, api_key=self.settings.qdrant_api_key
                )
            else:
                self.settings.collections_dir.mkdir(parents=True, exist_ok=True)
                self._client = QdrantClient(path=str(self.settings.collections_dir))
                fast_commits(self._client)
        return self._client

    def close(self) -> None:
        """Release the store (the embedded mode's lock on its folder)."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def create(
        self,
        name: str,
        method: str,
        dimensions: int,
        weights_key: str | None,
        thumbnails: bool = True,
    ) -> None:
        """A new empty collection; 409 when the name is taken."""
        with self._lock:
            client = self._qdrant()
            if client.collection_exists(PREFIX + name):
                raise ServiceError(
                    ErrorCode.COLLECTION_EXISTS,
                    f"A collection named '{name}' exists already; delete it first or pick "
                    f"another name.",
                    {"collection": name},
                )
            client.create_collection(
                PREFIX + name,
                vectors_config=models.VectorParams(
                    size=dimensions, distance=models.Distance.COSINE
                ),
                metadata={
                    "method": method,
                    "dimensions": dimensions,
                    "weights_key": weights_key,
                    "thumbnails": thumbnails,
                },
            )
            if not self.settings.qdrant_url:
                fast_commits(client)

    def _describe(self, client: QdrantClient, name: str) -> StoredCollection:
        if not client.collection_exists(PREFIX + name):
            raise not_found(name)
        info = client.get_collection(PREFIX + name)
        meta = info.config.metadata or {}
        return StoredCollection(
            name=name,
            method=str(meta.get("method")),
            dimensions=int(meta.get("dimensions", 0)),
            weights_key=meta.get("weights_key"),
            images=client.count(PREFIX + name, exact=True).count,
            thumbnails=bool(meta.get("thumbnails", True)),
        )

    def get(self, name: str) -> StoredCollection:
        """One collection; 404 when there is none of that name."""
        with self._lock:
            return self._describe(self._qdrant(), name)

    def all(self) -> list[StoredCollection]:
        """Every collection of this service, by name."""
        with self._lock:
            client = self._qdrant()
            names = sorted(
                c.name[len(PREFIX) :]
                for c in client.get_collections().collections
                if c.name.startswith(PREFIX)
            )
            return [self._describe(client, name) for name in names]

    def delete(self, name: str) -> None:
        """Drop a collection and everything stored in it; 404 when there is none."""
        with self._lock:
            client = self._qdrant()
            if not client.collection_exists(PREFIX + name):
                raise not_found(name)
            client.delete_collection(PREFIX + name)

    def present(self, name: str, ids: list[str]) -> set[str]:
        """Which of ``ids`` the collection holds already."""
        with self._lock:
            client = self._qdrant()
            if not client.collection_exists(PREFIX + name):
                raise not_found(name)
            found = client.retrieve(PREFIX + name, [point_id(i) for i in ids], with_payload=False)
            return {image_id(point.id) for point in found}

    def upsert(self, name: str, points: list[tuple[str, list[float], dict[str, Any]]]) -> None:
        """Write a batch of (id, vector, payload) in one call, under the lock (the embedded mode
        commits each point on its own: a failure part-way leaves the earlier points, each whole,
        and adding the batch again completes it). A point that another request wrote meanwhile
        (the same bytes) keeps its payload and gains the new file names, so two concurrent adds
        of one file under two names keep both."""
        if not points:
            return
        with self._lock:
            client = self._qdrant()
            if not client.collection_exists(PREFIX + name):
                raise not_found(name)
            there = self._names(client, name, [i for i, _, _ in points])
            new = [
                models.PointStruct(id=point_id(i), vector=vector, payload=payload)
                for i, vector, payload in points
                if i not in there
            ]
            if new:
                client.upsert(PREFIX + name, new, wait=True)
            self._merge_names(
                client, name, there, {i: names_of(p) for i, _, p in points if i in there}
            )

    def add_names(self, name: str, names: dict[str, list[str]]) -> None:
        """Record more file names for stored images (files whose bytes were there already)."""
        if not names:
            return
        with self._lock:
            client = self._qdrant()
            if not client.collection_exists(PREFIX + name):
                raise not_found(name)
            self._merge_names(client, name, self._names(client, name, list(names)), names)

    @staticmethod
    def _names(client: QdrantClient, name: str, ids: list[str]) -> dict[str, list[str]]:
        """The stored file names of those of ``ids`` that the collection holds."""
        found = client.retrieve(
            PREFIX + name,
            [point_id(i) for i in ids],
            with_payload=models.PayloadSelectorInclude(include=["file_name", "file_names"]),
        )
        return {image_id(point.id): names_of(dict(point.payload or {})) for point in found}

    @staticmethod
    def _merge_names(
        client: QdrantClient,
        name: str,
        stored: dict[str, list[str]],
        new: dict[str, list[str]],
    ) -> None:
        for image, known in stored.items():
            added = [n for n in dict.fromkeys(new.get(image, [])) if n not in known]
            if added and len(known) < MAX_NAMES:
                client.set_payload(
                    PREFIX + name,
                    {"file_names": (known + added)[:MAX_NAMES]},
                    points=[point_id(image)],
                    wait=True,
                )

    def search(
        self, name: str, vector: list[float], k: int, min_score: float | None = None
    ) -> list[tuple[StoredImage, float]]:
        """The ``k`` nearest images by cosine, nearest first, none below ``min_score``."""
        with self._lock:
            client = self._qdrant()
            if not client.collection_exists(PREFIX + name):
                raise not_found(name)
            found = client.query_points(
                PREFIX + name,
                query=vector,
                limit=k,
                with_payload=True,
                score_threshold=min_score,
            )
            return [
                (StoredImage(image_id(p.id), dict(p.payload or {})), float(p.score))
                for p in found.points
            ]

    def image(self, name: str, image: str) -> StoredImage | None:
        """One image's payload, or None when the collection does not hold it."""
        with self._lock:
            client = self._qdrant()
            if not client.collection_exists(PREFIX + name):
                raise not_found(name)
            found = client.retrieve(PREFIX + name, [point_id(image)], with_payload=True)
            return StoredImage(image, dict(found[0].payload or {})) if found else None

    def delete_image(self, name: str, image: str) -> bool:
        """Remove one image; False when it was not there."""
        with self._lock:
            client = self._qdrant()
            if not client.collection_exists(PREFIX + name):
                raise not_found(name)
            if not client.retrieve(PREFIX + name, [point_id(image)], with_payload=False):
                return False
            client.delete(PREFIX + name, models.PointIdsList(points=[point_id(image)]), wait=True)
            return True

    def vectors(self, name: str) -> tuple[list[StoredImage], np.ndarray]:
        """Every image and its vector (rows in the same order), read page by page."""
        images: list[StoredImage] = []
        rows: list[list[float]] = []
        with self._lock:
            client = self._qdrant()
            if not client.collection_exists(PREFIX + name):
                raise not_found(name)
            offset = None
            while True:
                page, offset = client.scroll(
                    PREFIX + name,
                    limit=SCROLL_PAGE,
                    offset=offset,
                    with_payload=models.PayloadSelectorExclude(exclude=["thumbnail"]),
                    with_vectors=True,
                )
                for point in page:
                    images.append(StoredImage(image_id(point.id), dict(point.payload or {})))
                    rows.append(point.vector)  # type: ignore[arg-type]
                if offset is None:
                    break
        matrix = np.asarray(rows, dtype=np.float32).reshape(len(rows), -1)
        return images, matrix
