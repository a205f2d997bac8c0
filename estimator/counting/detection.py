"""Formulas of torchvision's detection ops, registered by qualified name (torchvision is never imported here).

Conventions, stated where the shapes do not fix the work:

* ``torchvision::nms`` over N boxes: sorting the scores (N * ceil(log2 N) compares), each box's area (2 adds,
  1 mult), and an IoU test for every pair, an upper bound (suppressed boxes are skipped at run time): the
  intersection's corners (4 compares), its width and height (2 adds) clamped at zero (2 compares), its area
  (1 mult), the union a + b - inter (2 adds) and inter > threshold x union (1 mult, 1 compare). Marked as an
  estimate.
* ``torchvision::roi_align`` with output (K, C, PH, PW) and s x s samples per bin: per sample position (shared by
  the C channels) its coordinates and four bilinear weights (8 mults, 6 adds, 4 bounds compares); per output
  element s^2 bilinear samples (4 mults, 3 adds each) averaged (s^2 - 1 adds, 1 mult). With an adaptive
  sampling ratio (<= 0) the number of samples depends on the boxes; 2 x 2 is assumed (torchvision's detectors
  use 2) and the count is marked as an estimate.
* ``torchvision::roi_pool``: a max over each bin; bins are assumed to hold 2 x 2 input elements (an estimate).
"""

from __future__ import annotations

import math

from .formulas import first, numel
from .registry import OpCount, register

ASSUMED_SAMPLES = 2
"""Samples per bin side assumed when roi_align adapts them to the box sizes (torchvision's detectors use 2)."""


@register("torchvision::nms")
def nms_count(boxes, scores, iou_threshold, *, out_shape, **kwargs) -> OpCount:
    n = boxes[0]
    pairs = n * (n - 1) // 2
    sort = n * max(math.ceil(math.log2(max(n, 1))), 0)
    return OpCount(compares=sort + 7 * pairs, adds=2 * n + 4 * pairs, mults=n + 2 * pairs, estimate=True)


@register("torchvision::roi_align")
def roi_align_count(x, rois, spatial_scale, pooled_height, pooled_width, sampling_ratio, aligned, *, out_shape,
                    **kwargs) -> OpCount:
    samples = sampling_ratio if sampling_ratio > 0 else ASSUMED_SAMPLES
    per_bin = samples * samples
    bins = rois[0] * pooled_height * pooled_width
    outputs = numel(out_shape)
    return OpCount(mults=bins * per_bin * 8 + outputs * (4 * per_bin + 1),
                   adds=bins * per_bin * 6 + outputs * (3 * per_bin + per_bin - 1),
                   compares=bins * per_bin * 4, estimate=sampling_ratio <= 0)


@register("torchvision::roi_pool")
def roi_pool_count(x, rois, spatial_scale, pooled_height, pooled_width, *, out_shape, **kwargs) -> OpCount:
    # NB: estimate, bins of 2 x 2 inputs: 3 compares per output
    return OpCount(compares=3 * numel(first(out_shape)), estimate=True)
