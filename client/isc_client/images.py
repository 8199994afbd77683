"""Turning whatever a caller holds into an upload: a path, bytes, an open file or a Pillow
image. Files are sent as they are (the service reads the format from the bytes, so nothing is
re-encoded and EXIF orientation survives); a Pillow image, which has no bytes of its own, is
encoded as PNG, losslessly. Pillow is not a dependency: it is only used when given an image."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import IO, Any, TypeAlias

ImageInput: TypeAlias = str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes] | Any
"""A path, the encoded bytes, a binary file object, or a ``PIL.Image.Image``."""

Upload: TypeAlias = tuple[str, bytes]
"""A multipart part: file name and content."""


def _is_pil_image(value: object) -> bool:
    """True for a Pillow image, without importing Pillow when the caller never did."""
    import sys

    module = sys.modules.get("PIL.Image")
    return module is not None and isinstance(value, module.Image)


def to_upload(image: ImageInput, default_name: str) -> Upload:
    """The file name and bytes to send for ``image``; the name is only informative (it appears
    in the service's error messages), so a default stands in where there is none."""
    if isinstance(image, str | os.PathLike):
        path = Path(image)
        return path.name, path.read_bytes()
    if isinstance(image, bytes | bytearray | memoryview):
        return default_name, bytes(image)
    if _is_pil_image(image):
        buffer = io.BytesIO()
        pil_image: Any = image
        pil_image.save(buffer, format="PNG")
        return f"{Path(default_name).stem}.png", buffer.getvalue()
    read = getattr(image, "read", None)
    if callable(read):
        data = read()
        if not isinstance(data, bytes):
            raise TypeError(f"{default_name}: the file object must be opened in binary mode")
        name = getattr(image, "name", None)
        return (Path(name).name if isinstance(name, str) else default_name), data
    raise TypeError(
        f"{default_name}: expected a path, bytes, a binary file object or a PIL image, "
        f"not {type(image).__name__}"
    )
