"""AlexNet on eyeriss65 against the measured Eyeriss chip (JSSC 2017 Table V), as benchmarks/validate_eyeriss.py
prints it: the traffic and latency are this tool's own, the chip's columns are the paper's, unaltered."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from estimator.literature import load
from estimator.silicon import CSV_COLUMNS, EYERISS_TABLE5, eyeriss_comparison

ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def comparison() -> pd.DataFrame:
    """The default: the exact mapper within eyeriss65's row-stationary order (the mappings the chip can run)."""
    return eyeriss_comparison(mapper="exact")


@pytest.fixture(scope="module")
def free() -> pd.DataFrame:
    """The free optimum of the cost model on the same hardware."""
    return eyeriss_comparison(mapper="free")


def test_buffer_traffic_and_latency_agree_with_the_chip(comparison, free):
    # global buffer: within 15% in total, CONV2-5 within 30% each; latency within 20% on every layer
    assert comparison["gb_mb"].sum() / comparison["gb_mb_chip"].sum() == pytest.approx(1.0, abs=0.15)
    assert (comparison["gb_mb_ratio"].iloc[1:] - 1).abs().max() <= 0.30
    assert (comparison["latency_ms_ratio"] - 1).abs().max() <= 0.20
    # the free optimum moves CONV2's buffer traffic out of range (0.63x): a mapping the chip's dataflow cannot run
    assert free["gb_mb_ratio"].iloc[1] < 0.7 < 0.85 < comparison["gb_mb_ratio"].iloc[1]
    # the PE array: 12 x 14 = 168 PEs; CONV2's 5 x 5 filters leave rows idle: 135 active, as measured
    assert comparison["active_pes"].tolist()[1:] == comparison["active_pes_chip"].tolist()[1:]


def test_dram_traffic_with_the_chips_zeros_agrees_with_the_chip(comparison, free):
    # the measured input densities, gating and RLC at DRAM (eyeriss65's [sparsity] and compression). Free: every
    # layer within 30%, the total within 20% (1.16x)
    assert (free["dram_mb_ratio"] - 1).abs().max() <= 0.30
    assert free["dram_mb"].sum() / free["dram_mb_chip"].sum() == pytest.approx(1.0, abs=0.20)
    # row stationary: CONV2-5 the same; CONV1 reads its input from DRAM 3.1 times, not 2.25 (its whole 55-wide
    # output row per PE pass leaves the buffer a tile it re-fetches), 1.37x the chip's, 1.21x in total
    assert (comparison["dram_mb_ratio"].iloc[1:] - free["dram_mb_ratio"].iloc[1:]).abs().max() < 1e-9
    assert comparison["dram_mb_ratio"].iloc[0] == pytest.approx(1.37, abs=0.02)
    assert comparison["dram_mb"].sum() / comparison["dram_mb_chip"].sum() == pytest.approx(1.21, abs=0.02)


def test_dense_activations_read_more_than_the_compressing_chip_but_within_1_9x(comparison):
    dense = eyeriss_comparison(mapper="exact", act_sparsity=False)
    # CONV4 and CONV5 move less than their dense compulsory traffic on the chip: only compression reaches it
    total = dense["dram_mb"].sum() / dense["dram_mb_chip"].sum()
    assert 1.0 < total <= 1.9 and (dense["dram_mb_ratio"] > 1).all()
    # dense, the energy per MAC follows the chip's less (r = 0.82 in the row-stationary space, -0.07 free: flat);
    # gating the MAC and the weight read by the input zeros makes it follow the chip's (0.93)
    assert dense.attrs["correlation"] < comparison.attrs["correlation"] - 0.05


def test_gating_by_the_measured_zeros_makes_energy_per_mac_follow_the_chip(comparison):
    # r = 0.93 in the row-stationary space, 0.90 free (the issue's target 0.95 is not met: CONV1's buffer traffic,
    # 2.2x the chip's, keeps its energy per MAC above the chip's; no constant is tuned to the table)
    assert comparison.attrs["correlation"] >= 0.9


def test_the_exact_mapper_is_what_brings_the_budgeted_search_within_range(comparison):
    # LOMA at its default budget of 4 merged factors: 4x the chip's buffer traffic (the measured 4.49x)
    loma = eyeriss_comparison(mapper="loma", loop_factor_limit=4)
    assert loma["gb_mb"].sum() / loma["gb_mb_chip"].sum() > 3.0 > 1.15 > comparison["gb_mb"].sum() / comparison[
        "gb_mb_chip"].sum()


def test_the_validation_script_writes_the_chips_columns_unaltered(tmp_path):
    out = tmp_path / "eyeriss.csv"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "validate_eyeriss.py"), "--csv", str(out)], check=True,
                   capture_output=True, cwd=ROOT)
    written = pd.read_csv(out)
    chip = load(EYERISS_TABLE5)
    assert tuple(written.columns) == CSV_COLUMNS and len(written) == 5
    assert written["gb_mb_chip"].tolist() == chip["gb_accesses_mb"].tolist()
    assert written["dram_mb_chip"].tolist() == chip["dram_accesses_mb"].tolist()
    assert written["latency_ms_chip"].tolist() == chip["processing_latency_ms"].tolist()
    # the chip's on-chip energy per MAC: power x processing time / MACs, CONV1: 332 mW x 16.5 ms / 0.42 G = 13.04 pJ
    assert written["pj_per_mac_chip"].iloc[0] == pytest.approx(13.043, abs=1e-3)
