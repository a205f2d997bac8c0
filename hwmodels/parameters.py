"""The pricing parameters: one table of names, defaults, types, units and help, used by the library, the grid and
the command line (whose options are generated from it, so the two cannot drift apart)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Parameter:
    """One pricing parameter.

    Attributes:
        name: keyword of :func:`hwmodels.price` (``--name-with-dashes`` on the command line).
        default: its value when not given; None means the hardware description's own value.
        kind: ``int``, ``float``, ``bool`` or ``str``.
        help: what it sets, with its unit.
        choices: the values a string parameter may take (empty: any).
        positive: numbers must be above zero.
        maximum: the largest value a number may take (None: unbounded), with the reason in ``help``.
        unset: what a default of None means, for help texts (``help`` itself never states the default).
    """

    name: str
    default: object
    kind: type
    help: str
    choices: tuple[str, ...] = ()
    positive: bool = True
    maximum: float | None = None
    unset: str = "the hardware's own"

    @property
    def default_text(self) -> str:
        """The default as help texts state it."""
        return self.unset if self.default is None else json_literal(self.default)


DATAFLOWS = {"native": "the hardware's own spatial unrolling", "ws": "weight stationary: array unrolls K x C",
             "os": "output stationary: array unrolls K x OX",
             "is": "input stationary: array unrolls C x OX (the filters stream past the inputs)",
             "rs": "row stationary: array unrolls filter rows (then channels) x output rows"}
"""Dataflows: which loop dimensions a two-dimensional PE array unrolls (rows x columns)."""
DATAFLOW_UNROLL = {"ws": ("K", "C"), "os": ("K", "OX"), "is": ("C", "OX"), "rs": (("FY", "C"), "OY")}
MAX_BITS = 64
"""The widest word a number format may take, bits."""
MAX_PES = 16384
"""The most PEs along one dimension of an array (a hardware file's [array] sizes, pe_rows, pe_cols): a wafer-scale
engine's 2-D mesh is about 1,000 across."""
MAX_CLOCK_MHZ = 100_000.0
"""The fastest clock a hardware may state, MHz (100 GHz)."""
MAX_BUFFER_KIB = float(1 << 30)
"""The largest resized on-chip buffer, KiB (1 TiB)."""
MAX_LOOP_FACTORS = 12
"""The most temporal loop factors the ``loma`` mapper orders: its search visits 2^n subsets of them."""
MAPPERS = {"loma": "ZigZag's LOMA: every order of loop_factor_limit merged temporal loop factors (the ZigZag "
                   "cross-check's mapper)",
           "exact": "every order of every prime factor of the temporal loops, so every tiling (identical factors "
                    "searched as tile sizes; a nest above 2^13 tile-size states has its smallest factors merged, "
                    "noted), within the hardware's loop-order constraint where its file declares one ([order]: the "
                    "mappings its dataflow can run)",
           "free": "the exact search without the hardware's loop-order constraint: the cost model's own optimum"}
"""The loop-nest mappers: the same cost model, searched over merged factors or over every factorisation."""
STATIONARY = {"none": "whatever the mapper finds cheapest",
              "weight": "each PE keeps its weights while every temporal loop not indexing them runs (the innermost "
                        "loops)", "output": "each PE keeps its outputs while every loop summed into them runs",
              "input": "each PE keeps its inputs while every loop not indexing them (the output channels) runs"}
"""What a PE's registers must keep across the innermost temporal loops: an order constraint on the mapper."""
STATIONARY_OPERAND = {"weight": "W", "output": "O", "input": "I"}
PSC_INDEXES = {"position_code": "one code per kernel naming which k of its 9 positions are kept, ceil(log2 C(9,k)) "
                                 "bits (the cheapest exact index)",
               "per_weight": "a 4-bit position (0..8) beside every kept weight",
               "pointer": "compressed sparse rows: an in-row index per kept weight and a pointer per row (the "
                          "smaller of that and dense storage)"}
"""How the kept positions of a pSC (random k-of-9) kernel are indexed in storage."""
INTERLAYER = {"dram": "every layer reads its input from DRAM and writes its output there (ZigZag's assumption)",
              "fit": "a layer whose input and output fit on chip keeps them there"}

PARAMETERS: tuple[Parameter, ...] = (
    Parameter("hw", "horowitz45", str, "hardware: a preset name (hwmodels.available()), a TOML file or a ZigZag "
                                       "accelerator YAML"),
    Parameter("mapping", None, str, "ZigZag mapping YAML giving the spatial unrolling of a ZigZag accelerator",
              unset="the accelerator's own"),
    Parameter("weight_bits", 8, int, f"bits per weight; at most {MAX_BITS}", maximum=MAX_BITS),
    Parameter("act_bits", 8, int, f"bits per input activation; at most {MAX_BITS}", maximum=MAX_BITS),
    Parameter("psum_bits", 32, int, f"bits per partial sum; at most {MAX_BITS}", maximum=MAX_BITS),
    Parameter("output_bits", None, int, f"bits per final output; at most {MAX_BITS}", maximum=MAX_BITS,
              unset="act_bits"),
    Parameter("buffer_kib", None, float, "capacity of the resizable on-chip buffer in KiB; at most "
              f"{MAX_BUFFER_KIB:,.10g} (1 TiB)", maximum=MAX_BUFFER_KIB),
    Parameter("pe_rows", None, int, f"PE-array rows; at most {MAX_PES:,}", maximum=MAX_PES),
    Parameter("pe_cols", None, int, f"PE-array columns; at most {MAX_PES:,}", maximum=MAX_PES),
    Parameter("dataflow", "native", str, "spatial unrolling: " + "; ".join(f"{k}: {v}" for k, v in DATAFLOWS.items()),
              tuple(DATAFLOWS)),
    Parameter("interlayer", "fit", str, "activations between layers: " + "; ".join(
        f"{k}: {v}" for k, v in INTERLAYER.items()), tuple(INTERLAYER)),
    Parameter("zero_skipping", True, bool, "skip multiplications by zero weights (and keep weights compressed)"),
    Parameter("skip_padding", True, bool, "with zero skipping, also skip the taps that fall on zero padding"),
    Parameter("act_sparsity", True, bool, "exploit zero activations as the hardware file declares (gating or "
                                          "skipping of zero inputs, compressed activations at a level), at the "
                                          "profile's input densities; false: activations priced dense"),
    Parameter("psc_index", "position_code", str, "index of random k-of-9 kernels (pSC): " + "; ".join(
        f"{k}: {v}" for k, v in PSC_INDEXES.items()), tuple(PSC_INDEXES)),
    Parameter("number_format", "int", str, "arithmetic number family (int or fp)", ("int", "fp")),
    Parameter("mac_energy_pj", None, float, "pJ per 16-bit MAC, to convert a preset normalised to a MAC "
                                            "(eyeriss65)", unset="none: such a preset needs it"),
    Parameter("clock_mhz", None, float, f"clock in MHz; at most {MAX_CLOCK_MHZ:,.10g}", maximum=MAX_CLOCK_MHZ),
    Parameter("mapper", "exact", str, "loop-nest mapper: " + "; ".join(f"{k}: {v}" for k, v in MAPPERS.items()),
              tuple(MAPPERS)),
    Parameter("stationary", "none", str, "pinned stationarity: " + "; ".join(
        f"{k}: {v}" for k, v in STATIONARY.items()) + " (the exact and free mappers)", tuple(STATIONARY)),
    Parameter("loop_factor_limit", 4, int, "temporal loop factors the loma mapper orders (ZigZag's lpf_limit; "
                                           "raised to the number of loop dimensions; at most "
                                           f"{MAX_LOOP_FACTORS}: the search visits 2^n loop subsets)",
              maximum=MAX_LOOP_FACTORS),
)
"""Every pricing parameter, in the order the grid and the command line list them."""



def markdown_table() -> str:
    """The parameters as the README's Markdown table (key, default, meaning), derived from :data:`PARAMETERS`."""
    rows = ["| key | default | meaning |", "|---|---|---|"]
    for p in PARAMETERS:
        default = p.unset if p.default is None else "`" + json_literal(p.default) + "`"
        rows.append(f"| `{p.name}` | {default} | {p.help} |")
    return "\n".join(rows)


def json_literal(value) -> str:
    """A default as a TOML/JSON literal (``true``, ``8``, ``"exact"``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return f'"{value}"' if isinstance(value, str) else repr(value)


DEFAULTS = {p.name: p.default for p in PARAMETERS}
BY_NAME = {p.name: p for p in PARAMETERS}
