"""Meta equals real on every torchvision classification model, by hand (torchvision is not a dependency).

For each model of ``torchvision.models`` (random weights; nothing is downloaded), the profile on meta inputs and
the profile on a real input of the same shape must give identical tables, every column (``layers`` and
``nests``). ConvNeXt-Tiny, Swin-T, FCN-ResNet50 and the detectors Faster R-CNN MobileNetV3-Large-320-FPN,
FCOS-ResNet50-FPN and SSDlite320-MobileNetV3-Large are also profiled with ``strict=True`` on real input (no op
left without a formula), and the detector on meta must stop with one line naming ``nonzero``.
Prints one line per model and exits non-zero if any check fails.

Run it in a separate environment with a torchvision whose C++ extension loads (on x86_64: ``pip install
torch==2.14.1 torchvision==0.29.1``, then ``pip install -e .``; see validate_timm.py). With a torchvision whose
extension does not match torch (the 0.28 wheel beside torch 2.13's CPU build, installed ``--no-deps``), this script
defines its ``nms`` and ``roi_align`` ops with pure-PyTorch kernels (nms from tests/torchvision_ops.py, roi_align
from torchvision's own Python reference) before the detectors use them.

Run: python benchmarks/validate_torchvision.py [--models convnext_tiny swin_t ...] [--skip-large]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from estimator import profile  # noqa: E402
from estimator.counting import MetaInputError  # noqa: E402
from tests.torchvision_ops import SCHEMAS, nms_cpu  # noqa: E402

INPUT_SIZE = {"inception_v3": 299, "fcos_resnet50_fpn": 256}
"""Input side per model where the default (224; 320 for a detector) is not used: FCOS at 256 px leaves some
levels with no score above its threshold, a ``topk`` of an empty tensor."""
LARGE = ("vit_h_14", "regnet_y_128gf", "vit_l_16", "vit_l_32", "regnet_y_32gf")
"""The largest models (3-16 s each on 2 CPU cores, several GiB of memory; left out with --skip-large)."""
LIBRARY: torch.library.Library | None = None
STRICT_REAL = {"convnext_tiny": "classification", "swin_t": "classification", "fcn_resnet50": "segmentation",
               "fasterrcnn_mobilenet_v3_large_320_fpn": "detection", "fcos_resnet50_fpn": "detection",
               "ssdlite320_mobilenet_v3_large": "detection"}


def import_torchvision():
    """torchvision with its own C++ ops where they load (a build matching torch, e.g. 0.29.1 with torch 2.14.1);
    else with its nms and roi_align ops defined in pure PyTorch (the library is kept on the module: a collected
    ``Library`` takes its ops with it)."""
    global LIBRARY
    try:
        import torchvision

        if torchvision.extension._has_ops():
            return torchvision
    except RuntimeError:  # "operator torchvision::nms does not exist": the extension does not match torch
        pass
    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]
    LIBRARY = library = torch.library.Library("torchvision", "DEF")
    for schema in SCHEMAS.values():
        library.define(schema)
    import torchvision

    roi_module = sys.modules["torchvision.ops.roi_align"]
    library.impl("nms", nms_cpu, "CPU")
    library.impl("roi_align", lambda *args: roi_module._roi_align(*args), "CPU")
    for module in (torchvision.extension, roi_module, torchvision.ops.boxes):
        module._has_ops = lambda: True
        module._assert_has_ops = lambda: None
    return torchvision


def meta_equals_real(model, shape) -> str:
    real = profile(model, torch.randn(shape))
    meta = profile(model, input_shape=shape, densities=real.densities())  # (the measured densities)
    try:
        pd.testing.assert_frame_equal(real.layers, meta.layers)
        pd.testing.assert_frame_equal(real.nests, meta.nests)
    except AssertionError as error:
        return "DIFFERS: " + str(error).strip().splitlines()[0]
    flagged = f"; unsupported: {', '.join(real.unsupported)}" if real.unsupported else ""
    return f"identical ({real.total()['macs'] / 1e9:.3f} GMAC, {len(real.layers)} rows){flagged}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", help="classification models to check (default: all)")
    parser.add_argument("--skip-large", action="store_true", help=f"leave out {', '.join(LARGE)}")
    args = parser.parse_args()
    torchvision = import_torchvision()
    names = args.models or torchvision.models.list_models(module=torchvision.models)
    if args.skip_large:
        names = [n for n in names if n not in LARGE]
    failures = []
    for name in names:
        start = time.perf_counter()
        model = torchvision.models.get_model(name, weights=None).eval()
        side = INPUT_SIZE.get(name, 224)
        result = meta_equals_real(model, (1, 3, side, side))
        print(f"{name:36s} {result}  [{time.perf_counter() - start:.1f} s]", flush=True)
        if not result.startswith("identical") or "unsupported" in result:
            failures.append(name)
    for name, family in STRICT_REAL.items():
        backbone = {} if family == "classification" else {"weights_backbone": None}
        model = torchvision.models.get_model(name, weights=None, **backbone).eval()
        side = INPUT_SIZE.get(name, 320 if family == "detection" else 224)
        try:  # a detector iterates over the batch as its list of images
            prof = profile(model, torch.randn(1, 3, side, side), strict=True)
            print(f"strict, real input: {name:40s} ok ({prof.total()['macs'] / 1e9:.3f} GMAC)")
        except Exception as error:  # noqa: BLE001  (a validation report)
            print(f"strict, real input: {name:40s} FAILED: {str(error).splitlines()[0]}")
            failures.append(f"{name} (strict)")
    detector = torchvision.models.detection.fasterrcnn_mobilenet_v3_large_320_fpn(weights=None,
                                                                                  weights_backbone=None).eval()
    try:
        profile(detector, input_shape=(1, 3, 320, 320))
        print("detector on meta: FAILED: no error")
        failures.append("detector on meta")
    except MetaInputError as error:
        message = str(error)
        ok = "nonzero" in message and len(message.splitlines()) == 1
        print(f"detector on meta: {'ok' if ok else 'FAILED'}: {message}")
        if not ok:
            failures.append("detector on meta")
    print(f"\n{len(names)} classification models checked; failures: {', '.join(failures) or 'none'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
