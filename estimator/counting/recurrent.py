"""Recurrent layers (``nn.LSTM``, ``nn.GRU``, ``nn.RNN``) counted in closed form, in time independent of the
sequence length, on meta and real inputs alike.

For each layer and direction, over its R rows (time steps x sequences): the input projection (R x G x H x I MACs,
G gates, H hidden units, I = the input size of the first layer and D x H above it) and the recurrent projection
(R x G x H x H), each with its bias add per output where the layer has biases; then per hidden unit and row the
cell as torch's reference kernel computes it:

* LSTM (G = 4): the two projections summed (4 adds), 3 sigmoids and 2 tanh (other ops), c = f c + i g (2 mults,
  1 add), h = o tanh(c) (1 mult);
* GRU (G = 3): r and z from the summed projections (2 adds, 2 sigmoids), n = tanh(x_n + r h_n) (1 mult, 1 add,
  1 tanh), h = n + z (h - n) (1 mult, 2 adds);
* RNN (G = 1): the projections summed (1 add) and tanh (1 other op) or ReLU (1 compare).

These equal the per-step count of the reference kernel on every column (tested), which this replaces for
inference: a real input runs the module as it is (oneDNN included), uncounted, and a meta input gets outputs of the
right shapes without stepping through time. A training step, a ``PackedSequence`` and an LSTM with ``proj_size``
keep the per-step count.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence

from .formulas import matmul_count, matmul_nest
from .registry import OpCount

CELLS = {"LSTM": (4, OpCount(mults=3, adds=5, other_ops=5)), "GRU": (3, OpCount(mults=2, adds=5, other_ops=3)),
         "RNN_TANH": (1, OpCount(adds=1, other_ops=1)), "RNN_RELU": (1, OpCount(adds=1, compares=1))}
"""Per recurrent mode: the gates and the work of one cell (one hidden unit, one row) beyond its projections."""
MODULES = (nn.LSTM, nn.GRU, nn.RNN)


def counts(module: nn.RNNBase, input_shape: torch.Size) -> list[tuple[OpCount, int]]:
    """(count, weight elements) of each projection, then the cells' work (weight elements 0), of ``module`` on an
    input of ``input_shape`` (batched or not)."""
    gates = CELLS[module.mode][0]
    rows = input_shape[0] * input_shape[1] if len(input_shape) == 3 else input_shape[0]
    hidden, directions = module.hidden_size, 2 if module.bidirectional else 1
    out = []
    for inner in projection_inputs(module.input_size, hidden, module.num_layers, directions):
        for _ in range(directions):
            macs, outputs = rows * gates * hidden * inner, rows * gates * hidden
            out.append((matmul_count(macs, outputs, module.bias, weight_arg=None,
                                     nests=(matmul_nest(1, rows, inner, gates * hidden),)), gates * hidden * inner))
    out.append((cell_work(module.mode, module.num_layers * directions * rows * hidden), 0))
    return out


def projection_inputs(input_size: int, hidden: int, layers: int, directions: int) -> list[int]:
    """The inner size of each projection in turn, per layer: its input (``input_size`` for the first layer, D x H
    above it), then its hidden state (H)."""
    return [size for layer in range(layers)
            for size in ((input_size if layer == 0 else directions * hidden), hidden)]


def cell_work(mode: str, cells: int) -> OpCount:
    """The element-wise work of ``cells`` cells (hidden units x rows) of a recurrent ``mode``, beyond the
    projections (:data:`CELLS`)."""
    cell = CELLS[mode][1]
    return OpCount(**{k: getattr(cell, k) * cells for k in ("mults", "adds", "compares", "other_ops")})


def meta_outputs(module: nn.RNNBase, input: torch.Tensor):
    """The outputs of ``module`` on a meta ``input``: the output sequence and the final state(s)."""
    directions = 2 if module.bidirectional else 1
    batched = input.dim() == 3
    sizes = list(input.shape[:-1]) + [directions * module.hidden_size]
    output = input.new_empty(sizes)
    state_shape = [directions * module.num_layers] + ([input.shape[0 if module.batch_first else 1]] if batched
                                                      else []) + [module.hidden_size]
    state = input.new_empty(state_shape)
    return (output, (state, input.new_empty(state_shape))) if module.mode == "LSTM" else (output, state)


def closed_form(module: nn.Module) -> bool:
    """Whether ``module`` is counted in closed form for inference (a plain LSTM, GRU or RNN)."""
    return type(module) in MODULES and not getattr(module, "proj_size", 0)


def install(modules: dict[nn.Module, str], record: Callable[[str, list[tuple[OpCount, int]]], None]) -> None:
    """Make every closed-form recurrent module among ``modules`` (a private copy's, module -> row name) count itself:
    its forward runs uncounted (real inputs) or gives empty outputs (meta inputs) and ``record`` gets its counts."""
    for module, name in modules.items():
        if closed_form(module):
            module.forward = counted_forward(module, name, module.forward, record)


def counted_forward(module: nn.RNNBase, name: str, original, record):
    """``module``'s forward counting itself in closed form into row ``name`` (``original``: its own forward)."""
    def forward(input, hx=None):
        if isinstance(input, PackedSequence):  # counted step by step, on the reference kernel real or meta
            with torch.backends.mkldnn.flags(enabled=False):
                return original(input, hx)
        with torch._C._DisableTorchDispatch():  # the module's own ops are not counted one by one
            out = meta_outputs(module, input) if input.device.type == "meta" else original(input, hx)
        record(name, counts(module, input.shape))
        return out

    return forward
