"""One training step (forward, backward, SGD with momentum) of ResNet-18 on CIFAR-shaped batches of 32, on the
CPU: dense against periodic-sparse (PSD1_P16, masks as parametrizations), side by side in one run.

Target (issue 5): the masked step takes at most 1.15x the dense step.
Run: python benchmarks/sparse_training_speed.py [--steps 10]
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from estimator.models import create
from estimator.variants import apply_periodic_sparsity


def step_times(model: nn.Module, steps: int, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    model.train()
    times = []
    for i in range(steps + 2):
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
        if i >= 2:  # two warm-up steps
            times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--variant", default="PSD1_P16")
    args = parser.parse_args()
    torch.manual_seed(0)
    x, y = torch.randn(32, 3, 32, 32), torch.randint(0, 10, (32,))
    dense = create("resnet18_cifar")
    sparse = apply_periodic_sparsity(dense, args.variant)
    # interleave the two so that machine noise hits both alike
    dense_t, sparse_t = [], []
    for _ in range(2):
        dense_t += step_times(dense, args.steps // 2, x, y)
        sparse_t += step_times(sparse, args.steps // 2, x, y)
    d, s = min(dense_t), min(sparse_t)
    print(f"ResNet-18 CIFAR, batch 32, {torch.get_num_threads()} CPU threads, "
          f"min of {len(dense_t)} steps each, interleaved")
    print(f"{'dense':12s} {d * 1000:8.1f} ms/step")
    print(f"{args.variant:12s} {s * 1000:8.1f} ms/step")
    print(f"ratio {s / d:.3f}x (target <= 1.15x)")


if __name__ == "__main__":
    main()
