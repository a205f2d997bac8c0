"""Durable file writes: a reader (or a process killed mid-write) never sees a partial file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hwmodels.atomic import atomic_write
from hwmodels.errors import UserError


class BusyError(UserError, RuntimeError):
    """Another process holds a lock this one needs (a run folder being trained into)."""


@contextmanager
def exclusive_lock(path: str | Path, what: str) -> Iterator[None]:
    """Hold an exclusive advisory lock on the file ``path`` (created, with its folder) while the block runs; refuse
    at once when another process holds it. The operating system releases it when the process ends, kill -9
    included. (POSIX only: elsewhere the block runs unlocked.)

    Raises:
        BusyError: one line naming ``what`` and the lock file.
    """
    if os.name != "posix":
        yield
        return
    import fcntl

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BusyError(f"{what} is in use by another process (lock {path}); wait for it to finish or choose "
                            "another") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def atomic_write_text(path: str | Path, text: str) -> None:
    """:func:`atomic_write` of UTF-8 text."""
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def check_writable(path: str | Path, what: str) -> Path:
    """``path`` as a Path, after checking that its folder exists and is writable (without creating anything).

    Raises:
        OSError: one line naming ``what``, the path and the problem.
    """
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise OSError(f"{what} {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise OSError(f"{what} {path}: not writable")
    if path.is_dir():
        raise OSError(f"{what} {path} is a folder; expected a file path")
    return path
