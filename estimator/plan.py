"""What a sweep computes, as plain values: its specification, read from a TOML file and checked whole before any
work (without importing torch), and the points it expands to.

A sweep file has a ``[sweep]`` table (:data:`SWEEP_KEYS`) and an optional ``[hardware]`` table of pricing parameters
(``hwmodels.PARAMETERS``; a list sweeps that parameter). Every mistake is one line naming the file, the table and the
key: an unknown table or key (with the closest known one), a value of the wrong type or range, an impossible
variant, an unknown model, option or dataset, a missing data folder.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hwmodels.errors import UserError

from .datasets import DatasetError, check_dataset
from .loading import ModelLoadError, factory_path, file_digest, is_file_reference
from .models.registry import UnknownModelError, entry
from .recipes import RECIPES
from .variants.variant import DENSE, Variant, VariantError

WORKFLOWS = {
    "analytical": "no data: counts and energy of the model as built (periodic and dense variants on unit weights, "
                  "dyadic ones on the seeded initial weights)",
    "trained": "trained from scratch with the variant in place (dense and periodic variants)",
    "approximated": "the trained dense model of the same model, data and seed, approximated (dyadic variants) and "
                    "fine-tuned for finetune_epochs when that is above zero",
}
"""How a point gets its model (and its accuracy when there is data)."""


class SpecError(UserError):
    """A sweep specification that cannot run; one line naming the file, the table and the key."""


@dataclass(frozen=True)
class Key:
    """One key of the ``[sweep]`` table: its type, default and meaning."""

    name: str
    kind: str
    default: object
    help: str


SWEEP_KEYS = (
    Key("models", "list of model names or {name = ..., <option> = ...} tables", None,
        "models whose variants are swept (required): registered names (`estimator models` lists them) or "
        "path/to/file.py:factory (the file is run; its path is relative to the working directory); options go to "
        "the factory, e.g. {name = \"digits_cnn\", width = 8}; input = [N, C, H, W] sets an analytical point's "
        "input (required for a factory file without data)"),
    Key("variants", "list of variant names", [DENSE], "variants of every model: dense, PS<k>_P<P>, PSD<k>_P<P>, "
        "pSC<k>, dyadic:t<terms>e<exp>"),
    Key("baselines", "list like models", [], "models priced (and trained) dense only, for comparison"),
    Key("data", "dataset name", None, "dataset to train and test on (digits, digits28, mnist, cifar10, tinyimagenet, "
        "faces); leave it out for an analytical sweep (no training)"),
    Key("data_dir", "path", None, "folder of a file dataset in its standard layout"),
    Key("seeds", "list of integers >= 0", [0], "one point per seed"),
    Key("epochs", "integer >= 1", 15, "training epochs of trained and dense source runs"),
    Key("recipe", "recipe name", "adam", "training recipe: " + ", ".join(RECIPES)),
    Key("finetune_epochs", "integer >= 0", 0, "straight-through fine-tuning epochs of approximated (dyadic) points"),
    Key("threads", "integer >= 1", 1, "CPU threads per training run (recorded; results depend on it)"),
    Key("runs_dir", "path", "runs", "folder of the training runs (finished runs are reused)"),
)
"""Every key of the ``[sweep]`` table."""
TABLES = ("sweep", "hardware")


@dataclass(frozen=True)
class ModelChoice:
    """A model of a sweep: a registered name or ``path/to/file.py:factory``, with factory options (e.g. a width).

    Attributes:
        name: the registered name, or the factory file reference (its path relative to the working directory).
        options: factory keyword options, sorted by name.
        input_shape: the input an analytical point is priced at (N, C, H, W); None: the registered model's.
        source: a factory file's contents' SHA-256 (16 hex digits): an edited file is another model.
    """

    name: str
    options: tuple[tuple[str, object], ...] = ()
    input_shape: tuple[int, ...] | None = None
    source: str | None = None

    @property
    def label(self) -> str:
        """``digits_cnn`` or ``digits_cnn(width=8)``."""
        options = ",".join(f"{k}={v}" for k, v in self.options)
        return f"{self.name}({options})" if options else self.name

    @property
    def kwargs(self) -> dict:
        return dict(self.options)

    def identity(self) -> dict:
        """What of the model decides a point's numbers, as plain values."""
        identity = {"model": self.name, "options": dict(self.options)}
        if self.input_shape is not None:
            identity["input"] = list(self.input_shape)
        if self.source is not None:
            identity["source"] = self.source
        return identity


@dataclass(frozen=True)
class Point:
    """One (model, variant, seed) of a sweep and how it is computed (:data:`WORKFLOWS`).

    Attributes:
        model: the model and its factory options.
        variant: the variant applied to it.
        baseline: a comparison model (priced dense) rather than a swept one.
        data, data_dir: the dataset and its folder (None: an analytical point).
        seed, epochs, recipe, threads: training settings.
        finetune_epochs: fine-tuning epochs of an approximated point.
        runs_dir: where training runs live.
        pricing: the hardware grid it is priced over, as (parameter, JSON value) pairs, hardware files named by a
            digest of their contents (:func:`pricing_identity`).
    """

    model: ModelChoice
    variant: Variant
    baseline: bool = False
    data: str | None = None
    data_dir: str | None = None
    seed: int = 0
    epochs: int = 15
    recipe: str = "adam"
    threads: int = 1
    finetune_epochs: int = 0
    runs_dir: str = "runs"
    pricing: tuple[tuple[str, str], ...] = ()

    @property
    def workflow(self) -> str:
        if self.data is None:
            return "analytical"
        return "approximated" if self.variant.is_dyadic else "trained"

    @property
    def key(self) -> str:
        """A stable identifier of what the point computes (not where its data or runs live)."""
        return hashlib.sha256(json.dumps(self.settings(), sort_keys=True).encode()).hexdigest()[:16]

    def settings(self) -> dict:
        """What the point computes, as plain values: everything that decides its numbers (the model and its
        options, the variant, the data, the seed, the training settings, and every pricing parameter)."""
        settings = self.model.identity() | {"variant": self.variant.name, "baseline": self.baseline,
                                            "data": self.data, "seed": self.seed,
                    "pricing": {name: json.loads(value) for name, value in self.pricing}}
        if self.data is not None:
            settings |= {"epochs": self.epochs, "recipe": self.recipe, "threads": self.threads}
            if self.variant.is_dyadic:
                settings["finetune_epochs"] = self.finetune_epochs
        return settings

    def labels(self) -> dict:
        """The columns that name the point in a results table."""
        return {"point": self.key, "model": self.model.label, "variant": self.variant.name,
                "variant_kind": self.variant.kind, "role": "baseline" if self.baseline else "variant",
                "workflow": self.workflow, "data": self.data, "seed": self.seed,
                "epochs": self.epochs if self.data else 0,
                "finetune_epochs": self.finetune_epochs if self.workflow == "approximated" else 0}

    def dense(self) -> Point:
        """The dense point an approximated point starts from."""
        return Point(self.model, Variant.parse(DENSE), self.baseline, self.data, self.data_dir, self.seed,
                     self.epochs, self.recipe, self.threads, 0, self.runs_dir, self.pricing)


@dataclass(frozen=True)
class SweepSpec:
    """A whole sweep: models x variants x seeds, plus baseline models (dense), and the hardware grid. Build one
    with :func:`parse_spec` (or :func:`load_spec`), which checks it."""

    models: tuple[ModelChoice, ...]
    variants: tuple[Variant, ...] = (Variant.parse(DENSE),)
    baselines: tuple[ModelChoice, ...] = ()
    data: str | None = None
    data_dir: str | None = None
    seeds: tuple[int, ...] = (0,)
    epochs: int = 15
    recipe: str = "adam"
    finetune_epochs: int = 0
    threads: int = 1
    runs_dir: str = "runs"
    hardware: Mapping = field(default_factory=dict)

    def points(self) -> list[Point]:
        common = dict(data=self.data, data_dir=self.data_dir, epochs=self.epochs, recipe=self.recipe,
                      threads=self.threads, runs_dir=self.runs_dir, pricing=pricing_identity(self.hardware))
        swept = [Point(m, v, False, seed=s, finetune_epochs=self.finetune_epochs if v.is_dyadic else 0, **common)
                 for m in self.models for v in self.variants for s in self.seeds]
        dense = Variant.parse(DENSE)
        return swept + [Point(m, dense, True, seed=s, **common) for m in self.baselines for s in self.seeds]


def pricing_identity(hardware: Mapping) -> tuple[tuple[str, str], ...]:
    """The pricing parameters of a ``[hardware]`` table with every default filled in, as sorted (name, JSON value)
    pairs: a hardware or mapping file (or preset) is named by the SHA-256 of its contents too, so that an edited
    file is a different configuration."""
    from hwmodels import DEFAULTS
    from hwmodels.registry import PRESETS

    values = dict(DEFAULTS) | dict(hardware)
    identity = {}
    for name, value in values.items():
        if name in ("hw", "mapping") and value is not None:
            identity[name] = [file_identity(v, PRESETS) for v in (value if isinstance(value, list) else [value])]
        else:
            identity[name] = value
    return tuple(sorted((name, json.dumps(value, sort_keys=True)) for name, value in identity.items()))


def file_identity(value: str, presets: Path) -> str:
    """``value`` (a preset name or a file path) with the SHA-256 of the file it names."""
    path = Path(value) if Path(value).is_file() else presets / f"{value}.toml"
    digest = file_digest(path) if path.is_file() else "missing"
    return f"{value}#{digest}"


def load_spec(path: str | Path) -> SweepSpec:
    """Read and check a sweep file (see the module doc).

    Raises:
        SpecError: one line naming the file, and the table and key at fault.
    """
    try:
        import tomllib
    except ModuleNotFoundError:  # Python < 3.11
        import tomli as tomllib

    path = Path(path)
    if not path.is_file():
        raise SpecError(f"sweep file {path} not found")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except RecursionError:
        raise SpecError(f"{path}: nested too deeply to be a sweep file") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SpecError(f"{path}: not a TOML file ({exc})") from None
    return parse_spec(data, str(path))


def parse_spec(data: Mapping, source: str = "sweep spec") -> SweepSpec:
    """A checked :class:`SweepSpec` from the tables of a sweep file (``source`` names it in errors)."""
    check_known(data, TABLES, f"{source}: table", "[{}]")
    if "sweep" not in data or not isinstance(data["sweep"], Mapping):
        raise SpecError(f"{source}: no [sweep] table; expected one with at least models = [...]")
    table = dict(data["sweep"])
    check_known(table, [k.name for k in SWEEP_KEYS], f"{source}: [sweep] key", "'{}'")

    def where(key: str) -> str:
        return f"{source}: [sweep] {key}"

    if "models" not in table:
        raise SpecError(f"{where('models')} is missing; expected a list of model names")
    values = {k.name: table.get(k.name, k.default) for k in SWEEP_KEYS}
    analytical = values["data"] is None
    spec = SweepSpec(
        models=tuple(model_choice(m, where("models"), analytical)
                     for m in as_list(values["models"], where("models"), True)),
        variants=tuple(variant(v, where("variants")) for v in as_list(values["variants"], where("variants"), True)),
        baselines=tuple(model_choice(m, where("baselines"), analytical)
                        for m in as_list(values["baselines"], where("baselines"))),
        data=optional_text(values["data"], where("data")),
        data_dir=optional_text(values["data_dir"], where("data_dir")),
        seeds=tuple(integer(s, where("seeds"), 0) for s in as_list(values["seeds"], where("seeds"), True)),
        epochs=integer(values["epochs"], where("epochs"), 1),
        recipe=choice(values["recipe"], where("recipe"), tuple(RECIPES)),
        finetune_epochs=integer(values["finetune_epochs"], where("finetune_epochs"), 0),
        threads=integer(values["threads"], where("threads"), 1),
        runs_dir=optional_text(values["runs_dir"], where("runs_dir")),
        hardware=dict(data.get("hardware", {})),
    )
    if spec.data is not None:
        try:
            check_dataset(spec.data, spec.data_dir)
        except DatasetError as exc:
            raise SpecError(f"{where('data')}: {exc}") from None
        check_creatable(Path(spec.runs_dir), where("runs_dir"))
    check_hardware(spec.hardware, source)
    return spec


def check_known(table: Mapping, known, what: str, form: str) -> None:
    for name in table:
        if name not in known:
            close = difflib.get_close_matches(str(name), list(known), n=1)
            hint = f"did you mean {form.format(close[0])}? " if close else ""
            raise SpecError(f"{what} {form.format(name)} is unknown; {hint}expected one of "
                            f"{', '.join(form.format(k) for k in known)}")


def as_list(value, where: str, non_empty: bool = False) -> list:
    values = value if isinstance(value, list) else [value]
    if non_empty and not values:
        raise SpecError(f"{where} is empty; expected at least one value")
    return values


def integer(value, where: str, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise SpecError(f"{where} = {value!r}; expected an integer >= {minimum}")
    return value


def optional_text(value, where: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise SpecError(f"{where} = {value!r}; expected a string")
    return value


def choice(value, where: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        close = difflib.get_close_matches(str(value), choices, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise SpecError(f"{where} = {value!r} is unknown; {hint}expected one of {', '.join(choices)}")
    return value


def variant(value, where: str) -> Variant:
    try:
        return Variant.parse(value)
    except VariantError as exc:
        raise SpecError(f"{where}: {exc}") from None


def model_choice(value, where: str, analytical: bool) -> ModelChoice:
    """A model name or ``path/to/file.py:factory``, or a table with ``name``, an optional ``input`` (N, C, H, W:
    the shape an analytical point is priced at) and factory options (plain values). A factory file is checked to
    exist but not run here (it runs when the sweep builds its models); an analytical point of a file needs
    ``input``."""
    if isinstance(value, Mapping):
        options = dict(value)
        name = options.pop("name", None)
        shape = options.pop("input", None)
        bad = [k for k, v in options.items() if not isinstance(v, (int, float, str, bool))]
        if bad:
            raise SpecError(f"{where}: option {bad[0]} = {options[bad[0]]!r}; expected a number, string or boolean")
    else:
        name, options, shape = value, {}, None
    if not isinstance(name, str):
        raise SpecError(f"{where}: {value!r}; expected a model name or a table with name = \"...\"")
    input_shape = None if shape is None else input_of(shape, f"{where}: {name} input")
    if is_file_reference(name):
        try:
            source = file_digest(factory_path(name))
        except ModelLoadError as exc:
            raise SpecError(f"{where}: {exc}") from None
        if analytical and input_shape is None:
            raise SpecError(f"{where}: model '{name}' is a factory file, which has no registered input shape; "
                            "expected a table {name = \"...\", input = [N, C, H, W]} or a [sweep] data set")
        return ModelChoice(name, tuple(sorted(options.items())), input_shape, source)
    try:
        entry(name)
    except UnknownModelError as exc:
        raise SpecError(f"{where}: {exc}") from None
    return ModelChoice(name, tuple(sorted(options.items())), input_shape)


def input_of(value, where: str) -> tuple[int, ...]:
    """An input shape from a list of positive integers (N, C, H, W...)."""
    if (not isinstance(value, list) or not value
            or any(not isinstance(d, int) or isinstance(d, bool) or d < 1 for d in value)):
        raise SpecError(f"{where} = {value!r}; expected a list of positive integers like [1, 3, 32, 32]")
    return tuple(value)


def check_creatable(folder: Path, where: str) -> None:
    """``folder`` exists and is writable, or can be created (its nearest existing parent is writable)."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise SpecError(f"{where} = '{folder}': {existing} is not a writable folder")


def check_hardware(hardware: Mapping, source: str) -> None:
    """Every ``[hardware]`` key and value, and the hardware files named, checked by the pricing's own grid."""
    from hwmodels import configuration_grid

    try:
        configuration_grid(**hardware)
    except (TypeError, ValueError, OSError) as exc:
        raise SpecError(f"{source}: [hardware] {str(exc).splitlines()[0]}") from None
