"""The results store of sweeps: one SQLite file (standard library), one row per finished point.

Each finished point is committed in one transaction (O(1): nothing else is rewritten), so a sweep killed at any
moment leaves every earlier point whole and the interrupted one absent. WAL journaling with a busy timeout lets
several processes (parallel sweeps, workers) commit into one file at once. Every record carries a SHA-256 of its
contents: a record that does not match (a torn or damaged page) is skipped on reading, with a warning, and a
sweep computes its point again, never taking it as done. Records are self-contained (settings and rows in one
row): when a page of the file is damaged, the records in intact pages are still read, one by one. A file is
taken as a store only if it is one (its SQLite application id, or the store's table and nothing else); another
tool's SQLite file is refused and never written. Read-only commands open the store read-only. The table exports
to CSV or Parquet (written atomically).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import time
import warnings
from pathlib import Path

import pandas as pd

from hwmodels.errors import UserError

from .io import atomic_write

SCHEMA = """
CREATE TABLE IF NOT EXISTS points (
    key TEXT PRIMARY KEY,       -- what the point computes (a hash of its settings)
    point TEXT NOT NULL,        -- its settings, JSON
    rows TEXT NOT NULL,         -- its priced rows (one per hardware configuration), JSON records
    checksum TEXT NOT NULL,     -- SHA-256 of point + rows
    finished REAL NOT NULL      -- Unix time of the commit
)"""
COLUMNS = ("key", "point", "rows", "checksum", "finished")
APPLICATION_ID = 0x45535452
"""SQLite ``application_id`` of a results store ("ESTR")."""
EXPORTS = (".csv", ".parquet")
"""File types :meth:`ResultStore.export` writes."""
SCAN_GAP = 1000
"""Row ids read past the last readable one when a damaged file hides how many records it has."""


class StoreError(UserError, RuntimeError):
    """A store file that cannot be opened, read or written (not SQLite, another tool's, damaged, a full disk);
    names the file."""


def checksum(point: str, rows: str) -> str:
    return hashlib.sha256(f"{point}\n{rows}".encode()).hexdigest()


class ResultStore:
    """Finished sweep points in a SQLite file (created on first use unless ``readonly``).

    Args:
        path: the store file (conventionally ``.sqlite``); its folder must exist.
        timeout_s: how long opening or a commit waits for another process's commit to finish.
        readonly: open without writing anything (the file must be a store already).

    Raises:
        StoreError: the file is not a store (another tool's SQLite file, not SQLite), or, read-only, missing.
    """

    def __init__(self, path: str | Path, timeout_s: float = 60.0, *, readonly: bool = False):
        self.path = Path(path)
        self.readonly = readonly
        if readonly and not self.path.is_file():
            raise StoreError(f"results store {self.path} not found")
        if readonly and self.path.stat().st_size == 0:
            raise StoreError(f"results store {self.path} is an empty file, not a results store")
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self.connection = (sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True,
                                                   timeout=timeout_s, isolation_level=None) if readonly else
                                   sqlite3.connect(self.path, timeout=timeout_s, isolation_level=None))
                self.check_own()
                if not readonly:
                    self.connection.execute("PRAGMA journal_mode=WAL")
                    self.connection.execute("PRAGMA synchronous=FULL")
                    self.connection.execute(SCHEMA)
                    self.connection.execute(f"PRAGMA application_id={APPLICATION_ID}")
                return
            except sqlite3.OperationalError as exc:  # another process creating the file at the same moment
                self.connection.close()
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise StoreError(f"results store {self.path} cannot be opened ({exc})") from None
                time.sleep(0.05)
            except sqlite3.DatabaseError as exc:
                self.connection.close()
                raise StoreError(f"results store {self.path} cannot be opened as a SQLite results store ({exc}); "
                                 "pass a new file or one a sweep wrote") from None

    def check_own(self) -> None:
        """Refuse a SQLite file that is not a results store (another tool's tables or application id)."""
        application = self.connection.execute("PRAGMA application_id").fetchone()[0]
        tables = {name for (name,) in self.connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")}
        if not tables and application == 0:
            if self.readonly:
                raise StoreError(f"results store {self.path} is an empty SQLite file, not a results store")
            return
        columns = tuple(row[1] for row in self.connection.execute("PRAGMA table_info(points)"))
        if application not in (0, APPLICATION_ID) or tables != {"points"} or columns != COLUMNS:
            raise StoreError(f"results store {self.path} is a SQLite file of another tool (tables: "
                             f"{', '.join(sorted(tables)) or 'none'}); pass a new file or one a sweep wrote")

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.connection.close()

    def put(self, key: str, point: dict, rows: pd.DataFrame) -> bool:
        """Commit one finished point (its settings and priced rows) in one transaction. Returns False, and keeps
        the stored record, when the point is already there intact (another process finished it first); a damaged
        record of the point is replaced.

        Raises:
            StoreError: the commit failed (a full disk says so, naming the file).
        """
        point_json = json.dumps(point, sort_keys=True, default=str)
        rows_json = rows.to_json(orient="records", double_precision=15)
        try:
            self.connection.execute("BEGIN IMMEDIATE")
            try:
                stored = self.connection.execute("SELECT point, rows, checksum FROM points WHERE key = ?",
                                                 (key,)).fetchone()
                if stored is not None and checksum(stored[0], stored[1]) == stored[2]:
                    self.connection.execute("COMMIT")
                    return False
                self.connection.execute(
                    "INSERT OR REPLACE INTO points (key, point, rows, checksum, finished) VALUES (?, ?, ?, ?, ?)",
                    (key, point_json, rows_json, checksum(point_json, rows_json), time.time()))
                self.connection.execute("COMMIT")
            except BaseException:
                if self.connection.in_transaction:
                    with contextlib.suppress(sqlite3.Error):  # the original failure is the one to report
                        self.connection.execute("ROLLBACK")
                raise
        except sqlite3.DatabaseError as exc:
            full = "full" in str(exc)
            raise StoreError(f"results store {self.path}: " + ("no space left on device" if full else str(exc))
                             + " (the point is not stored)") from None
        return True

    def records(self) -> list[tuple[str, str, str]]:
        """(key, point JSON, rows JSON) of every intact record in commit order; damaged ones are skipped with a
        warning (a sweep computes their points again)."""
        stored = self.stored()
        records = [(key, point, rows) for key, point, rows, digest, _ in stored if checksum(point, rows) == digest]
        damaged = len(stored) - len(records) + self.unreadable
        if damaged:
            warnings.warn(f"results store {self.path}: {damaged} damaged record(s) skipped; a sweep into it "
                          "computes their points again", stacklevel=2)
        return records

    def stored(self) -> list[tuple]:
        """Every readable row, sorted by commit time and key; ``self.unreadable`` counts the rows that could not
        be read (damaged pages)."""
        self.unreadable = 0
        query = "SELECT key, point, rows, checksum, finished FROM points"
        try:
            rows = list(self.connection.execute(query))
        except sqlite3.DatabaseError:
            rows = self.scan(query)
        return sorted(rows, key=lambda r: (r[4], r[0]))

    def scan(self, query: str) -> list[tuple]:
        """The rows read one by one by row id, past damaged pages."""
        try:
            top = self.connection.execute("SELECT max(rowid) FROM points").fetchone()[0] or 0
        except sqlite3.DatabaseError:
            top = None
        rows, rowid, last_found = [], 1, 0
        while (rowid <= top) if top is not None else (rowid - last_found <= SCAN_GAP):
            try:
                row = self.connection.execute(f"{query} WHERE rowid = ?", (rowid,)).fetchone()
                if row is not None:
                    rows.append(row)
                    last_found = rowid
            except sqlite3.DatabaseError:
                self.unreadable += 1
                last_found = rowid if top is None else last_found
            rowid += 1
        if not rows and self.unreadable:
            raise StoreError(f"results store {self.path} is damaged beyond reading; move it away and run again")
        return rows

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
        raise UserError(f"export file {path}: expected a {' or '.join(EXPORTS)} suffix")
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
    with ResultStore(path, readonly=True) as store:
        return store.table()
