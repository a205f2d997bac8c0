"""The inputs of a counting run: tensors a user gives (positional or by keyword), or meta tensors made from shapes
and dtypes, parsed once here into ``(args, kwargs)``.

A shape stands for a floating-point input of the model's own precision (the dtype of its first floating-point
parameter, so that a bf16 or fp16 model needs nothing more); a :class:`TensorSpec` names a dtype, e.g. integer
token ids for an embedding. Several inputs are a list (positional) or a dict (keyword arguments, e.g.
``{"input_ids": ..., "decoder_input_ids": ...}`` for an encoder-decoder).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from hwmodels.errors import UserError


@dataclass(frozen=True)
class TensorSpec:
    """One input as a shape and a dtype, made as a meta tensor (no values: counts depend on shapes only).

    Attributes:
        shape: sizes, e.g. ``(1, 128)``.
        dtype: e.g. ``torch.long`` for token ids; None: the model's floating-point precision.
    """

    shape: tuple[int, ...]
    dtype: torch.dtype | None = None

    def __post_init__(self):
        shape = tuple(self.shape)
        if not shape or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in shape):
            raise UserError(f"input shape must be positive integers, e.g. (1, 3, 32, 32); got {shape}")
        if self.dtype is not None and not isinstance(self.dtype, torch.dtype):
            raise UserError(f"input dtype must be a torch.dtype such as torch.long; got {self.dtype!r}")
        object.__setattr__(self, "shape", shape)

    def tensor(self, default: torch.dtype, device: str = "meta") -> torch.Tensor:
        return torch.empty(self.shape, dtype=self.dtype or default, device=device)


def model_dtype(model: nn.Module) -> torch.dtype:
    """The dtype of the model's first floating-point parameter or buffer (float32 when it has none)."""
    for tensor in (*model.parameters(), *model.buffers()):
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.float32


def is_shape(value) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str) and all(isinstance(d, int) for d in value)


def spec_of(value, dtype: torch.dtype | None) -> TensorSpec:
    """A :class:`TensorSpec` from a shape or a spec; ``dtype`` applies to a plain shape."""
    if isinstance(value, TensorSpec):
        return value
    if is_shape(value):
        return TensorSpec(tuple(value), dtype)
    raise UserError(f"input_shape entries must be shapes like (1, 3, 32, 32) or TensorSpec(shape, dtype); got "
                    f"{value!r}")


def run_inputs(model: nn.Module, inputs=None, input_shape=None, dtype: torch.dtype | None = None
               ) -> tuple[tuple, dict, bool]:
    """``(args, kwargs, meta)`` of the run: the given tensors (a tensor, a tuple/list of them, or a dict of keyword
    inputs), or meta tensors made from ``input_shape`` (a shape, a :class:`TensorSpec`, a list of them, or a dict of
    them); ``dtype`` sets the dtype of plain shapes (default: :func:`model_dtype`)."""
    if (inputs is None) == (input_shape is None):
        raise UserError("profile() needs exactly one of inputs= (tensors) or input_shape= (a shape)")
    if inputs is not None:
        if isinstance(inputs, Mapping):
            return (), dict(inputs), False
        return (tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)), {}, False
    default = dtype or model_dtype(model)
    if isinstance(input_shape, Mapping):
        return (), {name: spec_of(v, dtype).tensor(default) for name, v in input_shape.items()}, True
    several = not isinstance(input_shape, TensorSpec) and not is_shape(input_shape)
    specs = [spec_of(v, dtype) for v in (input_shape if several else [input_shape])]
    return tuple(spec.tensor(default) for spec in specs), {}, True
