"""Per-layer tables too large to hold: a pricing's per-unit and per-level tables streamed to a folder of Parquet
files, chunk by chunk, and read back whole or by column.

A folder holds ``layers/part-NNNNN.parquet`` and ``levels/part-NNNNN.parquet``, one pair per priced chunk of
configurations (the rows of :attr:`hwmodels.pricing.EnergyTable.layers` and ``.levels``). Each file is written
atomically (:func:`hwmodels.atomic.atomic_write`), so a folder never holds a partial file. Needs pyarrow (the
``parquet`` extra).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .atomic import atomic_write
from .errors import MissingExtraError, UserError

TABLES = ("layers", "levels")
"""The tables a parts folder holds, one subfolder each."""


def require_pyarrow() -> None:
    """A one-line error saying how to install pyarrow, where it is missing."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise MissingExtraError("writing per-layer tables to Parquet needs pyarrow: pip install -e '.[parquet]'") \
            from None


class PartWriter:
    """Writes each chunk's per-unit and per-level tables under ``folder`` (a new or empty folder)."""

    def __init__(self, folder: str | Path):
        require_pyarrow()
        self.folder = Path(folder)
        if self.folder.exists() and (not self.folder.is_dir() or any(self.folder.iterdir())):
            raise UserError(f"{folder}: expected a new or empty folder for the per-layer tables (parts)")
        for table in TABLES:
            (self.folder / table).mkdir(parents=True, exist_ok=True)
        self.written = 0

    def write(self, layers: pd.DataFrame, levels: pd.DataFrame) -> None:
        """One chunk's tables, as the next part."""
        for table, frame in zip(TABLES, (layers, levels), strict=True):
            atomic_write(self.folder / table / f"part-{self.written:05d}.parquet",
                         lambda tmp, frame=frame: frame.to_parquet(tmp, index=False))
        self.written += 1


def read_parts(folder: str | Path, table: str = "layers", columns: list[str] | None = None) -> pd.DataFrame:
    """The ``table`` (:data:`TABLES`) a pricing wrote to ``folder``, its parts in order; ``columns`` reads only
    those (a column a part lacks, such as another hardware's level, is NaN there)."""
    require_pyarrow()
    if table not in TABLES:
        raise UserError(f"table '{table}': expected one of {', '.join(TABLES)}")
    files = sorted((Path(folder) / table).glob("part-*.parquet"))
    if not files:
        raise UserError(f"{folder}: no {table} parts (expected {table}/part-NNNNN.parquet files a pricing wrote)")
    if columns is None:
        return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    frames = []
    for f in files:
        present = [c for c in columns if c in schema_names(f)]
        frames.append(pd.read_parquet(f, columns=present).reindex(columns=columns))
    return pd.concat(frames, ignore_index=True)


def schema_names(path: Path) -> list[str]:
    """The column names of a Parquet file, read from its footer."""
    import pyarrow.parquet as pq

    return pq.read_schema(path).names
