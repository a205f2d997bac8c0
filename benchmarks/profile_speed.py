"""Profile speed, each mode beside the alternative that does the same work, interleaved, min of rounds.

* Meta (shape-only) profile against torch's FlopCounterMode running the same model on meta tensors (a meta copy of
  the model, made once, outside the timing; the profile's own copy is inside its time). Both count every op of
  the forward pass without computing it. The profile is timed with its value-aware columns on (the default;
  weights scanned once per tensor version and cached, so a repeat costs as much as values off) and off.
* Real-input profile against fvcore's FlopCountAnalysis and FlopCounterMode on the same real input, and against a
  plain forward pass (torch.no_grad), the floor every real-input counter pays.

* Recurrent layers (a 2-layer LSTM and a GRU, hidden 128, batch 4, at 25 and 400 steps): the meta profile beside
  the real-input profile of the same table, and its growth with the sequence length; with timm installed,
  sequencer2d_s's real-input profile beside its forward pass.

Models: ResNet-18, ResNet-50, MobileNetV2, VGG-16, DenseNet-121 at 224 x 224; batch 1 and 32; with torchvision
installed, any of its classification models as ``tv:<name>`` (ConvNeXt-T: ``tv:convnext_tiny``, ViT-B/16:
``tv:vit_b_16``; random weights, nothing downloaded). A name ending in ``@half-zero`` is the model with a seeded
random half of every weight (2-D and up) set to zero, as pruning leaves it: its first profile counts zeros.
Each profile is timed as the first of its model (every cached weight scan forgotten) and as a second one.
Targets: the first meta profile <= 0.5x FlopCounterMode-on-meta (VGG-16: 1.0x); the first real profile <= 1.1x a
plain forward at batch 32 and <= 1.5x at batch 1; a second profile with values on <= 1.2x one with values off.
Recurrent: the meta profile <= 0.5x the real one, and at 400 steps <= 1.5x at 25; sequencer2d_s's real profile
<= 1.2x its forward pass.
Run: python benchmarks/profile_speed.py [--rounds 5] [--models resnet18_imagenet tv:vit_b_16 ...] [--batches 1 32]
[--meta-only] [--no-recurrent]
"""

from __future__ import annotations

import argparse
import copy
import logging
import time

import torch
from fvcore.nn import FlopCountAnalysis
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from estimator import profile
from estimator.counting.weights import clear_cache
from estimator.models import create

MODELS = ("resnet18_imagenet", "resnet50_imagenet", "mobilenetv2_imagenet", "vgg16_imagenet", "densenet121_imagenet")


def flopcounter(model, x) -> int:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    return counter.get_total_flops()


def fvcore(model, x) -> int:
    analysis = FlopCountAnalysis(model, x)
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    return analysis.total()


def forward(model, x) -> None:
    with torch.no_grad():
        model(x)


def interleaved(jobs: dict, rounds: int) -> dict[str, float]:
    """Min over ``rounds`` of each job's wall time, the jobs run in turn within every round (after a warm-up)."""
    for job in jobs.values():
        job()
    best = {name: float("inf") for name in jobs}
    for _ in range(rounds):
        for name, job in jobs.items():
            start = time.perf_counter()
            job()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def build(name: str) -> nn.Module:
    """A model of this package's zoo, or torchvision's ``tv:<name>`` with random weights, in eval mode; with
    ``@half-zero``, a seeded random half of each weight's elements zero."""
    base, _, variant = name.partition("@")
    if base.startswith("tv:"):
        import torchvision

        model = torchvision.models.get_model(base[3:], weights=None).eval()
    else:
        model = create(base).eval()
    if variant == "half-zero":
        generator = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for weight in (p for p in model.parameters() if p.dim() > 1):
                weight.mul_(torch.rand(weight.shape, generator=generator) < 0.5)
    elif variant:
        raise SystemExit(f"model {name}: unknown variant '@{variant}'; expected @half-zero")
    return model


def measure(model, meta_model, name: str, batch: int, rounds: int, real: bool = True) -> tuple[tuple, tuple | None]:
    """One model and batch: (meta row, real row or None when not ``real``) of minimum times in seconds."""
    shape = (batch, 3, 224, 224)
    x, x_meta = torch.randn(shape), torch.randn(shape, device="meta")
    macs = profile(model, input_shape=shape).total()["macs"]
    assert 2 * macs == flopcounter(meta_model, x_meta), f"{name}: MACs differ from FlopCounterMode/2"
    t = interleaved({"first": lambda: first(lambda: profile(model, input_shape=shape)),
                     "values": lambda: profile(model, input_shape=shape),
                     "shapes": lambda: profile(model, input_shape=shape, values=False),
                     "fcm_meta": lambda: flopcounter(meta_model, x_meta)}, rounds)
    meta = (name, batch, t["first"], t["values"], t["shapes"], t["fcm_meta"])
    if not real:
        return meta, None
    t = interleaved({"first": lambda: first(lambda: profile(model, x)), "profile": lambda: profile(model, x),
                     "fvcore": lambda: fvcore(model, x), "fcm": lambda: flopcounter(model, x),
                     "forward": lambda: forward(model, x)}, rounds)
    return meta, (name, batch, t["first"], t["profile"], t["fvcore"], t["fcm"], t["forward"])


def first(job):
    """``job`` as the first profile of its model: every cached weight scan forgotten first."""
    clear_cache()
    return job()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--models", nargs="*", default=list(MODELS), help="(none: only the recurrent rows)")
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 32])
    parser.add_argument("--meta-only", action="store_true", help="only the meta rows (no real-input runs)")
    parser.add_argument("--no-recurrent", action="store_true", help="leave out the recurrent and sequencer rows")
    args = parser.parse_args()
    logging.getLogger("fvcore").setLevel(logging.ERROR)  # its per-op notes are not results
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; min of {args.rounds} interleaved rounds")
    meta_rows, real_rows = [], []
    for name in args.models:
        model = build(name)
        meta_model = copy.deepcopy(model).to("meta")
        for batch in args.batches:
            meta, real = measure(model, meta_model, name, batch, args.rounds, not args.meta_only)
            meta_rows.append(meta)
            real_rows += [real] if real else []
            print(f"  measured {name} batch {batch}", flush=True)
    print("\nmeta (shape-only) profile vs FlopCounterMode on a meta copy, seconds (first: weights scanned; second: "
          "the scan cached)")
    print(f"{'model':22s} {'batch':>5s} {'first':>8s} {'second':>8s} {'values off':>10s} {'FCM meta':>9s} "
          f"{'first/FCM':>9s} {'second/FCM':>10s} {'second/off':>10s}")
    for name, batch, once, values, shapes, fcm in meta_rows:
        print(f"{name:22s} {batch:5d} {once:8.3f} {values:8.3f} {shapes:10.3f} {fcm:9.3f} {once / fcm:8.2f}x "
              f"{values / fcm:9.2f}x {values / shapes:9.2f}x")
    print("targets: first / FCM on meta <= 0.50x (VGG-16, ViT-B/16: 1.0x); second with values on / values off "
          "<= 1.2x")
    if real_rows:
        print("\nreal-input profile vs fvcore, FlopCounterMode and a plain forward pass, seconds")
        print(f"{'model':22s} {'batch':>5s} {'first':>8s} {'second':>8s} {'fvcore':>9s} {'FCM':>9s} {'forward':>9s} "
              f"{'first/fwd':>9s} {'second/fwd':>10s} {'/fvcore':>8s} {'/FCM':>7s}")
        for name, batch, once, prof, fv, fcm, fwd in real_rows:
            print(f"{name:22s} {batch:5d} {once:8.3f} {prof:8.3f} {fv:9.3f} {fcm:9.3f} {fwd:9.3f} {once / fwd:8.2f}x "
                  f"{prof / fwd:9.2f}x {prof / fv:7.2f}x {prof / fcm:6.2f}x")
        print("targets: first profile / forward <= 1.1x at batch 32, <= 1.5x at batch 1")
    if not args.no_recurrent:
        recurrent(args.rounds)
        sequencer(args.rounds)


def recurrent(rounds: int) -> None:
    """A 2-layer LSTM and GRU (hidden 128, batch 4) at 25 and 400 steps: meta profile beside the real-input
    profile of the same table, and how the meta time grows with the sequence."""
    print("\nrecurrent, hidden 128, 2 layers, batch 4: meta profile vs real-input profile (the same table), seconds")
    for layer in (nn.LSTM, nn.GRU):
        model = layer(64, 128, num_layers=2, batch_first=True)
        for steps in (25, 400):
            shape = (4, steps, 64)
            x = torch.randn(shape)
            real = profile(model, x)
            assert real.layers.equals(profile(model, input_shape=shape, densities=real.densities()).layers)
            t = interleaved({"meta": lambda m=model, s=shape: profile(m, input_shape=s),
                             "real": lambda m=model, x=x: profile(m, x)}, max(rounds, 30))  # (sub-millisecond)
            print(f"{layer.__name__.lower():5s} {steps:4d} steps  meta {t['meta']:7.4f}  real {t['real']:7.4f}  "
                  f"meta/real {t['meta'] / t['real']:5.2f}x")
        # the growth on its own: the two meta profiles in turn (after a real one the caches are cold)
        t = interleaved({steps: lambda m=model, s=(4, steps, 64): profile(m, input_shape=s) for steps in (25, 400)},
                        max(rounds, 30))
        print(f"{layer.__name__.lower():5s} meta at 400 steps / at 25: {t[400] / t[25]:.2f}x")
    print("targets: meta / real <= 0.5x; meta at 400 steps <= 1.5x meta at 25")


def sequencer(rounds: int) -> None:
    """timm's sequencer2d_s (LSTMs over image rows and columns), when timm is installed: the first and second
    real-input profile beside a plain forward pass, batch 1; beside them the profile without the density count
    (``densities=1.0``) and FlopCounterMode on the same input (what the per-op dispatch alone costs)."""
    try:
        import timm
    except ImportError:
        print("\nsequencer2d_s: timm not installed (see benchmarks/validate_timm.py for its environment); skipped")
        return
    model = timm.create_model("sequencer2d_s", pretrained=False).eval()
    x = torch.randn(1, 3, 224, 224)
    t = interleaved({"first": lambda: first(lambda: profile(model, x)), "second": lambda: profile(model, x),
                     "dense": lambda: profile(model, x, densities=1.0), "fcm": lambda: flopcounter(model, x),
                     "forward": lambda: forward(model, x)}, rounds)
    print(f"\nsequencer2d_s, batch 1: first {t['first']:.3f} s, second {t['second']:.3f} s, densities=1.0 "
          f"{t['dense']:.3f} s, FlopCounterMode {t['fcm']:.3f} s, forward {t['forward']:.3f} s")
    print(f"   / forward: first {t['first'] / t['forward']:.2f}x, second {t['second'] / t['forward']:.2f}x "
          f"(target <= 1.2x), densities=1.0 {t['dense'] / t['forward']:.2f}x, FlopCounterMode "
          f"{t['fcm'] / t['forward']:.2f}x")


if __name__ == "__main__":
    main()
