"""Numbers from the literature, as data files with their citations (never constants in code)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

FOLDER = Path(__file__).parent


def load(name: str) -> pd.DataFrame:
    """A literature table by file stem (e.g. ``kundu2020_cifar10``); ``#`` lines are its citation header."""
    path = FOLDER / f"{name}.csv"
    if not path.is_file():
        available = ", ".join(sorted(p.stem for p in FOLDER.glob("*.csv")))
        raise ValueError(f"no literature table '{name}'; available: {available}")
    return pd.read_csv(path, comment="#")


def citation(name: str) -> str:
    """The citation header of a literature table."""
    lines = (FOLDER / f"{name}.csv").read_text().splitlines()
    return " ".join(line.lstrip("# ") for line in lines if line.startswith("#"))
