"""Process-wide settings of the gateway process, applied once from ``python -m api``.

They are class attributes of the libraries (shared by every app in the interpreter), so they
belong to the process's entry point, not to the app factory.
"""

from __future__ import annotations

from starlette.formparsers import MultiPartParser

from api.uploads import max_body_bytes
from shared.image_header import guard_pillow
from shared.settings import Settings


def configure_process(settings: Settings) -> None:
    """Tune this process for the gateway's work; call once, before the app serves."""
    # Keep every part in memory, never spooled to disk. One part may be larger than the upload
    # limit (the size check reads it after parsing): only the body limit bounds it.
    MultiPartParser.spool_max_size = max_body_bytes(settings) + 1
    # Pillow's decompression-bomb guard at the service's declared-size limit: its default would
    # refuse, unread, headers that the upload check accepts.
    guard_pillow(settings.max_declared_pixels)
