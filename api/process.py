"""Process-wide settings of the gateway process, applied once from ``python -m api``.

They are class attributes of the libraries (shared by every app in the interpreter), so they
belong to the process's entry point, not to the app factory.
"""

from __future__ import annotations

from starlette.formparsers import MultiPartParser

from shared.settings import Settings


def configure_process(settings: Settings) -> None:
    """Tune this process for the gateway's work; call once, before the app serves."""
    # Keep uploads in memory up to the limit: they are never spooled to disk.
    MultiPartParser.spool_max_size = settings.max_upload_bytes + 1
