"""Start-up time of the command line: ``estimator --help``, every subcommand's ``--help``, and a sweep file rejected
for a mistyped key (the check runs before any work), each in a fresh interpreter, min of rounds. The target is under
1 s each. For scale, the floor: a bare interpreter starting (``python -c pass``) and one importing torch, which
every command that computes needs and which the command line therefore imports only inside those commands.
Run: python benchmarks/cli_startup.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from estimator.cli import build_parser

TARGET_S = 1.0


def seconds(argv: list[str], rounds: int, code: int) -> float:
    """The fastest of ``rounds`` runs of ``argv``, each checked to exit with ``code``."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True)
        best = min(best, time.perf_counter() - start)
        if done.returncode != code:
            raise SystemExit(f"{' '.join(argv)} exited {done.returncode}, expected {code}: {done.stderr.strip()}")
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    cli = [sys.executable, "-m", "estimator.cli"]
    commands = sorted(build_parser()._subparsers._group_actions[0].choices)
    with tempfile.TemporaryDirectory() as folder:
        spec = Path(folder) / "spec.toml"
        spec.write_text('[sweep]\nmodels = ["digits_cnn"]\nvariantz = ["dense"]\n')
        cases = {"estimator --help": cli + ["--help"]}
        cases |= {f"estimator {c} --help": cli + [c, "--help"] for c in commands}
        cases["estimator sweep <file with a mistyped key>"] = cli + ["sweep", str(spec)]
        floor = {"python -c pass (interpreter start)": [sys.executable, "-c", "pass"],
                 "python -c 'import torch' (for scale)": [sys.executable, "-c", "import torch"]}
        times = {name: seconds(argv, args.rounds, 2 if "mistyped" in name else 0)
                 for name, argv in (cases | floor).items()}
    print(f"{'command':52s} {'seconds':>8s}  (min of {args.rounds}; target < {TARGET_S:.0f} s)")
    for name, value in times.items():
        verdict = "" if name in floor else ("ok" if value < TARGET_S else "OVER TARGET")
        print(f"{name:52s} {value:8.3f}  {verdict}")
    worst = max(times[name] for name in cases)
    print(f"slowest command: {worst:.3f} s = {worst / TARGET_S:.2f} x the target")


if __name__ == "__main__":
    main()
