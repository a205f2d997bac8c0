"""AlexNet CONV1-5 at batch 4 on ``eyeriss65`` against the measured Eyeriss chip (Chen et al., JSSC 2017, Table V).

Prints, per layer and in total, this tool's global-buffer and DRAM traffic, latency and active PEs beside the
chip's, the ratios, and its on-chip energy per MAC beside the chip's (one least-squares scale from MAC units to pJ,
labelled a fit). The activations have the chip's measured densities (Table V's input zeros), which ``eyeriss65``
gates at the MACs and run-length codes at DRAM, as the chip does; ``--dense`` prices them dense instead (what the
tool gives without densities). ``--mapper loma`` shows ZigZag's search at its default budget on the same hardware;
``--csv PATH`` writes one row per layer (columns ``estimator.silicon.CSV_COLUMNS``). With the default ``exact``
mapper (the row-stationary mapping space ``eyeriss65`` declares) it also prints the ratios of the free optimum
(``mapper = "free"``) beside them.

Run: python benchmarks/validate_eyeriss.py [--mapper exact|free|loma] [--loop-factor-limit N] [--dense] [--csv PATH]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from estimator.io import atomic_write_text
from estimator.silicon import CSV_COLUMNS, eyeriss_comparison
from hwmodels.parameters import MAPPERS

TARGETS = {"gb_mb": 0.15, "latency_ms": 0.20}
"""The issue's acceptance on totals (global buffer) and per layer (latency), as a relative difference."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mapper", default="exact", choices=tuple(MAPPERS))
    parser.add_argument("--loop-factor-limit", type=int, default=4, help="the loma mapper's factor limit")
    parser.add_argument("--dense", action="store_true", help="price the activations dense (act_sparsity false)")
    parser.add_argument("--csv", type=Path, help="write one row per layer here")
    args = parser.parse_args()
    if args.csv is not None and args.csv.is_dir():
        parser.error(f"--csv {args.csv}: a folder; expected a file path")
    table = eyeriss_comparison(mapper=args.mapper, loop_factor_limit=args.loop_factor_limit,
                               act_sparsity=not args.dense)
    shown = table[["layer", "active_pes", "active_pes_chip", "gb_mb", "gb_mb_chip", "gb_mb_ratio", "dram_mb",
                   "dram_mb_chip", "dram_mb_ratio", "latency_ms", "latency_ms_chip", "latency_ms_ratio", "pj_per_mac",
                   "pj_per_mac_chip"]]
    with pd.option_context("display.width", 250, "display.max_columns", 30):
        print(f"AlexNet CONV1-5, batch 4, eyeriss65, mapper {args.mapper}, activations "
              + ("dense" if args.dense else "at the chip's measured densities (gated, RLC at DRAM)")
              + "; ratio = this tool / the chip")
        print(shown.round(2).to_string(index=False))
    for column in ("gb_mb", "dram_mb", "latency_ms"):
        total = table[column].sum() / table[f"{column}_chip"].sum()
        print(f"total {column}: {table[column].sum():.1f} here, {table[f'{column}_chip'].sum():.1f} measured, "
              f"ratio {total:.2f}" + (" (dense activations: the chip compresses them)" if column == "dram_mb"
                                      and args.dense else ""))
    print(f"on-chip energy per MAC: correlation {table.attrs['correlation']:.2f} with the chip's over the five layers; "
          f"pJ per MAC unit {table.attrs['pj_per_mac_unit']:.2f} (a least-squares fit, not a prediction)")
    outside = [f"{r.layer} {c} {getattr(r, c + '_ratio'):.2f}x" for r in table.itertuples()
               for c in ("gb_mb", "dram_mb", "latency_ms") if abs(getattr(r, c + "_ratio") - 1) > 0.30]
    print("layers outside +-30%: " + (", ".join(outside) if outside else "none"))
    if args.mapper == "exact":
        print_free_beside(table, eyeriss_comparison(mapper="free", act_sparsity=not args.dense))
    print("weights: a random initialisation (no trained AlexNet weights here); the chip does not exploit weight zeros, "
          "so their values change no number. CONV5's output density is taken equal to its input density (an "
          "assumption: Table V stops at CONV5).")
    if args.csv is not None:
        atomic_write_text(args.csv, table[list(CSV_COLUMNS)].to_csv(index=False))
        print(f"wrote {args.csv}")
    return 0


def print_free_beside(constrained: pd.DataFrame, free: pd.DataFrame) -> None:
    """The ratios to the chip in the row-stationary mapping space (eyeriss65's [order], what the chip can run)
    beside the free optimum of the cost model."""
    columns = {}
    for column in ("gb_mb", "dram_mb", "latency_ms"):
        columns[f"{column} free"] = free[f"{column}_ratio"]
        columns[f"{column} rs"] = constrained[f"{column}_ratio"]
    side = pd.DataFrame({"layer": constrained["layer"], **columns})
    totals = {"layer": "total"}
    for column in ("gb_mb", "dram_mb", "latency_ms"):
        for name, table in (("free", free), ("rs", constrained)):
            totals[f"{column} {name}"] = table[column].sum() / table[f"{column}_chip"].sum()
    side = pd.concat([side, pd.DataFrame([totals])], ignore_index=True)
    print("\nratio to the chip: free optimum of the cost model beside the row-stationary space (eyeriss65's [order])")
    print(side.round(2).to_string(index=False))
    print(f"energy per MAC correlation: free {free.attrs['correlation']:.2f}, "
          f"rs {constrained.attrs['correlation']:.2f}")


if __name__ == "__main__":
    raise SystemExit(main())
