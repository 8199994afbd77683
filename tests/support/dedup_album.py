"""A folder of real photos with planted copies, and a service that can index it, for the tests
of ``isc dedup`` and its reports (the integration test and the browser test use the same one).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from tests.support.paths import PHOTOS, WEIGHTS, photo, require
from tests.support.service import Service, running_service

ISC = Path(sys.executable).parent / "isc"
ALBUM_PHOTOS = ("cat.png", "dog_1.png", "parrot.jpg", "owl.jpg", "sunflower.png", "bird.png")
ODD_NAME = '<b>café & "co"\'.png'
"""A file name that is HTML if pasted unescaped (valid on Linux file systems)."""


def jpeg_copy(data: bytes, quality: int = 80, scale: float = 1.0) -> bytes:
    """The same photo re-encoded as JPEG, optionally resized: other bytes, same picture."""
    image = Image.open(io.BytesIO(data)).convert("RGB")
    if scale != 1.0:
        image = image.resize((round(image.width * scale), round(image.height * scale)))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


@dataclass(frozen=True)
class Album:
    """The folder and what was planted in it."""

    folder: Path
    near_copies: dict[str, str]
    """Planted JPEG copy -> the photo it copies (other bytes, same picture)."""
    exact_copies: dict[str, str]
    """Planted file -> the photo whose bytes it has."""


def make_album(folder: Path) -> Album:
    """The six photos, two smaller JPEG copies, two byte-identical copies (one joins the owl's
    group of near-duplicates, one makes a group of its own under a name full of HTML), and a
    text file that is skipped."""
    require(PHOTOS)
    folder.mkdir(parents=True, exist_ok=True)
    for name in ALBUM_PHOTOS:
        (folder / name).write_bytes(photo(name))
    near = {"owl-copy.jpg": "owl.jpg", "parrot-small.jpg": "parrot.jpg"}
    (folder / "owl-copy.jpg").write_bytes(jpeg_copy(photo("owl.jpg"), scale=0.75))
    (folder / "parrot-small.jpg").write_bytes(jpeg_copy(photo("parrot.jpg"), 85, scale=0.6))
    exact = {"owl-again.jpg": "owl.jpg", ODD_NAME: "sunflower.png"}
    for copy, original in exact.items():
        (folder / copy).write_bytes(photo(original))
    (folder / "notes.txt").write_text("not an image")
    return Album(folder, near, exact)


@contextmanager
def collections_service(
    log_dir: Path, name: str, store: Path, **settings: str
) -> Iterator[Service]:
    """The real gateway and worker with the shared MobileNetV2 weights (float32: no precision
    measurement at start) and its collections stored under ``store``, not the user's home;
    ``settings`` as ``running_service`` takes them."""
    require(WEIGHTS)
    with running_service(
        log_dir,
        name,
        weights_dir=str(WEIGHTS),
        cnn_methods="mobilenet_v2",
        cnn_precision="float32",
        collections_dir=str(store),
        **settings,
    ) as service:
        yield service


def isc(service: Service, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """The installed ``isc`` command against ``service``, as a user would run it."""
    assert ISC.exists(), f"{ISC} missing: make test installs the client (pip install -e ./client)"
    environment = {k: v for k, v in os.environ.items() if k not in ("ISC_URL", "ISC_API_KEY")}
    return subprocess.run(
        [str(ISC), *map(str, args), "--url", service.base_url],
        capture_output=True,
        text=True,
        timeout=180,
        env={**environment, "COLUMNS": "200"},
        check=False,
    )
