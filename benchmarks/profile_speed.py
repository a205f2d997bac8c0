"""Time to profile ImageNet-size models: estimator (meta and real inputs) vs fvcore and FlopCounterMode.

Target (issue 2): the meta-input profile takes at most half of fvcore's time on the same model.
Run: python benchmarks/profile_speed.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time

import torch
from fvcore.nn import FlopCountAnalysis
from torch.utils.flop_counter import FlopCounterMode

from estimator import profile
from estimator.models import create


def best_time(fn, repeats: int) -> float:
    """Median wall time of ``fn()`` over ``repeats`` runs after one warm-up, in seconds."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def fvcore_total(model, x) -> int:
    analysis = FlopCountAnalysis(model, x)
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    return analysis.total()


def flopcounter_total(model, x) -> int:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    return counter.get_total_flops()


def measure(name: str, repeats: int) -> str:
    """One table line: the four tools' times on model ``name`` and the ratios to the meta profile."""
    model = create(name).eval()
    x = torch.randn(1, 3, 224, 224)
    meta = best_time(lambda: profile(model, input_shape=(1, 3, 224, 224)), repeats)
    real = best_time(lambda: profile(model, x), repeats)
    fv = best_time(lambda: fvcore_total(model, x), repeats)
    fcm = best_time(lambda: flopcounter_total(model, x), repeats)
    macs = profile(model, input_shape=(1, 3, 224, 224)).total()["macs"]
    agree = "yes" if 2 * macs == flopcounter_total(model, x) else "NO"
    return (f"{name:22s} {meta:10.3f} {real:10.3f} {fv:10.3f} {fcm:12.3f} {fv / meta:11.1f}x {fcm / meta:8.1f}x"
            f"  {agree}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    logging.getLogger("fvcore").setLevel(logging.ERROR)  # its per-op "unsupported" notes are not results
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; median of {args.repeats} runs (s)")
    print(f"{'model':22s} {'est. meta':>10s} {'est. real':>10s} {'fvcore':>10s} {'FlopCounter':>12s}"
          f" {'fvcore/meta':>12s} {'FCM/meta':>9s}  MACs = FCM/2")
    for name in ("resnet50_imagenet", "mobilenetv2_imagenet"):
        print(measure(name, args.repeats))
    print("target: fvcore/meta >= 2x")


if __name__ == "__main__":
    main()
