"""Dyadic (multiplication-free) approximation of a trained network (Cintra et al., IEEE TNNLS 2018;
docs/references.md s.2).

Every weight is replaced by a dyadic rational from a candidate set: signed sums of at most ``terms`` powers of
two with exponents in [min_exp, max_exp] (the "level of approximation"), after a per-output-channel or
per-tensor scale that is a power of two (a shift, so the effective weight stays dyadic) or a real number
folded into one multiplication per output (counted where it happens).

The filter approximation is the paper's binary linear program: a one-hot choice of a candidate per entry that
minimises the squared Frobenius error. Without a coupling constraint it separates per entry and its exact
solution is nearest-value rounding (:func:`round_to_set`). A complexity budget (total CSD terms per filter or
per layer <= B) couples the entries: :func:`solve_budgeted` solves it exactly by dynamic programming over the
budget, vectorised over filters; :func:`solve_milp` solves one filter with HiGHS (the reference it is checked
against).
"""

from __future__ import annotations

import copy
import functools
import itertools
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize

from hwmodels.errors import UserError

from ..counting.csd import csd_digits, multiply_cost
from ..counting.shiftadd import plan_sigmoid, plan_tanh, shift_add_mul
from ..models.small import ScaledTanh
from .specs import BUDGET_COSTS, DyadicBudget, DyadicLevel, parse_level

# --------------------------------------------------------------------------------------------------------
# candidate sets


@dataclass(frozen=True)
class CandidateSet:
    """The sorted dyadic values of a level and the CSD cost of multiplying by each.

    Attributes:
        values: sorted, unique (includes 0).
        terms: CSD non-zero digits of each value (0 for 0).
        adds: terms - 1 (0 for 0 and for +-powers of two).
        shifts: CSD terms with a non-zero exponent.
    """

    values: np.ndarray
    terms: np.ndarray
    adds: np.ndarray
    shifts: np.ndarray

    @classmethod
    def build(cls, max_terms: int, min_exp: int, max_exp: int) -> CandidateSet:
        exponents = range(min_exp, max_exp + 1)
        values = {0.0}
        for t in range(1, max_terms + 1):
            for chosen in itertools.combinations(exponents, t):
                for signs in itertools.product((1.0, -1.0), repeat=t):
                    values.add(float(sum(s * 2.0**e for s, e in zip(signs, chosen, strict=True))))
        ordered = np.array(sorted(values))
        terms, shifts = csd_digits(ordered)
        return cls(ordered, terms, np.maximum(terms - 1, 0), shifts)

    @property
    def max_abs(self) -> float:
        return float(np.abs(self.values).max())


@functools.lru_cache(maxsize=64)
def candidate_set(level: DyadicLevel) -> CandidateSet:
    """The candidate values of ``level`` (built once per level)."""
    return CandidateSet.build(level.terms, level.min_exp, level.max_exp)


def round_to_set(w: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Nearest candidate to every entry (vectorised searchsorted; ties go to the smaller value): the exact
    solution of the unconstrained one-hot program."""
    w = np.asarray(w, dtype=np.float64)
    right = np.clip(np.searchsorted(values, w), 1, len(values) - 1)
    lower, upper = values[right - 1], values[right]
    return np.where(np.abs(w - lower) <= np.abs(upper - w), lower, upper)


def round_to_set_torch(w: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """:func:`round_to_set` in torch (any device), for use inside a forward pass."""
    right = torch.searchsorted(values, w.contiguous()).clamp(1, len(values) - 1)
    lower, upper = values[right - 1], values[right]
    return torch.where((w - lower).abs() <= (upper - w).abs(), lower, upper)


# --------------------------------------------------------------------------------------------------------
# the binary program with a complexity budget


def solve_milp(w: np.ndarray, cset: CandidateSet, budget: float | None = None, cost: str = "terms",
               time_limit: float = 60.0) -> np.ndarray:
    """Exact solution of the one-hot program for one filter with scipy.optimize.milp (HiGHS).

    minimise sum_ij (w_i - v_j)^2 x_ij  s.t.  sum_j x_ij = 1 for each entry i,
             sum_ij cost_j x_ij <= budget (when given),  x binary.

    Args:
        w: the filter's entries (any shape).
        cset: candidate values and costs.
        budget: maximum total cost over the filter, or None.
        cost: what the budget counts (:data:`BUDGET_COSTS`).
    """
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import csr_matrix, hstack

    flat = np.asarray(w, dtype=np.float64).ravel()
    n, m = flat.size, cset.values.size
    errors = (flat[:, None] - cset.values[None, :]) ** 2
    one_hot = csr_matrix((np.ones(n * m), (np.repeat(np.arange(n), m), np.arange(n * m))), shape=(n, n * m))
    constraints = [LinearConstraint(one_hot, 1, 1)]
    if budget is not None:
        costs = candidate_costs(cset, cost)
        constraints.append(LinearConstraint(hstack([csr_matrix(np.tile(costs, n))]), -np.inf, budget))
    result = milp(errors.ravel(), constraints=constraints, integrality=np.ones(n * m), bounds=Bounds(0, 1),
                  options={"time_limit": time_limit})
    if result.x is None:
        raise UserError(f"the dyadic program is infeasible or unsolved: {result.message}")
    choice = result.x.reshape(n, m).argmax(axis=1)
    return cset.values[choice].reshape(np.shape(w))


"""What a complexity budget counts, per multiplication by a candidate."""


def candidate_costs(cset: CandidateSet, cost: str) -> np.ndarray:
    """The cost of multiplying by each candidate under budget kind ``cost`` (:data:`BUDGET_COSTS`)."""
    by_kind = {"terms": cset.terms, "adds": cset.adds, "shifts": cset.shifts, "ops": cset.adds + cset.shifts}
    if cost not in by_kind:
        raise UserError(f"budget cost '{cost}' is unknown; expected one of {', '.join(BUDGET_COSTS)}")
    return by_kind[cost].astype(np.float64)


def level_options(w: np.ndarray, cset: CandidateSet, cost: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every entry, the nearest candidate within each cost level 0..max: values, errors and costs,
    shape (..., levels). Given the cost an entry may spend, its best value is the nearest one of at most that
    cost, so these options contain every optimum of the budgeted program."""
    costs = candidate_costs(cset, cost)
    levels = np.unique(costs)
    values, errors, spent = [], [], []
    for level in levels:
        allowed = costs <= level
        chosen = round_to_set(w, cset.values[allowed])
        values.append(chosen)
        errors.append((w - chosen) ** 2)
        spent.append(costs[np.searchsorted(cset.values, chosen)])
    return np.stack(values, -1), np.stack(errors, -1), np.stack(spent, -1)


def solve_budgeted(filters: np.ndarray, cset: CandidateSet, budget: float, cost: str = "terms",
                   memory_bytes: int = 64 << 20) -> np.ndarray:
    """The exact optimum of the budgeted program for many filters: a dynamic programme over the entries and the
    budget spent (a multiple-choice knapsack with integer costs), vectorised over filters.

    Each entry's options are the nearest candidate within each cost level (:func:`level_options`; every optimum
    uses only those). ``best[b]`` after entry i is the least error of the first i entries spending at most b;
    the choices are traced back from ``best[budget]``. Time grows as entries x budget x cost levels per filter;
    filters are processed in chunks whose choice tables fit ``memory_bytes``.

    Args:
        filters: (F, ...) entries of F filters.
        cset: candidate values and costs.
        budget: maximum total cost per filter (integer costs: its floor counts).
        cost: ``"terms"``, ``"adds"``, ``"shifts"`` or ``"ops"`` (adds + shifts).

    Returns:
        Dyadic values of ``filters``' shape, every filter within budget at minimum squared error.
    """
    shape = filters.shape
    w = np.asarray(filters, dtype=np.float64).reshape(shape[0], -1)
    values, errors, spent = level_options(w, cset, cost)  # (F, n, L)
    spent = np.rint(spent).astype(np.int64)
    limit = int(np.floor(budget))
    if limit < 0:
        raise UserError(f"budget must be non-negative; got {budget}")
    n_filters, n = w.shape
    levels = values.shape[-1]
    result = np.empty_like(w)
    chunk = max(1, memory_bytes // max(n * (limit + 1), 1))
    for start in range(0, n_filters, chunk):
        part = slice(start, min(start + chunk, n_filters))
        result[part] = budgeted_chunk(values[part], errors[part], spent[part], limit, levels)
    return result.reshape(shape)


def budgeted_chunk(values: np.ndarray, errors: np.ndarray, spent: np.ndarray, limit: int, levels: int) -> np.ndarray:
    """:func:`solve_budgeted`'s programme for a few filters: (F, n, L) options -> (F, n) values."""
    f, n, _ = values.shape
    budgets = np.arange(limit + 1)
    best = np.zeros((f, limit + 1))
    choices = np.empty((n, f, limit + 1), dtype=np.int8)
    rows = np.arange(f)[:, None]
    for i in range(n):
        candidates = np.full((levels, f, limit + 1), np.inf)
        for option in range(levels):
            before = budgets[None, :] - spent[:, i, option][:, None]  # budget left for the earlier entries
            ok = before >= 0
            candidates[option] = np.where(ok, best[rows, np.maximum(before, 0)] + errors[:, i, option][:, None],
                                          np.inf)
        choices[i] = np.argmin(candidates, axis=0)
        best = np.min(candidates, axis=0)
    if not np.isfinite(best[:, limit]).all():
        raise UserError(f"a budget of {limit} is below the least cost of some filter")
    out = np.empty((f, n))
    left = np.full(f, limit)
    filters = np.arange(f)
    for i in range(n - 1, -1, -1):
        option = choices[i, filters, left]
        out[:, i] = values[filters, i, option]
        left = left - spent[filters, i, option]
    return out


# --------------------------------------------------------------------------------------------------------
# approximating a network


def channel_scale(w: torch.Tensor, level: DyadicLevel) -> torch.Tensor:
    """Scale per output channel (or per tensor) mapping the largest |w| into the candidate range; a power of
    two for ``pow2`` (so scale x candidate stays dyadic), the exact ratio for ``fold``, 1 for ``none``."""
    if level.scale == "none":
        return torch.ones((w.shape[0],) + (1,) * (w.dim() - 1), dtype=w.dtype, device=w.device)
    dims = tuple(range(1, w.dim())) if level.granularity == "channel" else tuple(range(w.dim()))
    peak = w.detach().abs().amax(dim=dims, keepdim=True).clamp_min(torch.finfo(w.dtype).tiny)
    ratio = peak / candidate_set(level).max_abs
    if level.scale == "pow2":
        ratio = torch.exp2(torch.ceil(torch.log2(ratio)))
    return ratio.expand((w.shape[0],) + (1,) * (w.dim() - 1)) if level.granularity == "tensor" else ratio


class DyadicWeight(nn.Module):
    """Parametrization: weight -> scale x nearest candidate (straight-through gradient), declaring shift-add
    arithmetic and the candidate code width (``weight_code_bits`` = ceil(log2 #candidates)) to the counter.
    With ``fixed`` values (a budgeted solution) the weight is those values.

    With ``scale="fold"`` the returned weight is the dyadic part only; the module's output is multiplied by
    the scale in :class:`FoldedScale`.
    """

    arithmetic = "shift_add"

    def __init__(self, level: DyadicLevel, fold_scale: torch.Tensor | None = None, fixed: torch.Tensor | None = None):
        super().__init__()
        self.level = level
        self.register_buffer("values", torch.tensor(candidate_set(level).values, dtype=torch.float32), persistent=False)
        self.register_buffer("fold_scale", fold_scale, persistent=False)
        self.register_buffer("fixed", fixed, persistent=False)
        self.weight_code_bits = int(np.ceil(np.log2(len(candidate_set(level).values))))

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        if self.fixed is not None:
            return self.fixed
        scale = self.fold_scale if self.fold_scale is not None else channel_scale(weight, self.level)
        dyadic = round_to_set_torch(weight / scale, self.values.to(weight.dtype))
        approx = dyadic if self.fold_scale is not None else dyadic * scale
        return weight + (approx - weight).detach()  # straight-through estimator


class FoldedScale(nn.Module):
    """A layer followed by a real per-output-channel scale: one multiplication per output (counted)."""

    def __init__(self, layer: nn.Module, scale: torch.Tensor):
        super().__init__()
        self.layer = layer
        self.register_buffer("scale", scale.reshape(-1))

    def forward(self, x):
        y = self.layer(x)
        return y * self.scale.view((1, -1) + (1,) * (y.dim() - 2))


class DyadicBias(nn.Module):
    """Parametrization rounding a bias to the level's candidates under a per-tensor power-of-two scale (the
    bias add is one add per output either way; this removes its precision, not its cost)."""

    def __init__(self, level: DyadicLevel):
        super().__init__()
        self.level = DyadicLevel(level.terms, level.min_exp, level.max_exp, "pow2", "tensor")
        self.register_buffer("values", torch.tensor(candidate_set(level).values, dtype=torch.float32), persistent=False)

    def forward(self, bias: torch.Tensor) -> torch.Tensor:
        scale = channel_scale(bias[:, None], self.level)[:, 0]
        return bias + (round_to_set_torch(bias / scale, self.values.to(bias.dtype)) * scale - bias).detach()


def dyadic_constant(value: np.ndarray, level: DyadicLevel) -> tuple[np.ndarray, int, int]:
    """Constants rounded to dyadic values (a power-of-two scale per element), with their CSD cost:
    (values, total adds, total shifts) of multiplying one input by each element once."""
    flat = np.asarray(value, dtype=np.float64)
    scale = np.exp2(np.ceil(np.log2(np.maximum(np.abs(flat), 1e-30) / candidate_set(level).max_abs)))
    dyadic = round_to_set(flat / scale, candidate_set(level).values) * scale
    adds, shifts = multiply_cost(dyadic)
    return dyadic, int(adds.sum()), int(shifts.sum())


class DyadicAvgPool2d(nn.Module):
    """Average pooling as a sum pool (K-1 adds per output) times a dyadic approximation of 1/K (a shift when K
    is a power of two). ``kernel_size=None`` pools globally (adaptive pooling to 1 x 1)."""

    def __init__(self, level: DyadicLevel, kernel_size=None, stride=None, padding=0):
        super().__init__()
        self.level, self.kernel_size, self.stride, self.padding = level, kernel_size, stride, padding

    def forward(self, x):
        kernel = self.kernel_size or tuple(x.shape[-2:])
        summed = nn.functional.avg_pool2d(x, kernel, self.stride or kernel, self.padding, divisor_override=1)
        k = kernel if isinstance(kernel, tuple) else (kernel, kernel)
        factor, adds, shifts = dyadic_constant(np.array([1.0 / (k[0] * k[1])]), self.level)
        return shift_add_mul(summed, torch.tensor(factor, dtype=x.dtype, device=x.device), adds, shifts)


class DyadicSubsampling(nn.Module):
    """A LeCun-style subsampling with a dyadic coefficient per map: a 2x2 sum pool, one shift-add multiplication
    by coefficient/4 (dyadic), plus the bias. It replaces any module that declares ``scaled_average_pool = 2``:
    y = avg_pool(x, 2) x ``weight`` + ``bias``, per channel (the face finder's S1 and S2)."""

    def __init__(self, source: nn.Module, level: DyadicLevel):
        super().__init__()
        factor, self.adds, self.shifts = dyadic_constant(source.weight.detach().cpu().numpy() / 4.0, level)
        self.register_buffer("factor", torch.tensor(factor, dtype=torch.float32).view(1, -1, 1, 1))
        self.bias = nn.Parameter(source.bias.detach().clone())

    def forward(self, x):
        summed = nn.functional.avg_pool2d(x, 2, divisor_override=1)
        return shift_add_mul(summed, self.factor, self.adds, self.shifts) + self.bias.view(1, -1, 1, 1)


class PlanSigmoid(nn.Module):
    def forward(self, x):
        return plan_sigmoid(x)


class PlanTanh(nn.Module):
    def forward(self, x):
        return plan_tanh(x)


class Approximation(nn.Module):
    """An activation replaced by one of the approximations of :mod:`estimator.counting.activations` (by op name)."""

    def __init__(self, op: str):
        super().__init__()
        self.op = op

    def forward(self, x):
        return getattr(torch.ops.estimator, self.op)(x)

    def extra_repr(self) -> str:
        return self.op


def approximation(op: str):
    return lambda: Approximation(op)


ACTIVATIONS = {"plan": {nn.Sigmoid: PlanSigmoid, nn.Tanh: PlanTanh},
               "hardtanh": {nn.Sigmoid: lambda: nn.Hardsigmoid(), nn.Tanh: lambda: nn.Hardtanh()},
               "asg": {nn.Sigmoid: approximation("asg_sigmoid"), nn.Tanh: approximation("asg_tanh")},
               "linear": {nn.Sigmoid: approximation("linear_sigmoid"), nn.Tanh: approximation("linear_tanh")},
               "quadratic": {nn.Sigmoid: approximation("quadratic_sigmoid"),
                             nn.Tanh: approximation("quadratic_tanh")},
               "scaled_tanh": {ScaledTanh: approximation("scaled_tanh"), nn.Sigmoid: PlanSigmoid,
                               nn.Tanh: PlanTanh}}
"""Activation replacements, by option name: PLAN (dyadic slopes), the hard piecewise-linear forms (compares
only), Alippi and Storti-Gajani's powers of two (asg), the first- and second-order approximations (linear;
quadratic, which still squares its input), and LeCun's scaled tanh in dyadic form (scaled_tanh, with PLAN for
plain sigmoids and tanhs); costs and maximum errors in :mod:`estimator.counting.activations`."""


def replace_child(model: nn.Module, name: str, new: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, child, new)


def approximate_weights(module: nn.Module, level: DyadicLevel, budget: float | None, cost: str,
                        scope: str = "filter") -> nn.Module:
    """Register the dyadic weight (and bias) parametrizations on one conv/linear; returns what replaces it.
    A budget applies to each output filter (``scope="filter"``) or to the whole layer (``"layer"``)."""
    weight = module.weight.detach()
    fixed, fold = None, None
    if level.scale == "fold":
        fold = channel_scale(weight, level)
        if getattr(module, "bias", None) is not None:  # y = s (W x + b / s) keeps the bias after the scale
            with torch.no_grad():
                module.bias.div_(fold.reshape(-1))
    if budget is not None:
        scale = fold if fold is not None else channel_scale(weight, level)
        groups = weight.shape[0] if scope == "filter" else 1
        filters = (weight / scale).cpu().double().numpy().reshape(groups, -1)
        solved = solve_budgeted(filters, candidate_set(level), budget, cost)
        dyadic = torch.from_numpy(solved).to(weight).reshape(weight.shape)
        fixed = dyadic if fold is not None else dyadic * scale
    parametrize.register_parametrization(module, "weight", DyadicWeight(level, fold, fixed), unsafe=True)
    if getattr(module, "bias", None) is not None:
        parametrize.register_parametrization(module, "bias", DyadicBias(level))
    return FoldedScale(module, fold) if fold is not None else module


def fold_batchnorm(model: nn.Module) -> int:
    """Fold every eval-mode BatchNorm that directly follows a conv in an ``nn.Sequential`` into the conv's
    weight and bias (w' = w gamma / sigma, b' = (b - mu) gamma / sigma + beta), replacing it by Identity.
    NB: pairs wired in a custom forward (e.g. ResNet blocks) are left as they are. Returns the number folded."""
    folded = 0
    for seq in [m for m in model.modules() if isinstance(m, nn.Sequential)]:
        names = list(seq._modules)
        for first, second in zip(names, names[1:], strict=False):
            conv, bn = seq._modules[first], seq._modules[second]
            is_conv = isinstance(conv, (nn.Conv1d, nn.Conv2d, nn.Conv3d))
            is_bn = isinstance(bn, nn.modules.batchnorm._BatchNorm) and bn.track_running_stats
            if not (is_conv and is_bn and conv.out_channels == bn.num_features):
                continue
            with torch.no_grad():
                factor = (bn.weight if bn.affine else torch.ones_like(bn.running_var)) / torch.sqrt(
                    bn.running_var + bn.eps)
                shift = (bn.bias if bn.affine else torch.zeros_like(bn.running_mean)) - bn.running_mean * factor
                bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
                new_bias = bias * factor + shift
                conv.weight.mul_(factor.view((-1,) + (1,) * (conv.weight.dim() - 1)))
                conv.bias = nn.Parameter(new_bias)
            seq._modules[second] = nn.Identity()
            folded += 1
    return folded


def approximate(model: nn.Module, level: str | DyadicLevel = "t2", *, weights: bool = True, biases: bool = True,
                pooling: bool = True, subsampling: bool = True, activations: str | None = "plan",
                fold_bn: bool = True, budget: float | DyadicBudget | None = None, budget_cost: str = "terms",
                budget_scope: str = "filter", lrn: str = "keep") -> nn.Module:
    """A copy of ``model`` with its elements replaced by multiplication-free approximations.

    Args:
        model: a trained model (not modified).
        level: a :class:`DyadicLevel` or its name (``t2``, ``t3e-6``, ``t1_fold``, ...).
        weights: approximate conv and linear weights (the counter then reports shifts and adds, no mults).
        biases: round biases to dyadic values.
        pooling: average pooling (and global average pooling) as sum pools with dyadic 1/K.
        subsampling: the face finder's trainable subsampling coefficients as dyadic constants.
        activations: an option of :data:`ACTIVATIONS` (``"plan"``: PLAN sigmoid/tanh; ``"hardtanh"``, ``"asg"``,
            ``"linear"``, ``"quadratic"``, ``"scaled_tanh"``) or None (kept exact).
        fold_bn: first fold BatchNorms into the convs before them (:func:`fold_batchnorm`), so their
            multiplications disappear into the dyadic weights.
        budget: a complexity budget (what ``budget_cost`` counts: :data:`BUDGET_COSTS`) per output
            filter, or per layer with ``budget_scope="layer"``, solved by :func:`solve_budgeted`; or a
            :class:`~estimator.variants.specs.DyadicBudget` (which names all three, as a variant name does:
            ``dyadic:t3e-8:b24terms``); None for plain rounding.
        lrn: ``"keep"`` local response normalisation as it is (it multiplies: see :data:`STILL_MULTIPLYING`), or
            ``"drop"`` it (an identity), as later AlexNets do (torchvision's has none).

    The weights are parametrizations with a straight-through estimator, so the result can be fine-tuned
    (budgeted weights are fixed).
    """
    level = parse_level(level)
    if isinstance(budget, DyadicBudget):
        budget, budget_cost, budget_scope = budget.limit, budget.cost, budget.scope
    if budget_scope not in ("filter", "layer"):
        raise UserError(f"budget_scope must be filter or layer; got {budget_scope!r}")
    if lrn not in ("keep", "drop"):
        raise UserError(f"lrn must be keep or drop; got {lrn!r}")
    model = copy.deepcopy(model)
    if fold_bn:
        model.eval()
        fold_batchnorm(model)
    for name, module in list(model.named_modules()):
        if weights and isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)):
            replacement = approximate_weights(module, level, budget, budget_cost, budget_scope)
            if replacement is not module:
                replace_child(model, name, replacement)
        elif pooling and isinstance(module, nn.AvgPool2d):
            replace_child(model, name, DyadicAvgPool2d(level, module.kernel_size, module.stride, module.padding))
        elif pooling and isinstance(module, nn.AdaptiveAvgPool2d) and module.output_size in (1, (1, 1)):
            replace_child(model, name, DyadicAvgPool2d(level))
        elif subsampling and getattr(module, "scaled_average_pool", None) == 2:
            replace_child(model, name, DyadicSubsampling(module, level))
        elif activations and type(module) in ACTIVATIONS.get(activations, {}):
            replace_child(model, name, ACTIVATIONS[activations][type(module)]())
        elif lrn == "drop" and isinstance(module, nn.LocalResponseNorm):
            replace_child(model, name, nn.Identity())
    return model


STILL_MULTIPLYING = {
    "LocalResponseNorm": "squares its inputs and raises their sum to a power: products of two signals, which no "
                         "shift-add form replaces (approximate(lrn='drop') removes it, as later AlexNets do)",
    "FoldedScale": "a real per-channel scale kept after the dyadic weights (scale='fold')",
}
"""Why a layer of an approximated model still multiplies (layer type -> reason)."""


def approximation_error(model: nn.Module) -> float:
    """Relative Frobenius error of an approximated model's weights against the float weights they replace,
    over all its dyadic conv and linear weights: sqrt(sum ||W_dyadic - W||^2 / sum ||W||^2)."""
    error = total = 0.0
    with torch.no_grad():
        for module in model.modules():
            if not (parametrize.is_parametrized(module, "weight")
                    and isinstance(module.parametrizations["weight"][0], DyadicWeight)):
                continue
            original = module.parametrizations["weight"].original
            weight = module.weight
            fold = module.parametrizations["weight"][0].fold_scale
            if fold is not None:
                weight = weight * fold.reshape((-1,) + (1,) * (weight.dim() - 1))
            error += float(((weight - original) ** 2).sum())
            total += float((original ** 2).sum())
    return (error / total) ** 0.5 if total else 0.0
