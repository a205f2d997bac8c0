"""torchvision's ``nms`` and ``roi_align`` ops for the tests, without torchvision.

No torchvision build for this CPU torch loads its compiled extension, so the tests define the two ops here under
torchvision's own names and schemas (``torchvision::nms``, ``torchvision::roi_align``), with pure-PyTorch kernels:
the counter sees exactly the op a torchvision detector issues. ``roi_align`` also gets a meta kernel (its output
shape is fixed by its inputs' shapes) and no gradient; ``nms`` cannot have a meta kernel (how many boxes survive
depends on the values).
"""

from __future__ import annotations

import torch

SCHEMAS = {
    "nms": "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms": "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "roi_align": "roi_align(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height, "
                 "SymInt pooled_width, int sampling_ratio, bool aligned) -> Tensor",
}
LIBRARY: torch.library.Library | None = None


def nms_cpu(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Indices of the boxes kept by greedy non-maximum suppression, highest score first (torchvision's rule)."""
    order = scores.argsort(descending=True)
    boxes = boxes[order]
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep, suppressed = [], torch.zeros(len(order), dtype=torch.bool)
    for i in range(len(order)):
        if suppressed[i]:
            continue
        keep.append(i)
        top_left = torch.maximum(boxes[i, :2], boxes[i + 1:, :2])
        bottom_right = torch.minimum(boxes[i, 2:], boxes[i + 1:, 2:])
        inter = (bottom_right - top_left).clamp(min=0).prod(dim=1)
        suppressed[i + 1:] |= inter / (area[i] + area[i + 1:] - inter) > iou_threshold
    return order[torch.tensor(keep, dtype=torch.long)]


def roi_align_cpu(x: torch.Tensor, rois: torch.Tensor, spatial_scale: float, pooled_height: int, pooled_width: int,
                  sampling_ratio: int, aligned: bool) -> torch.Tensor:
    """RoIAlign (He et al. 2017) with ``sampling_ratio`` x ``sampling_ratio`` bilinear samples per bin (2 when the
    ratio is adaptive), rois as (batch index, x1, y1, x2, y2) rows."""
    samples = sampling_ratio if sampling_ratio > 0 else 2
    offset = 0.5 if aligned else 0.0
    height, width = x.shape[-2:]
    out = x.new_zeros(rois.shape[0], x.shape[1], pooled_height, pooled_width)
    for r, (index, x1, y1, x2, y2) in enumerate(rois.tolist()):
        x1, y1, x2, y2 = (v * spatial_scale - offset for v in (x1, y1, x2, y2))
        bin_h, bin_w = max(y2 - y1, 1e-6) / pooled_height, max(x2 - x1, 1e-6) / pooled_width
        steps = (torch.arange(samples, dtype=x.dtype) + 0.5) / samples
        ys = (y1 + (torch.arange(pooled_height, dtype=x.dtype)[:, None] + steps) * bin_h).clamp(0, height - 1)
        xs = (x1 + (torch.arange(pooled_width, dtype=x.dtype)[:, None] + steps) * bin_w).clamp(0, width - 1)
        y0, x0 = ys.floor().long(), xs.floor().long()
        y1i, x1i = (y0 + 1).clamp(max=height - 1), (x0 + 1).clamp(max=width - 1)
        ly, lx = ys - y0, xs - x0
        image = x[int(index)]
        for ph in range(pooled_height):
            for pw in range(pooled_width):
                value = 0
                for a in range(samples):
                    for b in range(samples):
                        yy0, yy1, xx0, xx1 = y0[ph, a], y1i[ph, a], x0[pw, b], x1i[pw, b]
                        wy, wx = ly[ph, a], lx[pw, b]
                        value = value + (image[:, yy0, xx0] * (1 - wy) * (1 - wx) + image[:, yy0, xx1] * (1 - wy) * wx
                                         + image[:, yy1, xx0] * wy * (1 - wx) + image[:, yy1, xx1] * wy * wx)
                out[r, :, ph, pw] = value / (samples * samples)
    return out


def roi_align_meta(x, rois, spatial_scale, pooled_height, pooled_width, sampling_ratio, aligned):
    return x.new_empty((rois.shape[0], x.shape[1], pooled_height, pooled_width))


def install() -> None:
    """Define ``torchvision::nms`` and ``torchvision::roi_align`` (once per process) unless they already exist."""
    global LIBRARY
    if LIBRARY is not None or hasattr(torch.ops.torchvision, "nms"):
        return
    LIBRARY = torch.library.Library("torchvision", "DEF")
    for schema in SCHEMAS.values():
        LIBRARY.define(schema)
    LIBRARY.impl("nms", nms_cpu, "CPU")
    LIBRARY.impl("roi_align", roi_align_cpu, "CPU")
    LIBRARY.impl("roi_align", roi_align_meta, "Meta")
    LIBRARY.impl("roi_align", torch.library.fallthrough_kernel, "Autograd")  # its gradient is not modelled


def nms(boxes, scores, iou_threshold):
    install()
    return torch.ops.torchvision.nms(boxes, scores, iou_threshold)


def roi_align(x, rois, output_size: int, spatial_scale: float = 1.0, sampling_ratio: int = 2, aligned=True):
    install()
    return torch.ops.torchvision.roi_align(x, rois, spatial_scale, output_size, output_size, sampling_ratio, aligned)
