"""Validation of the movement, latency and utilisation model against ZigZag (zigzag-dse, its LOMA engine,
lpf_limit 4) on ZigZag's own example hardware and mappings.

Workloads: AlexNet's five conv layers at 224 x 224 (torchvision's shapes) and every conv of ResNet-18 (CIFAR);
with ``--more-networks`` also every conv of MobileNetV2 and ShuffleNetV2 (CIFAR: groups, depthwise, 1x1 and
strided layers) and of VGG16 (CIFAR) at batch 8, checked per layer to 2% in energy. A padded input is counted at
its real size on both sides (ZigZag is handed ``pr_loop_sizes`` without the padding).
Both sides price them as ZigZag assumes: weights 8, inputs 8, partial sums 16, final outputs 8 bits; every layer
reads its input from DRAM and writes its output there; no zero skipping. Prints, per network and hardware, the
ratio ours / ZigZag per layer (energy = MAC + memories, latency in cycles, spatial utilisation), per level and
operand (energy and read accesses), the network totals and both sides' times; then checks the acceptance
tolerances and exits non-zero if one fails:

* per-layer total energy within +-15% for at least 80% of the layers;
* per-level energy within +-25%;
* latency within +-25%;
* network totals within +-10%.

Run: python benchmarks/validate_zigzag.py [--all] [--more-networks]   (needs the zigzag extra)
"""

from __future__ import annotations

import argparse
import sys

from estimator.hwcheck import bundled, crosscheck_model, crosscheck_text
from estimator.models import create

NETWORKS = {"AlexNet (224x224) convs": ("alexnet_imagenet", (1, 3, 224, 224)),
            "ResNet-18 (CIFAR) convs": ("resnet18_cifar", (1, 3, 32, 32))}
MORE_NETWORKS = {"MobileNetV2 (CIFAR) convs": ("mobilenetv2_cifar", (1, 3, 32, 32)),
                 "ShuffleNetV2 (CIFAR) convs": ("shufflenetv2_cifar", (1, 3, 32, 32)),
                 "VGG16 (CIFAR) convs, batch 8": ("vgg16_cifar", (8, 3, 32, 32))}
"""Layer types the first two do not have (groups, depthwise, 1x1, batch > 1), checked with --more-networks."""
HARDWARE = {"tpu_like": "tpu_like", "edge_tpu_like": "edge_tpu_like"}
MORE_HARDWARE = {"ascend_like": "ascend_like", "tesla_npu_like": "tesla_npu_like",
                 "meta_prototype": "meta_prototype_like", "eyeriss_like": "default"}
"""ZigZag's other examples (accelerator: mapping), checked with --all."""


def tolerances(result, strict: bool = False) -> dict[str, bool]:
    """The acceptance checks; ``strict`` adds every layer's energy within 2% (the networks of --more-networks)."""
    layers, levels = result.layers, result.levels
    checks = {"every layer's energy within 2%": bool(((layers["energy_pj_ratio"] - 1).abs() <= 0.02).all())
              } if strict else {}
    return checks | {"per-layer energy within 15% for >= 80% of layers":
            bool(((layers["energy_pj_ratio"] - 1).abs() <= 0.15).mean() >= 0.8),
            "per-level energy within 25%": bool(((levels["energy_pj_ratio"] - 1).abs() <= 0.25).all()),
            "latency within 25%": bool(((layers["latency_cycles_ratio"] - 1).abs() <= 0.25).all()),
            "network energy within 10%": abs(result.total_ratio() - 1) <= 0.10,
            "network latency within 10%": abs(result.total_ratio("latency_cycles") - 1) <= 0.10}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="also ZigZag's other example accelerators")
    parser.add_argument("--more-networks", action="store_true", help="also MobileNetV2, ShuffleNetV2 and VGG16 at "
                                                                     "batch 8 (every layer within 2% in energy)")
    args = parser.parse_args()
    networks = dict(NETWORKS) | (MORE_NETWORKS if args.more_networks else {})
    hardware = dict(HARDWARE)
    if args.all:
        hardware.update(MORE_HARDWARE)
    failures = []
    summary = []
    for title, (model, shape) in networks.items():
        for name, mapping in hardware.items():
            accelerator = bundled(name)[0]
            result = crosscheck_model(create(model), shape, accelerator, bundled(mapping)[1])
            print(f"\n=== {title} on ZigZag's {name} ({accelerator.name}, mapping {mapping}.yaml) ===")
            print(crosscheck_text(result))
            checks = tolerances(result, strict=title in MORE_NETWORKS)
            for check, ok in checks.items():
                print(f"  {'PASS' if ok else 'FAIL'}  {check}")
                if not ok and name in HARDWARE:
                    failures.append(f"{title} on {name}: {check}")
            summary.append((title, name, result.total_ratio(), result.total_ratio("latency_cycles"),
                            result.ours_s, result.zigzag_s))
    print("\nnetwork        hardware          energy ratio  latency ratio   ours (s)  ZigZag (s)  speed-up")
    for title, name, energy, latency, ours, theirs in summary:
        print(f"{title[:14]:14s} {name:16s} {energy:13.4f} {latency:14.4f} {ours:10.3f} {theirs:11.1f} "
              f"{theirs / ours:8,.0f}x")
    if failures:
        print("\nFAILED: " + "; ".join(failures), file=sys.stderr)
        return 1
    print("\nall tolerances met on tpu_like and edge_tpu_like")
    return 0


if __name__ == "__main__":
    sys.exit(main())
