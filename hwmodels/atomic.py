"""Durable file writes shared by ``hwmodels`` and ``estimator``: a reader (or a process killed mid-write) never sees a
partial file. Torch-free, at the bottom of the package layering (``estimator.io`` builds on it)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> None:
    """Write ``path`` through ``write(tmp_path)``: to a temporary file beside it, flushed to disk (fsync), then
    renamed over ``path`` (atomic on POSIX and Windows) and the folder entry synced, so ``path`` holds either
    the old or the new contents, whole. A failed write leaves no temporary file behind."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    sync_folder(path.parent)


def sync_folder(folder: Path) -> None:
    """Flush a folder's entries (a rename) to disk where the platform allows it."""
    if os.name != "posix":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
