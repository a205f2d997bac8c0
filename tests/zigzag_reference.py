"""ZigZag's own results for the tests' layers and hardware, stored as test data (``tests/data/zigzag/``).

A live ZigZag evaluation takes about 2 s a layer; the cross-check tests read what ZigZag itself returned instead,
one CSV per case (:func:`hwmodels.zigzag_run.run`'s table, unaltered, with the seconds ZigZag took). A case is
keyed by everything ZigZag's answer depends on: its version, the workload handed to it, the accelerator and mapping
files' text and the loop-factor limit. Nothing on this tool's side enters a stored file.

Regenerate (after a ZigZag upgrade, or when a test's layers or hardware change)::

    python -m tests.zigzag_reference

which reruns the ZigZag tests with ``ZIGZAG_RECORD=1``: every cross-check then runs ZigZag live and writes its
result. ``test_zigzag.py`` keeps one small live run compared with its stored result, to catch drift.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pandas as pd
import pytest

from hwmodels.zigzag_run import run, workload

STORE = Path(__file__).parent / "data" / "zigzag"
RECORD = "ZIGZAG_RECORD"
"""Environment variable: ``1`` runs ZigZag live and (re)writes the stored results."""
TEXT_COLUMNS = {"name": str, "operand": str, "level": str}


def case_key(units: pd.DataFrame, accelerator, mapping, *, lpf_limit: int, **precision) -> str:
    """A digest of everything ZigZag's answer depends on (20 hex digits)."""
    payload = {"zigzag": version("zigzag-dse"), "workload": workload(units, **precision),
               "accelerator": Path(accelerator).read_text(), "mapping": Path(mapping).read_text(),
               "lpf_limit": lpf_limit}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:20]


def stored_path(units: pd.DataFrame, accelerator, mapping, *, lpf_limit: int = 4, **precision) -> Path:
    """Where the case's stored result lives."""
    key = case_key(units, accelerator, mapping, lpf_limit=lpf_limit, **precision)
    return STORE / f"{Path(accelerator).stem}-{key}.csv"


def stored_run(units: pd.DataFrame, accelerator, mapping, *, lpf_limit: int = 4,
               **precision) -> tuple[pd.DataFrame, float]:
    """:func:`hwmodels.zigzag_run.run`'s result for the case, read from the store (written live under
    ``ZIGZAG_RECORD=1``)."""
    path = stored_path(units, accelerator, mapping, lpf_limit=lpf_limit, **precision)
    if os.environ.get(RECORD) == "1":
        frame, seconds = run(units, accelerator, mapping, lpf_limit=lpf_limit, **precision)
        STORE.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".tmp")
        frame.assign(zigzag_seconds=seconds).to_csv(partial, index=False)
        partial.replace(path)
        return frame, seconds
    if not path.exists():
        pytest.fail(f"no stored ZigZag result for this case ({path.name}, ZigZag {version('zigzag-dse')}): "
                    "regenerate with python -m tests.zigzag_reference")
    frame = pd.read_csv(path, dtype=TEXT_COLUMNS)
    return frame.drop(columns="zigzag_seconds"), float(frame["zigzag_seconds"].iloc[0])


def main() -> int:
    """Rewrite the store: drop every stored case, then run the ZigZag tests live, recording."""
    for old in STORE.glob("*.csv"):
        old.unlink()
    root = Path(__file__).parent.parent
    return subprocess.call([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                            "tests/test_zigzag.py"], cwd=root, env={**os.environ, RECORD: "1"})


if __name__ == "__main__":
    raise SystemExit(main())
