"""Remembered meta outputs: the same metadata as running the op, only for functional ops."""

from __future__ import annotations

import torch

from estimator.counting import meta_outputs

aten = torch.ops.aten


def same_metadata(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and a.stride() == b.stride() and a.dtype == b.dtype and a.device == b.device


def test_a_repeated_call_is_rebuilt_with_the_ops_own_metadata():
    meta_outputs.OUTPUTS.clear()
    x = torch.empty(2, 197, 768, device="meta")
    w, b = torch.empty(768, device="meta"), torch.empty(768, device="meta")
    direct = aten.native_layer_norm.default(x, [768], w, b, 1e-6)  # (out, mean, rstd): (2,197,768), (2,197,1) x 2
    first = meta_outputs.run(aten.native_layer_norm.default, (x, [768], w, b, 1e-6), {})
    assert len(meta_outputs.OUTPUTS) == 1
    again = meta_outputs.run(aten.native_layer_norm.default, (torch.empty(2, 197, 768, device="meta"), [768], w, b,
                                                               1e-6), {})
    assert len(meta_outputs.OUTPUTS) == 1  # the same call: remembered, not run again
    assert isinstance(again, tuple) and len(again) == 3
    for d, f, a in zip(direct, first, again, strict=True):
        assert same_metadata(d, f) and same_metadata(d, a)
    assert again[1].shape == (2, 197, 1)
    assert again[0] is not first[0]  # a new tensor each time


def test_other_metadata_is_another_call():
    meta_outputs.OUTPUTS.clear()
    base = torch.empty(4, 8, 8, 16, device="meta")
    permuted = base.permute(0, 3, 1, 2)  # channels-last layout: its own strides
    for x in (base, permuted, base.double()):
        out = meta_outputs.run(aten.gelu.default, (x,), {})
        assert same_metadata(out, aten.gelu.default(x))
    assert len(meta_outputs.OUTPUTS) == 3
    meta_outputs.run(aten.gelu.default, (base,), {"approximate": "tanh"})  # another argument: another call
    assert len(meta_outputs.OUTPUTS) == 4


def test_views_and_in_place_ops_are_never_remembered():
    meta_outputs.OUTPUTS.clear()
    x = torch.empty(3, 4, device="meta")
    view = meta_outputs.run(aten.view.default, (x, [12]), {})
    assert view._base is x  # a view of its input, as the op makes it
    assert meta_outputs.run(aten.add_.Tensor, (x, 1.0), {}) is x  # in place: the input itself
    assert not meta_outputs.OUTPUTS


def test_the_default_dtype_is_part_of_the_call():
    meta_outputs.OUTPUTS.clear()
    ints = torch.empty(5, dtype=torch.int64, device="meta")
    assert meta_outputs.run(aten.div.Tensor, (ints, ints), {}).dtype == torch.float32  # true division
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        assert meta_outputs.run(aten.div.Tensor, (ints, ints), {}).dtype == torch.float64
    finally:
        torch.set_default_dtype(previous)


def test_a_real_tensor_argument_runs_the_op():
    meta_outputs.OUTPUTS.clear()
    x = torch.empty(3, device="meta")
    out = meta_outputs.run(aten.mul.Tensor, (x, torch.tensor(2.0)), {})  # a real 0-dim operand
    assert out.device.type == "meta" and not meta_outputs.OUTPUTS


def test_a_shape_preserving_meta_output_has_empty_likes_metadata():
    from estimator.counting.capture import meta_like

    cases = [torch.empty(2, 3, 4, 5, device="meta"),
             torch.empty(2, 3, 4, 5, device="meta").to(memory_format=torch.channels_last),  # strides (60, 1, 15, 3)
             torch.empty_strided((1, 3, 4), (1000, 4, 1), device="meta"),  # a size-1 dim's odd stride: (12, 4, 1)
             *(torch.empty(shape, device="meta").to(memory_format=torch.channels_last)  # both formats at once
               for shape in ((2, 1, 4, 5), (1, 3, 1, 1), (2, 3, 1, 1), (1, 1, 4, 4), (2, 3, 4, 1))),
             torch.empty((), device="meta"), torch.empty(7, device="meta"), torch.empty(2, 3, 4, 5, 6, device="meta"),
             torch.empty(4, 6, device="meta").t(),  # dense, not contiguous: empty_like itself (strides (1, 6))
             torch.empty(4, 6, device="meta")[:, ::2],  # not dense: empty_like's own layout
             torch.empty(3, dtype=torch.float16, device="meta")]
    for x in cases:
        assert same_metadata(meta_like(x), torch.empty_like(x)), (x.shape, x.stride())
