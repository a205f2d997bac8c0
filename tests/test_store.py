"""The results store: a sweep killed (SIGKILL) inside a commit loses and duplicates nothing; processes commit into
one store at once; a damaged record is recomputed, never taken as done; a file that is not a store is one line."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

from estimator.cli import main
from estimator.store import ResultStore, StoreError

SPEC = """
[sweep]
models = ["digits_cnn", "digits_tanh"]
variants = ["dense", "PS4_P4", "PS2_P6", "PS1_P9"]
[hardware]
weight_bits = [4, 8]
"""
POINTS = 2 * 4

KILLED_INSIDE_A_COMMIT = """
import sys, time
from pathlib import Path
import estimator.store as store

marker, commits = Path(sys.argv[1]), [0]
original = store.ResultStore.__init__

def init(self, *args, **kwargs):
    original(self, *args, **kwargs)

    def trace(statement):  # runs as each statement starts: hang in the third commit, its row written, uncommitted
        if statement == "COMMIT":
            commits[0] += 1
            if commits[0] == 3:
                marker.write_text("in commit")
                time.sleep(120)

    self.connection.set_trace_callback(trace)

store.ResultStore.__init__ = init
from estimator.cli import main
sys.exit(main(sys.argv[2:]))
"""


def stored_keys(path) -> list[str]:
    with sqlite3.connect(path) as connection:
        return [k for (k,) in connection.execute("SELECT key FROM points")]


def test_sigkill_inside_a_commit_loses_and_duplicates_nothing(tmp_path):
    spec, db, marker = tmp_path / "spec.toml", tmp_path / "r.sqlite", tmp_path / "marker"
    spec.write_text(SPEC)
    process = subprocess.Popen([sys.executable, "-c", KILLED_INSIDE_A_COMMIT, str(marker), "sweep", str(spec),
                                "--out", str(db)], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "the sweep never reached its third commit"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert len(stored_keys(db)) == 2  # two committed points survive; the third, killed mid-commit, is absent
    with ResultStore(db) as store:
        assert len(store.finished()) == 2
    assert main(["sweep", str(spec), "--out", str(db)]) == 0  # the rerun computes the six missing points
    keys = stored_keys(db)
    assert len(keys) == len(set(keys)) == POINTS
    with ResultStore(db) as store:
        table = store.table()
    assert table.groupby("point").size().eq(2).all() and table["point"].nunique() == POINTS  # 2 widths each


def put_points(path: str, worker: int, count: int) -> int:
    rows = pd.DataFrame({"point": [f"w{worker}-{i}" for i in range(count)], "energy_uj": range(count)})
    with ResultStore(path) as store:
        for i in range(count):
            store.put(f"w{worker}-{i}", {"worker": worker}, rows.iloc[[i]])
            store.put("shared", {"worker": worker}, rows.iloc[[i]])  # every worker races on this one
    return worker


def test_concurrent_processes_commit_into_one_store(tmp_path):
    path = str(tmp_path / "r.sqlite")
    ResultStore(path).close()
    with ProcessPoolExecutor(4) as pool:
        assert sorted(pool.map(put_points, [path] * 4, range(4), [40] * 4)) == [0, 1, 2, 3]
    keys = stored_keys(path)
    assert len(keys) == len(set(keys)) == 4 * 40 + 1


def test_two_sweeps_finish_points_into_one_store_at_once(tmp_path):
    db = tmp_path / "r.sqlite"
    specs = []
    for name, models in (("a", '["digits_cnn"]'), ("b", '["digits_tanh", "digits_cnn"]')):
        specs.append(tmp_path / f"{name}.toml")
        specs[-1].write_text(SPEC.replace('["digits_cnn", "digits_tanh"]', models))
    processes = [subprocess.Popen([sys.executable, "-m", "estimator.cli", "sweep", str(s), "--out", str(db)],
                                  stderr=subprocess.PIPE, text=True) for s in specs]
    for process in processes:
        assert process.wait(timeout=300) == 0, process.stderr.read()
    keys = stored_keys(db)
    assert len(keys) == len(set(keys)) == POINTS  # spec b's digits_cnn points are spec a's: stored once


def test_damaged_record_is_recomputed_not_taken_as_done(tmp_path):
    spec, db = tmp_path / "spec.toml", tmp_path / "r.sqlite"
    spec.write_text(SPEC)
    assert main(["sweep", str(spec), "--out", str(db)]) == 0
    with ResultStore(db) as store:
        before = store.table()
    victim = before["point"].iloc[0]
    with sqlite3.connect(db) as connection:  # a torn record: its rows cut short, its checksum left as it was
        connection.execute("UPDATE points SET rows = substr(rows, 1, 40) WHERE key = ?", (victim,))
    told = "1 damaged record\\(s\\) skipped; a sweep into it computes their points again"
    with ResultStore(db) as store, pytest.warns(UserWarning, match=told):  # the user is told, once per read
        assert victim not in store.finished() and len(store.finished()) == POINTS - 1
    with pytest.warns(UserWarning, match=told):
        assert main(["sweep", str(spec), "--out", str(db)]) == 0
    with ResultStore(db) as store:
        after = store.table()
    pd.testing.assert_frame_equal(after.sort_values(["point", "weight_bits"]).reset_index(drop=True),
                                  before.sort_values(["point", "weight_bits"]).reset_index(drop=True))


@pytest.mark.parametrize("content", [b"not a database at all, just some text" * 40,
                                     b"SQLite format 3\x00" + b"\x00" * 80])
def test_a_file_that_is_not_a_store_is_one_line(tmp_path, capsys, content):
    spec, db = tmp_path / "spec.toml", tmp_path / "r.sqlite"
    spec.write_text(SPEC)
    db.write_bytes(content)
    assert main(["sweep", str(spec), "--out", str(db)]) == 2
    err = capsys.readouterr().err
    assert f"results store {db}" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(StoreError):
        ResultStore(db)
    assert db.read_bytes() == content  # nothing of the user's file was overwritten


def test_export_formats(tmp_path):
    with ResultStore(tmp_path / "r.sqlite") as store:
        store.put("a", {}, pd.DataFrame({"model": ["m"], "energy_uj": [1.5], "macs": [2**40 + 1]}))
        with pytest.raises(ValueError, match=r"expected a \.csv or \.parquet suffix"):
            store.export(tmp_path / "r.xlsx")
        frame = pd.read_csv(store.export(tmp_path / "r.csv"))
    assert frame.loc[0, "macs"] == 2**40 + 1 and frame.loc[0, "energy_uj"] == 1.5  # integers survive exactly


def filled_store(path, count: int = 300) -> None:
    """A store of ``count`` points with rows of about 1 KB each (so that they span many pages)."""
    with ResultStore(path) as store:
        for i in range(count):
            rows = pd.DataFrame({"point": [f"p{i}"] * 8, "energy_uj": [i + j / 10 for j in range(8)],
                                 "note": ["x" * 100] * 8})
            store.put(f"p{i}", {"i": i}, rows)


def test_pareto_leaves_a_store_byte_identical(tmp_path, capsys):
    spec, db = tmp_path / "spec.toml", tmp_path / "r.sqlite"
    spec.write_text(SPEC)
    assert main(["sweep", str(spec), "--out", str(db)]) == 0
    before = db.read_bytes()
    assert main(["pareto", str(db), "--y", "params", "--out", str(tmp_path / "front.png")]) == 0
    assert db.read_bytes() == before


@pytest.mark.parametrize("content", [b"", None])
def test_read_only_commands_never_turn_a_file_into_a_store(tmp_path, capsys, content):
    db = tmp_path / "r.sqlite"
    if content is None:  # another tool's SQLite file
        with sqlite3.connect(db) as connection:
            connection.execute("CREATE TABLE measurements (x REAL)")
            connection.execute("INSERT INTO measurements VALUES (1.5)")
    else:
        db.write_bytes(content)
    before = db.read_bytes()
    assert main(["pareto", str(db), "--out", str(tmp_path / "front.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"results store {db}" in err
    assert db.read_bytes() == before and not (tmp_path / "front.png").exists()


def test_a_sweep_refuses_another_tools_sqlite_file(tmp_path, capsys):
    spec, db = tmp_path / "spec.toml", tmp_path / "other.sqlite"
    spec.write_text(SPEC)
    with sqlite3.connect(db) as connection:
        connection.execute("CREATE TABLE points (key TEXT, value REAL)")  # same table name, another schema
    before = db.read_bytes()
    assert main(["sweep", str(spec), "--out", str(db)]) == 2
    assert "a SQLite file of another tool" in capsys.readouterr().err
    assert db.read_bytes() == before


def test_a_store_with_one_overwritten_page_still_yields_its_intact_records(tmp_path):
    db = tmp_path / "r.sqlite"
    filled_store(db)
    with sqlite3.connect(db) as connection:
        page_size, pages = (connection.execute(f"PRAGMA {p}").fetchone()[0] for p in ("page_size", "page_count"))
    assert pages > 40
    data = bytearray(db.read_bytes())
    victim = pages // 2  # a page in the middle of the table: a leaf of records
    data[victim * page_size:(victim + 1) * page_size] = b"\xa5" * page_size
    db.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match="damaged record"):
        table = ResultStore(db, readonly=True).table()
    # a 4 KiB page holds at most a few of these ~1 KB records: all the others come back, each one whole
    survivors = table["point"].unique()
    assert 300 - 10 <= len(survivors) < 300
    assert table.groupby("point").size().eq(8).all()
    assert db.read_bytes() == bytes(data)  # read-only: nothing deleted or repaired


def children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_kill_9_of_a_sweep_leaves_no_worker_alive(tmp_path):
    spec = tmp_path / "spec.toml"
    spec.write_text('[sweep]\nmodels = ["digits_cnn"]\nvariants = ["dense", "PS2_P6"]\ndata = "digits"\n'
                    f'epochs = 400\nruns_dir = "{tmp_path / "runs"}"\n')
    process = subprocess.Popen([sys.executable, "-m", "estimator.cli", "sweep", str(spec), "--out",
                                str(tmp_path / "r.sqlite"), "--workers", "2"], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    workers: list[int] = []
    while time.monotonic() < deadline and process.poll() is None:
        workers = [c for c in children(process.pid) if "spawn_main" in Path(f"/proc/{c}/cmdline").read_text()]
        if len(workers) == 2 and (tmp_path / "runs").is_dir() and any((tmp_path / "runs").glob("*/run.json")):
            break  # both workers are training
        time.sleep(0.2)
    assert len(workers) == 2, "the sweep never started its two training workers"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    time.sleep(5)
    assert [w for w in workers if alive(w)] == []
