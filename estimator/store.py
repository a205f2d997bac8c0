"""The results store of sweeps: one SQLite file (standard library), one row per finished point.

Each finished point is committed in one transaction (O(1): nothing else is rewritten), so a sweep killed at any
moment leaves every earlier point whole and the interrupted one absent. WAL journaling with a busy timeout lets
several processes (parallel sweeps, workers) commit into one file at once. Every record carries a SHA-256 of its
contents: a record that does not match (a torn or damaged page) is dropped on reading and its point computed
again, never taken as done. The table exports to CSV or Parquet (written atomically).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from pathlib import Path

import pandas as pd

from .io import atomic_write

SCHEMA = """
CREATE TABLE IF NOT EXISTS points (
    key TEXT PRIMARY KEY,       -- what the point computes (a hash of its settings)
    point TEXT NOT NULL,        -- its settings, JSON
    rows TEXT NOT NULL,         -- its priced rows (one per hardware configuration), JSON records
    checksum TEXT NOT NULL,     -- SHA-256 of point + rows
    finished REAL NOT NULL      -- Unix time of the commit
)"""
EXPORTS = (".csv", ".parquet")
"""File types :meth:`ResultStore.export` writes."""


class StoreError(RuntimeError):
    """A store file that cannot be opened or read (not SQLite, or from elsewhere); names the file."""


def checksum(point: str, rows: str) -> str:
    return hashlib.sha256(f"{point}\n{rows}".encode()).hexdigest()


class ResultStore:
    """Finished sweep points in a SQLite file (created on first use).

    Args:
        path: the store file (conventionally ``.sqlite``); its folder must exist.
        timeout_s: how long a commit waits for another process's commit to finish.
    """

    def __init__(self, path: str | Path, timeout_s: float = 60.0):
        self.path = Path(path)
        try:
            self.connection = sqlite3.connect(self.path, timeout=timeout_s, isolation_level=None)
            self.connection.execute("PRAGMA journal_mode=WAL")
            self.connection.execute("PRAGMA synchronous=FULL")
            self.connection.execute(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"results store {self.path} cannot be opened as a SQLite results store ({exc}); "
                             "pass a new file or one a sweep wrote") from None

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.connection.close()

    def put(self, key: str, point: dict, rows: pd.DataFrame) -> bool:
        """Commit one finished point (its settings and priced rows) in one transaction. Returns False, and keeps
        the stored record, when the point is already there (another process finished it first)."""
        point_json = json.dumps(point, sort_keys=True, default=str)
        rows_json = rows.to_json(orient="records", double_precision=15)
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            cursor = self.connection.execute(
                "INSERT OR IGNORE INTO points (key, point, rows, checksum, finished) VALUES (?, ?, ?, ?, ?)",
                (key, point_json, rows_json, checksum(point_json, rows_json), time.time()))
            self.connection.execute("COMMIT")
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        return cursor.rowcount == 1

    def records(self) -> list[tuple[str, str, str]]:
        """(key, point JSON, rows JSON) of every intact record; damaged ones are deleted (so their points are
        computed again)."""
        try:
            stored = self.connection.execute("SELECT key, point, rows, checksum FROM points ORDER BY finished, key")
            records, damaged = [], []
            for key, point, rows, digest in stored:
                (records if checksum(point, rows) == digest else damaged).append((key, point, rows))
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"results store {self.path} is damaged ({exc}); move it away and run again") from None
        if damaged:
            self.connection.executemany("DELETE FROM points WHERE key = ?", [(k,) for k, _, _ in damaged])
        return records

    def finished(self) -> set[str]:
        """Keys of the points stored intact."""
        return {key for key, _, _ in self.records()}

    def table(self) -> pd.DataFrame:
        """Every stored row, in commit order."""
        frames = [pd.DataFrame.from_records(json.loads(rows)) for _, _, rows in self.records()]
        frames = [f for f in frames if len(f)]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def export(self, path: str | Path) -> Path:
        """Write :meth:`table` to ``path`` (:func:`export_table`)."""
        return export_table(self.table(), path)


def export_table(table: pd.DataFrame, path: str | Path) -> Path:
    """Write a results table to ``path``, ``.csv`` or ``.parquet`` (with the ``parquet`` extra), atomically."""
    path = Path(path)
    if path.suffix == ".csv":
        atomic_write(path, lambda tmp: table.to_csv(tmp, index=False))
    elif path.suffix == ".parquet":
        atomic_write(path, lambda tmp: table.to_parquet(tmp, index=False))
    else:
        raise ValueError(f"export file {path}: expected a {' or '.join(EXPORTS)} suffix")
    return path


def read_results(path: str | Path) -> pd.DataFrame:
    """A sweep's results from its store (``.sqlite``) or an export (``.csv``, ``.parquet``).

    Raises:
        FileNotFoundError, ValueError, StoreError: one line naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"results file {path} not found")
    if path.suffix == ".csv":
        return pd.read_csv(path)
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    with ResultStore(path) as store:
        return store.table()
