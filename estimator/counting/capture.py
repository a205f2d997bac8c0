"""One run of a model under a TorchDispatchMode, with every op attributed to its innermost module.

Attribution uses global module hooks (installed for the duration of the run and removed after it) and, for
backward, gradient hooks on each module's inputs and outputs, so nothing is left on the user's modules. Ops are
priced by the formulas of :mod:`estimator.counting.formulas` from shapes only. An op without a formula is
counted through its decomposition (``OpOverload.decompose`` or ``torch._decomp``), as torch's own counter does,
and only reported as unsupported when it has none.

Real and meta runs must give the same table, so the run takes PyTorch's reference kernels where the backends
would diverge: the math kernel of scaled dot-product attention, no fused fast path of ``nn.MultiheadAttention``
and ``nn.TransformerEncoderLayer``, and (for models with recurrent layers) no oneDNN RNN kernel. Tensor sizes
are recorded from what each module consumes and produces, not from the ops the backend chose.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.autograd.graph import register_multi_grad_hook
from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from hwmodels.errors import UserError

from . import activations, detection, formulas, meta_outputs, quantized, shiftadd  # noqa: F401  (+ formulas)
from .complex_arithmetic import in_real_operations
from .densities import NonzeroCounter, Tally
from .registry import COUNT_KINDS, FREE_OPS, Nest, OpCount, formula_for
from .weights import WeightInfo

ROOT = "(root)"
"""Row name of work done directly in the top-level module's forward (its fully-qualified name is "")."""

BOOKKEEPING = "(bookkeeping)"
"""Stack name of modules whose work is not model work (parametrizations such as masks); their outputs
are weights."""

VALUE_DEPENDENT_OPS = frozenset({"aten.nonzero", "aten.argwhere", "aten.masked_select", "aten.unique",
                                 "aten._unique2", "aten.unique_consecutive", "aten.unique_dim",
                                 "aten._local_scalar_dense", "aten.repeat_interleave", "aten.item",
                                 "torchvision.nms", "torchvision.batched_nms"})
"""Ops whose output shape (or value on the host) depends on tensor values: no meta result can exist."""


class UnsupportedOpError(UserError, RuntimeError):
    """Raised in strict mode for an op the counter has no formula for."""


class InputShapeError(UserError, RuntimeError):
    """A model that cannot run on the input it was given: a meta kernel's shape check failed (in torch's words, so
    meta and real inputs fail alike)."""


class MetaInputError(UserError):
    """An op that cannot run on meta tensors; the message names the op and the module, in one line."""


def tensors_of(value) -> list:
    """The tensors in a module's arguments or outputs: tensors, and tensors inside tuples, lists and dicts."""
    if isinstance(value, torch.Tensor):
        return [value]
    kind = type(value)
    if kind is tuple or kind is list:
        if all(isinstance(v, torch.Tensor) for v in value):
            return list(value)
        return [t for v in value for t in tensors_of(v)]
    if isinstance(value, dict):
        return [t for v in value.values() for t in tensors_of(v)]
    if value is None or kind in (int, float, bool, str):
        return []
    return [t for t in tree_flatten(value)[0] if isinstance(t, torch.Tensor)]


class ModuleStack:
    """Tracks which modules are running, forward and backward; the innermost known one is on top, and records
    the elements each module consumes and produces in forward.

    Backward entry/exit comes from gradient hooks: a module is entered when its outputs' gradients are
    ready and left when its inputs' gradients are. Hooks on one tensor fire in registration order (inner
    modules first), so :meth:`push` keeps an ancestor below its descendants already on the stack.
    """

    def __init__(self, names: dict[nn.Module, str], weight_ids: dict[int, torch.Tensor], backward: bool,
                 measure: bool = False):
        self.names = names
        self.weight_ids = weight_ids
        self.track_backward = backward
        self.measure = measure  # count the non-zeros of the activations (a real-input run)
        self.nonzeros: dict[str, Tally] = {}  # row name -> its activations' non-zeros over its calls
        self.counter = NonzeroCounter()
        self.stack: list[str] = []
        self.calls: list[dict[int, object]] = []  # per running forward: input id -> its grad_fn
        self.handles: list = []
        self.io: dict[str, list[int]] = {}  # row name -> [input elements, output elements] over its calls

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
    def grad_tensors(flat) -> list[torch.Tensor]:
        if not torch.is_grad_enabled():  # inference: no backward to track
            return []
        return [t for t in flat if t.requires_grad]

    def elements(self, flat) -> int:
        """Elements of the activation tensors among ``flat`` (parameters and buffers are not activations)."""
        return sum(t.numel() for t in self.activations(flat))

    def activations(self, flat) -> list[torch.Tensor]:
        """The activation tensors among ``flat`` (not parameters or buffers)."""
        return [t for t in flat if id(t) not in self.weight_ids]

    def pre_hook(self, module, args) -> None:
        name = self.names.get(module)
        if name is None:
            return
        if not self.track_backward:  # forward only: calls nest strictly
            self.stack.append(name)
            return
        self.push(name)
        tensors = self.grad_tensors(tensors_of(args))
        self.calls.append({id(t): t.grad_fn for t in tensors})
        if tensors:  # backward leaves the module once its inputs' gradients are done
            self.handles.append(register_multi_grad_hook(tensors, lambda grads, n=name: self.pop(n)))

    def post_hook(self, module, args, kwargs, output) -> None:
        name = self.names.get(module)
        if name is None:
            return
        flat_out = tensors_of(output)
        if name != BOOKKEEPING:
            io = self.io.get(name)
            if io is None:
                io = self.io[name] = [0, 0]
            flat_in = tensors_of(args) + (tensors_of(kwargs) if kwargs else [])
            io[0] += self.elements(flat_in)
            io[1] += self.elements(flat_out)
            if self.measure:
                tally = self.nonzeros.get(name)
                if tally is None:
                    tally = self.nonzeros[name] = Tally()
                tally.add(self.counter, self.activations(flat_in), self.activations(flat_out))
        if not self.track_backward:
            self.stack.pop()
            return
        self.pop(name)
        inputs = self.calls.pop()
        # an output that is an input passed through untouched (identity modules) has no backward of its own
        tensors = [t for t in self.grad_tensors(flat_out) if inputs.get(id(t), False) is not t.grad_fn]
        if tensors:  # backward enters the module when its outputs' gradients are ready
            self.handles.append(register_multi_grad_hook(tensors, lambda grads, n=name: self.push(n)))

    def __enter__(self) -> ModuleStack:
        self.handles += [register_module_forward_pre_hook(self.pre_hook),
                         register_module_forward_hook(self.post_hook, with_kwargs=True)]
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
    (count, weight elements) pairs, so that their value-aware form (zero skipping, padding-aware zero skipping,
    shift-add arithmetic) can be derived from any weights of the same shapes by :meth:`forward_counts`, without
    re-running the model. ``nests`` counts the calls of each distinct multiply-accumulate loop nest.
    """

    forward: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNT_KINDS, 0))
    backward: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNT_KINDS, 0))
    weighted: list[tuple[OpCount, int]] = field(default_factory=list)
    nests: Counter = field(default_factory=Counter)
    decomposed: set[str] = field(default_factory=set)
    estimated: set[str] = field(default_factory=set)

    def forward_counts(self, info: WeightInfo | None) -> tuple[dict[str, int], int, int]:
        """Forward counts of every kind, the zero-skipping MACs and the padding-aware zero-skipping MACs, given
        the module's weight ``info``."""
        counts = dict(self.forward)
        nz_macs = nz_valid = self.forward["macs"]
        for count, weight_numel in self.weighted:
            adjusted, nz, valid = apply_weight_info(count, info, weight_numel)
            for kind in COUNT_KINDS:
                counts[kind] += getattr(adjusted, kind)
            nz_macs += nz
            nz_valid += valid
        return counts, nz_macs, nz_valid

    def backward_nz_macs(self, info: WeightInfo | None) -> int:
        """Backward MACs left when zero weights are skipped in input gradients and the gradients of weights
        masked by a pre-defined pattern are not computed (see :mod:`estimator.counting.weights`)."""
        return self.backward["macs"] - sum(calls * skipped_macs(nest, info) for nest, calls in self.nests.items()
                                           if nest.role != "forward")


def skipped_macs(nest: Nest, info: WeightInfo | None) -> int:
    """MACs of one call of ``nest`` that zero skipping removes: the products with zero weights (forward and input
    gradient), and the gradients of weights that a pre-defined pattern masks (weight gradient; a pattern found
    only after training, e.g. by pruning, is computed dense)."""
    if info is None or weight_elements(nest) != info.numel:
        return 0
    if nest.role in ("forward", "grad_input") or (nest.role == "grad_weight" and info.predefined):
        return nest.macs - nest.macs // info.numel * info.nnz
    return 0


def weight_elements(nest: Nest) -> int:
    """Elements of the layer weight a nest involves: its W operand, or for a weight gradient computed as a matmul,
    its result."""
    if nest.kind == "conv" or nest.role in ("forward", "grad_input"):
        return nest.G * nest.K * nest.C * nest.FY * nest.FX
    return nest.G * nest.B * nest.K


def apply_weight_info(count: OpCount, info: WeightInfo | None, weight_numel: int) -> tuple[OpCount, int, int]:
    """Value-aware adjustment of a weighted op (conv/linear/matmul) issued by a module with ``info``.

    Returns the (possibly shift-add) count, the zero-skipping MACs and the padding-aware zero-skipping MACs. Each
    weight element is applied ``positions = macs / numel`` times; skipping zeros leaves ``positions * nnz``
    MACs; skipping the taps that fall on padding too leaves, per kernel position, its non-zeros times the
    positions where it meets a real input element. A shift-add layer computes each output of channel o with
    (sum of CSD terms over its non-zero taps - 1) adds, plus one add for a bias, and one shift per term with a
    non-zero exponent, and no multiplications.
    NB: for a transposed conv, whose outputs gather a varying number of taps, the shift-add count is an estimate.
    """
    if info is None or count.macs == 0 or weight_numel != info.numel:
        return count, count.macs, count.macs
    positions = count.macs // info.numel
    nz_macs = positions * info.nnz
    if count.tap_positions and len(count.tap_positions) == len(info.nnz_per_tap):
        nz_valid = sum(n * p for n, p in zip(info.nnz_per_tap, count.tap_positions, strict=True))
    else:
        nz_valid = nz_macs
    if not info.shift_add:
        return count, nz_macs, nz_valid
    bias_adds = count.adds - (count.macs - positions * info.out_channels)  # adds beyond the K-1 per output
    adds = positions * info.csd_adds + bias_adds
    shifted = OpCount(macs=count.macs, mults=0, adds=adds, shifts=positions * info.csd_shifts,
                      weight_arg=count.weight_arg)
    return shifted, nz_macs, nz_valid


aten = torch.ops.aten

SHAPE_PRESERVING_ON_META = frozenset(
    getattr(aten, n) for n in (
        "hardtanh_", "clamp", "clamp_", "hardswish", "hardswish_", "hardsigmoid", "hardsigmoid_",
        "silu", "silu_", "gelu", "leaky_relu", "leaky_relu_", "elu", "elu_", "sigmoid", "tanh",
        "relu", "relu_", "hardtanh", "_native_batch_norm_legit_no_training", "native_batch_norm", "sigmoid_",
        "tanh_") if hasattr(aten, n))
"""Ops whose output has their first input's shape and whose meta kernels are slow Python decompositions;
on meta inputs the counter makes their outputs directly (the counts only need shapes)."""
BINARY_ON_META = frozenset(getattr(aten, n) for n in ("add", "add_", "sub", "sub_", "mul", "mul_") if hasattr(aten, n))
"""Elementwise binary ops whose meta kernels are Python references (an LSTM cell issues thousands); on meta inputs
the counter makes their outputs from the broadcast shape and the promoted dtype."""


def conv_output(x: torch.Tensor, w: torch.Tensor, stride, padding, dilation, transposed, output_padding,
                groups) -> torch.Tensor:
    """A meta convolution's output, from the closed-form output size (skips the slow Python meta kernel), with the
    checks the kernel would make."""
    expected = w.shape[0] if transposed else w.shape[1] * groups
    if x.dim() != w.dim() or x.shape[1] != expected:
        raise InputShapeError(f"convolution expected input with {expected} channels and {w.dim()} dimensions, "
                           f"got input of shape {list(x.shape)}")
    sizes = []
    for i, n in enumerate(x.shape[2:]):
        k, s, p, d = w.shape[2 + i], stride[i], padding[i], dilation[i]
        if transposed:
            sizes.append((n - 1) * s - 2 * p + d * (k - 1) + output_padding[i] + 1)
        else:
            sizes.append((n + 2 * p - d * (k - 1) - 1) // s + 1)
    if min(sizes) < 1:
        raise InputShapeError(f"convolution output size {sizes} is too small for input of shape {list(x.shape)}")
    channels = w.shape[1] * groups if transposed else w.shape[0]
    return torch.empty((x.shape[0], channels, *sizes), dtype=x.dtype, device="meta")


def pool_size(n: int, kernel: int, stride: int, padding: int, dilation: int, ceil_mode: bool) -> int:
    """Output size of a max-pool window sweep along one dimension (torch's rule)."""
    span = n + 2 * padding - dilation * (kernel - 1) - 1 + (stride - 1 if ceil_mode else 0)
    size = span // stride + 1
    if ceil_mode and (size - 1) * stride >= n + padding:
        size -= 1
    return size


def max_pool_output(x: torch.Tensor, kernel, stride=(), padding=0, dilation=1, ceil_mode=False):
    """A meta 2-D max-pool's values and indices, from the closed-form output size."""
    kernel, padding, dilation = (v if isinstance(v, (list, tuple)) else [v] for v in (kernel, padding, dilation))
    stride = stride or kernel
    sizes = [pool_size(x.shape[2 + i], kernel[i % len(kernel)], stride[i % len(stride)], padding[i % len(padding)],
                       dilation[i % len(dilation)], ceil_mode) for i in range(2)]
    if min(sizes) < 1:
        raise InputShapeError(f"max_pool2d output size {sizes} is too small for input of shape {list(x.shape)}")
    shape = (*x.shape[:2], *sizes)
    return (torch.empty(shape, dtype=x.dtype, device="meta"), torch.empty(shape, dtype=torch.int64, device="meta"))


def matmul_output(packet, args) -> torch.Tensor | None:
    """A meta matrix product's output from its operands' shapes (the meta kernels are Python decompositions)."""
    if packet is aten.mm:
        a, b = args
    elif packet is aten.addmm:
        a, b = args[1], args[2]
    elif packet in (aten.bmm, aten.baddbmm):
        a, b = args if packet is aten.bmm else args[1:3]
        if a.dim() != 3 or b.dim() != 3 or a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
            raise InputShapeError(f"batch1 and batch2 shapes cannot be multiplied ({list(a.shape)} and "
                                  f"{list(b.shape)})")
        return torch.empty((a.shape[0], a.shape[1], b.shape[2]), dtype=a.dtype, device="meta")
    else:
        return None
    if a.dim() != 2 or b.dim() != 2 or a.shape[1] != b.shape[0]:
        raise InputShapeError(f"mat1 and mat2 shapes cannot be multiplied ({list(a.shape)} and {list(b.shape)})")
    return torch.empty((a.shape[0], b.shape[1]), dtype=a.dtype, device="meta")


MATMULS = frozenset({aten.mm, aten.addmm, aten.bmm, aten.baddbmm})


def run_on_meta(func, args, kwargs):
    """Output of ``func`` on meta tensors, skipping the slow meta kernels of convolutions, matrix products and
    shape-preserving ops (on contiguous inputs of one dtype; the counts only need shapes), and any other functional
    op's after its first call on inputs of the same metadata (:mod:`.meta_outputs`)."""
    packet = func.overloadpacket
    x = args[0] if args else None
    if not isinstance(x, torch.Tensor) or x.device.type != "meta":
        return func(*args, **kwargs)
    made = quantized.meta_output(packet, args)
    if made is not None:
        return made
    if packet in SHAPE_PRESERVING_ON_META and not x.is_contiguous():  # e.g. an LSTM's gates, chunks of one tensor
        return shape_preserving_output(func, args, kwargs, x)
    if packet in BINARY_ON_META:
        return binary_output(func, args, kwargs, x)
    if not x.is_contiguous():
        return meta_outputs.run(func, args, kwargs)
    if packet is aten.convolution and len(args) == 9:
        return conv_output(*args[:2], *args[3:])
    if packet is aten.max_pool2d_with_indices and x.dim() == 4 and not kwargs:
        return max_pool_output(*args)
    if packet in MATMULS and not kwargs and all(
            isinstance(a, torch.Tensor) and a.dtype == x.dtype for a in args if a is not None):
        return matmul_output(packet, args)
    if packet not in SHAPE_PRESERVING_ON_META:
        return meta_outputs.run(func, args, kwargs)
    return shape_preserving_output(func, args, kwargs, x)


def broadcast_shape(a: torch.Size, b: torch.Size) -> tuple[int, ...] | None:
    """The broadcast of two shapes (numpy's rule), or None when they do not broadcast (``torch.broadcast_shapes``
    is a slow Python reference on meta sizes)."""
    if a == b:
        return a
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + tuple(a), (1,) * (n - len(b)) + tuple(b)
    if any(x != y and x != 1 and y != 1 for x, y in zip(a, b, strict=True)):
        return None
    return torch.Size(max(x, y) if x != 1 and y != 1 else x * y for x, y in zip(a, b, strict=True))


def binary_output(func, args, kwargs, x: torch.Tensor):
    """The meta output of an op of :data:`BINARY_ON_META`, made directly; anything unusual (a real tensor operand,
    an in-place op that would broadcast its target) goes to the op itself, which raises torch's error."""
    other = args[1] if len(args) > 1 else kwargs.get("other")
    if isinstance(other, torch.Tensor):
        if other.device.type != "meta" and other.dim() > 0:
            return func(*args, **kwargs)
        shape = broadcast_shape(x.shape, other.shape)
        if shape is None:
            return func(*args, **kwargs)
    elif isinstance(other, (int, float, bool, complex)):
        shape = x.shape
    else:
        return func(*args, **kwargs)
    if func._schema.name.endswith("_"):
        return x if shape == x.shape else func(*args, **kwargs)
    return torch.empty(shape, dtype=torch.result_type(x, other), device="meta")


def shape_preserving_output(func, args, kwargs, x: torch.Tensor):
    """The meta output of an op of :data:`SHAPE_PRESERVING_ON_META` (its input's shape, or the input itself for an
    in-place op), made directly."""
    packet = func.overloadpacket
    if packet is aten.native_batch_norm and args[5]:  # training: batch statistics are real outputs
        return func(*args, **kwargs)
    if packet in (aten._native_batch_norm_legit_no_training, aten.native_batch_norm):
        unused = [torch.empty(0, dtype=x.dtype, device="meta") for _ in range(2)]
        return meta_like(x), *unused  # output, unused saved statistics
    return x if func._schema.name.endswith("_") else meta_like(x)


def meta_like(x: torch.Tensor) -> torch.Tensor:
    """``torch.empty_like(x)`` of a meta tensor ``x``, made directly where ``x`` is contiguous or channels-last but
    not both (``empty_like`` on meta then lays it out afresh in that format; an ambiguous or other layout goes to
    ``empty_like`` itself), since ``empty_like`` runs a Python meta kernel: about 190 us a call against 3 us (20
    calls in a ResNet-18 profile, 53 in a ResNet-50 one)."""
    contiguous, channels_last = x.is_contiguous(), x.is_contiguous(memory_format=torch.channels_last)
    if contiguous != channels_last:
        layout = torch.contiguous_format if contiguous else torch.channels_last
        return torch.empty(x.shape, dtype=x.dtype, device="meta", memory_format=layout)
    return torch.empty_like(x)


def meta_failure(func, args, kwargs, exc: BaseException) -> str | None:
    """Why ``func`` failed on meta tensors, as advice in one clause: a tensor the model created on the CPU in
    forward, floating-point ids made from a plain shape, a result whose shape depends on tensor values, or a
    missing meta kernel; None for any other failure
    (a shape mismatch, which real inputs meet alike)."""
    text = str(exc)
    tensors = [t for t in tree_flatten((args, kwargs))[0] if isinstance(t, torch.Tensor)]
    if "not on the expected device meta" in text or any(t.device.type != "meta" and t.dim() > 0 for t in tensors):
        return ("the model mixes them with a tensor created on the CPU in forward (a constant such as "
                "torch.tensor(...) or torch.ones(...).tril()); create it with device=x.device or register it as a "
                "buffer")
    op = str(func.overloadpacket)
    if "'indices'" in text and any(t.is_floating_point() for t in tensors):
        return ("its indices are a floating-point meta tensor (a plain shape makes one); give integer ids: "
                "input_shape=TensorSpec(shape, torch.long)")
    boolean_index = op == "aten.index" and any(t.dtype == torch.bool for t in tensors[1:])
    if (op in VALUE_DEPENDENT_OPS or boolean_index or "data-dependent" in text or "item()" in text
            or "nonzero" in text):
        return ("its result's shape depends on tensor values (a boolean mask x[mask], nonzero, masked_select, "
                "item); profile this model with real inputs (inputs=...)")
    if "'Meta' backend" in text or "fake impl" in text or "meta kernel" in text:
        return "it has no meta kernel; profile this model with real inputs (inputs=...)"
    return None


def shape_of(x):
    """A tensor's shape; lists/tuples element-wise; anything else unchanged (one level, like aten args)."""
    if isinstance(x, torch.Tensor):
        return x.shape
    if isinstance(x, (list, tuple)) and x and isinstance(x[0], torch.Tensor):
        return type(x)(t.shape if isinstance(t, torch.Tensor) else t for t in x)
    return x


def on_meta(args) -> bool:
    return any(isinstance(t, torch.Tensor) and t.device.type == "meta" for t in tree_flatten(args)[0])


@contextlib.contextmanager
def reference_kernels(recurrent: bool):
    """PyTorch's reference kernels for the run, so that real and meta inputs take the same path: math
    scaled dot-product attention, no fused attention/transformer fast path, and no oneDNN RNN kernel for models
    with recurrent layers, ``recurrent`` (global switches, restored on exit)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    fast_path, onednn = torch.backends.mha.get_fastpath_enabled(), torch.backends.mkldnn.enabled
    torch.backends.mha.set_fastpath_enabled(False)
    if recurrent:
        torch.backends.mkldnn.enabled = False
    try:
        with sdpa_kernel(SDPBackend.MATH):
            yield
    finally:
        torch.backends.mha.set_fastpath_enabled(fast_path)
        torch.backends.mkldnn.enabled = onednn


def decomposition_of(func):
    """A function computing ``func`` from simpler ops (its CompositeImplicit kernel or a ``torch._decomp``
    decomposition), or None."""
    from torch._decomp import decomposition_table

    table = decomposition_table.get(func)
    if table is not None:
        return table
    if func._can_decompose():
        return func.decompose
    return None


class CountingMode(TorchDispatchMode):
    """Counts every op into the tally of the innermost module issuing it, but for an op whose weight operand is a
    parameter, which counts in the module owning that parameter wherever it is called from (``F.linear(x,
    self.lin.weight)``, ``self.lin.forward(x)``), so that the value columns follow the weight (shapes only; the
    weights' values enter when the profile's rows are built)."""

    def __init__(self, stack: ModuleStack, weights: dict[int, torch.Tensor], strict: bool,
                 owners: dict[int, tuple[str, ...]] | None = None):
        super().__init__()
        self.stack = stack
        self.weight_ids = weights
        self.owners = dict(owners or {})  # id of a parameter (or a view of one) -> the rows holding it, first first
        self.derived_weights: dict[int, torch.Tensor] = {}  # views of weights, held so ids stay unique
        self.tallies: dict[str, LayerTally] = {}
        self.unsupported: dict[str, dict] = {}
        self.free_seen: set = set()  # op packets
        self.strict = strict
        self.refusal: UnsupportedOpError | None = None  # strict mode's refusal, kept for a TorchScript wrapper
        self.backward = False

    def is_weight(self, t) -> bool:
        return isinstance(t, torch.Tensor) and (id(t) in self.weight_ids or id(t) in self.derived_weights)

    def tally(self, name: str) -> LayerTally:
        tally = self.tallies.get(name)
        if tally is None:
            tally = self.tallies[name] = LayerTally()
        return tally

    def execute(self, func, args, kwargs, name: str):
        """Run ``func``; on meta tensors, an op that cannot run there is one line naming op, module and cause."""
        try:
            return run_on_meta(func, args, kwargs)
        except UserError:
            raise
        except (NotImplementedError, RuntimeError) as exc:
            cause = meta_failure(func, args, kwargs, exc) if on_meta((args, kwargs)) else None
            if cause is None:
                raise
            raise MetaInputError(f"op {func.overloadpacket} (issued by module '{name}') cannot run on meta tensors: "
                                 f"{cause}") from None

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        packet = func.overloadpacket
        name = self.stack.current
        if name == BOOKKEEPING:  # e.g. weight * mask inside a parametrization: what it makes is a weight
            out = self.execute(func, args, kwargs, name)
            self.mark_weights(out)
            return out
        if packet in FREE_OPS:
            out = self.execute(func, args, kwargs, name)
            self.free_seen.add(packet)
            if args and self.is_weight(args[0]):  # a view of a weight is still a weight, of the same owner
                self.mark_weights(out, self.owners.get(id(args[0])))
            return out
        formula = formula_for(packet)
        if formula is None:
            return self.count_decomposed(func, args, kwargs, name)
        out = self.execute(func, args, kwargs, name)
        if (args and id(args[0]) in self.weight_ids and func._schema.name.endswith("_")
                and not args[0].is_floating_point()):
            return out  # an integer counter updated in place (BN's num_batches_tracked): bookkeeping, free
        count = formula(*[shape_of(a) for a in args], out_shape=shape_of(out),
                        **{k: shape_of(v) for k, v in kwargs.items()} if kwargs else {})
        self.record(in_real_operations(count, packet, args, out), args, out, name, packet)
        return out

    def count_decomposed(self, func, args, kwargs, name: str):
        """Count an op without a formula through its decomposition (run under this mode), or report it."""
        decomposition = decomposition_of(func)
        if decomposition is not None:
            with self:
                out = decomposition(*args, **kwargs)
            if out is not NotImplemented:
                self.tally(name).decomposed.add(str(func.overloadpacket))
                return out
        if self.strict:
            self.refusal = UnsupportedOpError(f"no formula for op {func.overloadpacket} (issued by module '{name}') "
                                              "and no decomposition; register one with estimator.counting.register")
            raise self.refusal
        entry = self.unsupported.setdefault(str(func.overloadpacket), {"count": 0, "modules": set()})
        entry["count"] += 1
        entry["modules"].add(name)
        return self.execute(func, args, kwargs, name)

    def record(self, count: OpCount, args, out, name: str, packet) -> None:
        weight_operand = (count.weight_arg is not None and len(args) > count.weight_arg and count.macs > 0
                          and self.is_weight(args[count.weight_arg]))
        holders = self.owners.get(id(args[count.weight_arg]), ()) if weight_operand and not self.backward else ()
        if holders and name not in holders:  # used outside the modules holding it: counts in its (first) owner
            name = holders[0]
        tally = self.tally(name)
        if count.estimate:
            tally.estimated.add(str(packet))
        for nest in count.nests:
            tally.nests[self.nest_role(nest, args, out, tally, weight_operand)] += 1
        if weight_operand and not self.backward:
            tally.weighted.append((count, args[count.weight_arg].numel()))
            return
        target = tally.backward if self.backward else tally.forward
        for kind in COUNT_KINDS:
            target[kind] += getattr(count, kind)

    def record_module(self, name: str, parts: list[tuple[OpCount, int]]) -> None:
        """Forward work a module counted itself (:mod:`.recurrent`): (count, elements of the weight it multiplies,
        0 for none) pairs into row ``name``."""
        tally = self.tally(name)
        for count, weight_numel in parts:
            for nest in count.nests:
                tally.nests[nest] += 1
            if weight_numel:
                tally.weighted.append((count, weight_numel))
            else:
                for kind in COUNT_KINDS:
                    tally.forward[kind] += getattr(count, kind)

    def nest_role(self, nest: Nest, args, out, tally: LayerTally, weight_operand: bool) -> Nest:
        """The nest with its role: forward; in backward, a conv's stated gradient, or for a matmul the input
        gradient when a weight is an operand and the weight gradient when the result has a weight's size."""
        if not self.backward:
            return nest if weight_operand else nest.with_role("forward", False)
        if nest.role != "forward":
            return nest.with_role(nest.role, True)
        if any(self.is_weight(a) for a in args):
            return nest.with_role("grad_input", True)
        result = out if isinstance(out, torch.Tensor) else None
        sizes = {numel for _, numel in tally.weighted}
        if result is not None and result.numel() in sizes:
            return nest.with_role("grad_weight", True)
        return nest.with_role("backward", False)

    def mark_weights(self, out, holders: tuple[str, ...] | None = None) -> None:
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                self.derived_weights[id(t)] = t
                if holders:
                    self.owners[id(t)] = holders
