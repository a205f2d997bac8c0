"""One run of a model under a TorchDispatchMode, with every aten op attributed to its innermost module.

Attribution uses global module hooks (installed for the duration of the run and removed after it) and,
for backward, gradient hooks on each module's inputs and outputs, so nothing is left on the user's
modules. Ops are priced by :mod:`estimator.counting.formulas` from shapes only.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.autograd.graph import register_multi_grad_hook
from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from . import formulas, shiftadd  # noqa: F401  (register the op formulas)
from .registry import COUNT_KINDS, FORMULAS, FREE_OPS, OpCount
from .weights import WeightInfo

ROOT = "(root)"
"""Row name of work done directly in the top-level module's forward (its fully-qualified name is "")."""

BOOKKEEPING = "(bookkeeping)"
"""Stack name of modules whose work is not model work (parametrizations such as masks); their outputs
are weights."""


class UnsupportedOpError(RuntimeError):
    """Raised in strict mode for an op the counter has no formula for."""


class ModuleStack:
    """Tracks which modules are running, forward and backward; the innermost known one is on top.

    Backward entry/exit comes from gradient hooks: a module is entered when its outputs' gradients are
    ready and left when its inputs' gradients are. Hooks on one tensor fire in registration order (inner
    modules first), so :meth:`push` keeps an ancestor below its descendants already on the stack.
    """

    def __init__(self, names: dict[nn.Module, str]):
        self.names = names
        self.stack: list[str] = []
        self.calls: list[dict[int, object]] = []  # per running forward: input id -> its grad_fn
        self.handles: list = []

    @property
    def current(self) -> str:
        return self.stack[-1] if self.stack else ROOT

    @staticmethod
    def encloses(outer: str, inner: str) -> bool:
        return outer == ROOT or inner.startswith(outer + ".")

    def push(self, name: str) -> None:
        i = len(self.stack)
        while i > 0 and self.encloses(name, self.stack[i - 1]):
            i -= 1
        self.stack.insert(i, name)

    def pop(self, name: str) -> None:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i] == name:
                del self.stack[i]
                return

    @staticmethod
    def grad_tensors(values) -> list[torch.Tensor]:
        if not torch.is_grad_enabled():  # inference: no backward to track
            return []
        flat, _ = tree_flatten(values)
        return [t for t in flat if isinstance(t, torch.Tensor) and t.requires_grad]

    def pre_hook(self, module, args) -> None:
        name = self.names.get(module)
        if name is None:
            return
        self.push(name)
        tensors = self.grad_tensors(args)
        self.calls.append({id(t): t.grad_fn for t in tensors})
        if tensors:  # backward leaves the module once its inputs' gradients are done
            self.handles.append(register_multi_grad_hook(tensors, lambda grads, n=name: self.pop(n)))

    def post_hook(self, module, args, output) -> None:
        name = self.names.get(module)
        if name is None:
            return
        self.pop(name)
        inputs = self.calls.pop()
        # an output that is an input passed through untouched (identity modules) has no backward of its own
        tensors = [t for t in self.grad_tensors(output) if inputs.get(id(t), False) is not t.grad_fn]
        if tensors:  # backward enters the module when its outputs' gradients are ready
            self.handles.append(register_multi_grad_hook(tensors, lambda grads, n=name: self.push(n)))

    def __enter__(self) -> ModuleStack:
        self.handles += [register_module_forward_pre_hook(self.pre_hook),
                         register_module_forward_hook(self.post_hook)]
        return self

    def __exit__(self, *exc) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles.clear()
        self.stack.clear()
        self.calls.clear()


@dataclass
class LayerTally:
    """Shape-derived counts accumulated for one module (one row of the profile).

    Forward ops that multiply by a layer's weight (conv/linear/matmul) are kept apart in ``weighted``, as
    (count, weight elements) pairs, so that their value-aware form (zero skipping, shift-add arithmetic) can
    be derived from any weights of the same shapes by :meth:`forward_counts`, without re-running the model.
    """

    forward: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNT_KINDS, 0))
    backward: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNT_KINDS, 0))
    weighted: list[tuple[OpCount, int]] = field(default_factory=list)
    in_elems: int = 0
    out_elems: int = 0

    def forward_counts(self, info: WeightInfo | None) -> tuple[dict[str, int], int]:
        """Forward counts of every kind and the zero-skipping MACs, given the module's weight ``info``."""
        counts = dict(self.forward)
        nz_macs = self.forward["macs"]
        for count, weight_numel in self.weighted:
            adjusted, nz = apply_weight_info(count, info, weight_numel)
            for kind in COUNT_KINDS:
                counts[kind] += getattr(adjusted, kind)
            nz_macs += nz
        return counts, nz_macs


SHAPE_PRESERVING_ON_META = frozenset(
    getattr(torch.ops.aten, n) for n in (
        "hardtanh", "hardtanh_", "clamp", "clamp_", "hardswish", "hardswish_", "hardsigmoid", "hardsigmoid_",
        "silu", "silu_", "gelu", "leaky_relu", "leaky_relu_", "elu", "elu_", "sigmoid", "tanh",
        "_native_batch_norm_legit_no_training", "native_batch_norm") if hasattr(torch.ops.aten, n))
"""Ops whose output has their first input's shape and whose meta kernels are slow Python decompositions;
on meta inputs the counter makes their outputs directly (the counts only need shapes)."""


def run_on_meta(func, args, kwargs):
    """Output of ``func`` on meta tensors, skipping the slow meta kernels of shape-preserving ops."""
    packet = func.overloadpacket
    x = args[0] if args else None
    if packet not in SHAPE_PRESERVING_ON_META or not isinstance(x, torch.Tensor) or x.device.type != "meta":
        return func(*args, **kwargs)
    if packet is torch.ops.aten.native_batch_norm and args[5]:  # training: batch statistics are real outputs
        return func(*args, **kwargs)
    if packet in (torch.ops.aten._native_batch_norm_legit_no_training, torch.ops.aten.native_batch_norm):
        return torch.empty_like(x), x.new_empty(0), x.new_empty(0)  # output, unused saved statistics
    return x if func._schema.name.endswith("_") else torch.empty_like(x)


def shape_of(x):
    """A tensor's shape; lists/tuples element-wise; anything else unchanged (one level, like aten args)."""
    if isinstance(x, torch.Tensor):
        return x.shape
    if isinstance(x, (list, tuple)) and x and isinstance(x[0], torch.Tensor):
        return type(x)(t.shape if isinstance(t, torch.Tensor) else t for t in x)
    return x


def tensors_in(values):
    """The tensors among aten arguments or outputs (top level and inside lists/tuples)."""
    for v in values:
        if isinstance(v, torch.Tensor):
            yield v
        elif isinstance(v, (list, tuple)):
            yield from (t for t in v if isinstance(t, torch.Tensor))


def apply_weight_info(count: OpCount, info: WeightInfo | None, weight_numel: int) -> tuple[OpCount, int]:
    """Value-aware adjustment of a weighted op (conv/linear/matmul) issued by a module with ``info``.

    Returns the (possibly shift-add) count and the zero-skipping MACs. Each weight element is applied
    ``positions = macs / numel`` times; skipping zeros leaves ``positions * nnz`` MACs. A shift-add layer
    computes each output of channel o with (sum of CSD terms over its non-zero taps - 1) adds, plus one
    add for a bias, and one shift per term with a non-zero exponent, and no multiplications.
    NB: for a transposed conv, whose outputs gather a varying number of taps, this is an estimate.
    """
    if info is None or count.macs == 0 or weight_numel != info.numel:
        return count, count.macs
    positions = count.macs // info.numel
    nz_macs = positions * info.nnz
    if not info.shift_add:
        return count, nz_macs
    bias_adds = count.adds - count.macs
    adds = positions * info.csd_adds + bias_adds
    shifted = OpCount(macs=count.macs, mults=0, adds=adds, shifts=positions * info.csd_shifts,
                      weight_arg=count.weight_arg)
    return shifted, nz_macs


class CountingMode(TorchDispatchMode):
    """Counts every aten op into the tally of the innermost module issuing it (shapes only; the weights'
    values enter when the profile's rows are built)."""

    def __init__(self, stack: ModuleStack, weights: set[int], strict: bool):
        super().__init__()
        self.stack = stack
        self.weight_ids = set(weights)
        self.derived_weights: dict[int, torch.Tensor] = {}  # views of weights, held so ids stay unique
        self.tallies: dict[str, LayerTally] = defaultdict(LayerTally)
        self.unsupported: dict[str, dict] = {}
        self.free_seen: set[str] = set()
        self.strict = strict
        self.backward = False

    def is_weight(self, t) -> bool:
        return isinstance(t, torch.Tensor) and (id(t) in self.weight_ids or id(t) in self.derived_weights)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = run_on_meta(func, args, kwargs)
        packet = func.overloadpacket
        name = self.stack.current
        if name == BOOKKEEPING:  # e.g. weight * mask inside a parametrization: what it makes is a weight
            self.mark_weights(out)
            return out
        if packet in FREE_OPS:
            self.free_seen.add(str(packet))
            if args and self.is_weight(args[0]):  # a view of a weight is still a weight
                self.mark_weights(out)
            return out
        formula = FORMULAS.get(packet)
        if formula is None:
            self.record_unsupported(str(packet), name)
            return out
        if func._schema.name.endswith("_") and args and id(args[0]) in self.weight_ids:
            return out  # in-place update of a buffer (e.g. BN's num_batches_tracked): bookkeeping
        count = formula(*[shape_of(a) for a in args], out_shape=shape_of(out),
                        **{k: shape_of(v) for k, v in kwargs.items()})
        tally = self.tallies[name]
        weighted = count.weight_arg is not None and len(args) > count.weight_arg and count.macs > 0
        if weighted and not self.backward:
            tally.weighted.append((count, args[count.weight_arg].numel()))
        else:
            target = tally.backward if self.backward else tally.forward
            for kind in COUNT_KINDS:
                target[kind] += getattr(count, kind)
        if not self.backward:
            tally.in_elems += sum(t.numel() for t in tensors_in(args) if not self.is_weight(t))
            primary = out if isinstance(out, torch.Tensor) else next(tensors_in(out), None)
            tally.out_elems += primary.numel() if primary is not None else 0  # not auxiliary outputs
        return out

    def mark_weights(self, out) -> None:
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                self.derived_weights[id(t)] = t

    def record_unsupported(self, op: str, module_name: str) -> None:
        if self.strict:
            raise UnsupportedOpError(f"no formula for op {op} (issued by module '{module_name}'); "
                                     "register one with estimator.counting.register")
        entry = self.unsupported.setdefault(op, {"count": 0, "modules": set()})
        entry["count"] += 1
        entry["modules"].add(module_name)
