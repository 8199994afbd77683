"""Watching folders that a process must never write to (Linux: inotify and ``/proc``).

Polling a folder's listing is not enough: Python's ``tempfile.TemporaryFile`` (what a spooled
upload rolls over into) opens with ``O_TMPFILE`` on Linux, a file that has no name in the
folder at any moment. inotify still reports its open, writes and close against the folder, with
a ``#<inode>`` name, so a watch on the folder sees it however briefly it lived.
"""

from __future__ import annotations

import ctypes
import os
import select
import struct
import sys
import threading
from pathlib import Path

IN_MODIFY = 0x2
IN_ATTRIB = 0x4
IN_CLOSE_WRITE = 0x8
IN_OPEN = 0x20
IN_MOVED_TO = 0x80
IN_CREATE = 0x100
IN_Q_OVERFLOW = 0x4000
IN_ISDIR = 0x40000000
IN_ALL_EVENTS = 0xFFF
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len; then len bytes of name
_NAMES = {
    0x1: "access",
    IN_MODIFY: "modify",
    IN_ATTRIB: "attrib",
    IN_CLOSE_WRITE: "close_write",
    0x10: "close_nowrite",
    IN_OPEN: "open",
    0x40: "moved_from",
    IN_MOVED_TO: "moved_to",
    IN_CREATE: "create",
    0x200: "delete",
    0x400: "delete_self",
    0x800: "move_self",
    IN_Q_OVERFLOW: "queue_overflow",
    IN_ISDIR: "isdir",
}
# Reading the folder's own listing (an import looking for modules in the working directory)
# is not a write: these events on the folder itself, with no entry named, are ignored.
_LISTING = 0x1 | 0x10 | IN_OPEN | IN_ISDIR


def _describe(mask: int) -> str:
    return "|".join(name for bit, name in _NAMES.items() if mask & bit) or hex(mask)


class FolderWatch:
    """Records every event on an entry of the watched folders (created, opened, written,
    renamed into, even unnamed temporary files) from ``start()`` until ``stop()``.

    The folders are meant to stay empty, so any event naming an entry is something another
    process put there; one watch per folder suffices, since a subfolder's creation is such an
    event already.
    """

    def __init__(self, *folders: Path) -> None:
        if not sys.platform.startswith("linux"):
            raise RuntimeError("FolderWatch needs Linux inotify")
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._fd = self._libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self._fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")
        self._folders: dict[int, Path] = {}
        for folder in folders:
            wd = self._libc.inotify_add_watch(self._fd, os.fsencode(folder), IN_ALL_EVENTS)
            if wd < 0:
                raise OSError(ctypes.get_errno(), f"inotify_add_watch failed for {folder}")
            self._folders[wd] = folder
        self.seen: list[str] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._read, name="folder-watch", daemon=True)

    def start(self) -> FolderWatch:
        self._thread.start()
        return self

    def stop(self) -> list[str]:
        """Stop watching (after draining what the kernel queued) and return what was seen."""
        if not self._stopping.is_set():
            self._stopping.set()
            if self._thread.is_alive():
                self._thread.join(timeout=5)
            os.close(self._fd)
        return self.seen

    def __enter__(self) -> FolderWatch:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _read(self) -> None:
        while True:
            stopping = self._stopping.is_set()
            ready, _, _ = select.select([self._fd], [], [], 0.02)
            if ready:
                self._record(os.read(self._fd, 64 * 1024))
            elif stopping:
                return  # the last select after stop() came back empty: nothing left queued

    def _record(self, buffer: bytes) -> None:
        offset = 0
        while offset < len(buffer):
            wd, mask, _cookie, length = _EVENT.unpack_from(buffer, offset)
            start = offset + _EVENT.size
            name = buffer[start : start + length].rstrip(b"\0").decode(errors="replace")
            offset = start + length
            if not name and not mask & ~_LISTING:
                continue
            where = self._folders.get(wd, Path("?"))
            self.seen.append(f"{_describe(mask)} {where / name if name else where}")


def held_under(pid: int, *folders: Path) -> list[str]:
    """Files under ``folders`` that process ``pid`` has open or mapped (``/proc``), including
    deleted ones, which ``/proc`` shows as ``<path> (deleted)``."""
    roots = [str(folder.resolve()) for folder in folders]

    def inside(target: str) -> bool:
        target = target.removesuffix(" (deleted)")
        return any(target == root or target.startswith(root + os.sep) for root in roots)

    held: list[str] = []
    fd_dir = Path(f"/proc/{pid}/fd")
    for entry in fd_dir.iterdir():
        try:
            target = os.readlink(entry)
        except FileNotFoundError:  # closed since the listing
            continue
        if inside(target):
            held.append(f"fd {entry.name} -> {target}")
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and inside(fields[5]):
            held.append(f"mapped {fields[5]}")
    return held


def entries_under(*folders: Path) -> list[str]:
    """Everything now inside ``folders``, at any depth."""
    return sorted(str(path) for folder in folders for path in folder.rglob("*"))
