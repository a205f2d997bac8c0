"""Reproduction tables of the seed papers' claims, formatted on top of the shared workflows: complexity and energy
(analytical, :func:`~estimator.points.price_points`), dyadic tables on trained weights, dyadic accuracy through a
sweep (:mod:`estimator.sweep`, whose run naming they share), and the seed paper's published points priced here."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch
from torch import nn

from .counting import profile
from .energy import energy
from .literature import (
    BASELINES,
    COMPARISON_FIGURE,
    KUNDU2020,
    READ_ERROR_GMAC,
    REGISTRY_MODELS,
    citation,
    load,
)
from .models import create, entry, unit_weight_model
from .plan import ModelChoice, SweepSpec
from .points import Pricer, price_profile, structural_params
from .sweep import sweep
from .train import TrainConfig, load_run_model, train_or_resume
from .variants import DENSE, DYADIC_PREFIX, PAPER_VARIANTS, Variant, approximate
from .variants.specs import DYADIC_LEVELS

PERIODIC_TABLE_MODELS = ("resnet18_cifar", "vgg16_cifar", "resnet18_tiny", "vgg16_tiny")


def conv_weights(layers: pd.DataFrame) -> int:
    """Non-zero convolution weights."""
    return int(layers.loc[layers["type"].str.startswith("Conv"), "weight_nnz"].sum())


def periodic_complexity_table(models=PERIODIC_TABLE_MODELS, variants=(DENSE,) + PAPER_VARIANTS,
                              bits=(8, 16), hw="horowitz45", train_batch: int = 32, optimizer: str = "sgd",
                              progress: bool = False) -> pd.DataFrame:
    """Parameters, reductions, MACs (zeros skipped, the paper's "FLOPs"), inference energy and the energy of one
    training step per model and variant.

    Analytical: shapes and masks only (weights are set to 1 before masking, so only masks make zeros).

    Inference energy uses the model's default input (batch 1), weights and activations of each width in
    ``bits``, the periodic storage format for periodic layers, and the remaining pricing defaults of
    ``hwmodels.DEFAULTS``. The training step (``train_batch`` images, ``optimizer``) is priced at the first width:
    forward, input and weight gradients, and the update; a periodic pattern is pre-defined, so its masked weights'
    gradients are neither computed nor stored, nor the weights updated (see :mod:`estimator.workload`).
    ``train_ratio`` is the variant's training-step energy over the dense model's.
    """
    from tqdm.auto import tqdm

    variants = [Variant.parse(v) for v in variants]
    inference, step = Pricer(), Pricer(training=True)
    rows = []
    bar = tqdm(total=len(models) * len(variants), desc="periodic table", unit="variant", disable=not progress)
    for name in models:
        base = unit_weight_model(name)
        shape = tuple(entry(name).input_shape)
        for variant in variants:
            model = variant.apply(base)
            prof = inference.profile(model, shape)
            row = {"model": name, "variant": variant.name, "params": structural_params(prof),
                   "conv_weights": conv_weights(prof.layers), "macs": int(prof.layers["nz_macs"].sum())}
            for b in bits:
                row[f"energy_uj_{b}bit"] = price_profile(prof, {"hw": hw, "weight_bits": b, "act_bits": b}).loc[
                    0, "energy_uj"]
            row["train_energy_uj"] = price_profile(step.profile(model, (train_batch,) + shape[1:]), {
                "hw": hw, "weight_bits": bits[0], "act_bits": bits[0]}, optimizer).loc[0, "energy_uj"]
            rows.append(row)
            bar.update()
    bar.close()
    table = pd.DataFrame(rows)
    reference = DENSE if any(v.is_dense for v in variants) else variants[0].name
    dense = table[table["variant"] == reference].set_index("model").reindex(table["model"]).reset_index(drop=True)
    table["param_reduction_pct"] = 100 * (1 - table["params"] / dense["params"])
    table["conv_weight_reduction_pct"] = 100 * (1 - table["conv_weights"] / dense["conv_weights"])
    table["mac_ratio"] = dense["macs"] / table["macs"]
    table["train_ratio"] = table["train_energy_uj"] / dense["train_energy_uj"]
    columns = ["model", "variant", "params", "param_reduction_pct", "conv_weights", "conv_weight_reduction_pct",
               "macs", "mac_ratio"] + [f"energy_uj_{b}bit" for b in bits] + ["train_energy_uj", "train_ratio"]
    return table[columns]


PSC_COMPARED = ("PS2_P6", "PSD1_P8", "pSC2")
"""Equal-density variants (2/9 of each kernel kept) whose storage differs only in how positions are indexed."""


def psc_index_table(model: str = "resnet18_cifar", variants=PSC_COMPARED, bits: int = 8, hw="horowitz45",
                    train_batch: int = 32, optimizer: str = "sgd") -> pd.DataFrame:
    """Inference and training-step energy of equal-density periodic and pSC variants under every ``psc_index``
    (how pSC's random k-of-9 kernels are indexed, :data:`hwmodels.parameters.PSC_INDEXES`; periodic variants are
    unaffected), with each pSC variant's energy over the cheapest periodic variant's at the same index."""
    from hwmodels.parameters import PSC_INDEXES

    base, shape = unit_weight_model(model), tuple(entry(model).input_shape)
    inference, step = Pricer(), Pricer(training=True)
    pricing = {"hw": hw, "weight_bits": bits, "act_bits": bits, "psc_index": list(PSC_INDEXES)}
    frames = []
    for variant in (Variant.parse(v) for v in variants):
        masked = variant.apply(base)
        once = price_profile(inference.profile(masked, shape), pricing)
        train = price_profile(step.profile(masked, (train_batch,) + shape[1:]), pricing, optimizer)
        frames.append(pd.DataFrame({"model": model, "variant": variant.name, "kind": variant.kind,
                                    "psc_index": once["psc_index"], "energy_uj": once["energy_uj"],
                                    "train_energy_uj": train["energy_uj"]}))
    table = pd.concat(frames, ignore_index=True)
    periodic = table[table["kind"] == "periodic"].groupby("psc_index")[["energy_uj", "train_energy_uj"]].min()
    best = periodic.reindex(table["psc_index"]).to_numpy()
    table["over_periodic"] = table["energy_uj"] / best[:, 0]
    table["train_over_periodic"] = table["train_energy_uj"] / best[:, 1]
    return table.drop(columns="kind").sort_values(["psc_index", "variant"], key=lambda c: c.map(
        {k: i for i, k in enumerate(PSC_INDEXES)}) if c.name == "psc_index" else c).reset_index(drop=True)


BUNDLED_DATA = {(1, 8, 8): "digits", (1, 28, 28): "digits28"}
"""Bundled datasets (scikit-learn's digits, at 8x8 and upscaled to 28x28) by the input shape they fit."""


def trained_weights(model: str, runs_dir: str = "runs", epochs: int = 15, seed: int = 0,
                    progress: bool = False) -> tuple[nn.Module, str]:
    """Registered ``model`` with trained weights, and where they come from: a run trained here (resumable, reused)
    on the bundled data its input fits, or a finished dense run of it under ``runs_dir``; failing both, its seeded
    initial weights, said so (CSD costs and approximation errors depend on the values)."""
    from .data import load_dataset
    from .train import is_finished, read_run

    data = BUNDLED_DATA.get(tuple(entry(model).input_shape[1:]))
    if data is not None:
        config = TrainConfig(model, data=data, epochs=epochs, seed=seed, out=runs_dir)
        splits = load_dataset(data)
        final = train_or_resume(config, splits, progress)
        return load_run_model(config, splits.num_classes), (
            f"trained weights: {config.run_dir} ({data}, {epochs} epochs, test top-1 {final['test_top1']:.2f}%)")
    for run_dir in sorted(Path(runs_dir).glob(f"{model}-*")):
        record = read_run(run_dir) if is_finished(run_dir) else None
        if record and record["model"] == model and record["variant"] == DENSE:
            trained = load_run_model(TrainConfig(**record["config"]),
                                     record.get("num_classes", entry(model).num_classes))
            return trained, f"trained weights: {run_dir}"
    torch.manual_seed(seed)
    return create(model), (f"initial weights (seed {seed}): no finished run of {model} under {runs_dir}/ and no "
                           f"bundled dataset fits its input {entry(model).input_shape[1:]}; train one with "
                           f"`estimator train {model} --data ... --out {runs_dir}`")


def remaining_multiplications(layers: pd.DataFrame) -> str:
    """The layer types of an approximated model that still multiply, each with why (empty: none)."""
    from .variants.dyadic import STILL_MULTIPLYING

    types = layers.loc[layers["mults"] > 0, "type"].unique()
    return "; ".join(f"{t}: {STILL_MULTIPLYING.get(t, 'not approximated')}" for t in types)


def dyadic_variants(levels) -> list[Variant]:
    """The dense model and the dyadic variants of ``levels`` (``t2e-4`` or ``dyadic:t2e-4``)."""
    return [Variant.parse(DENSE)] + [Variant.parse(DYADIC_PREFIX + str(level).removeprefix(DYADIC_PREFIX))
                                     for level in levels]


def approximation_rows(model: nn.Module, levels, input_shape, hw: str, bits: int, per_layer: bool,
                       lrn: str = "keep", progress: bool = False) -> pd.DataFrame:
    """Counts, energy and weight approximation error of ``model`` (dense) and at each dyadic level (whole model
    or per layer); at each level, the layer types that still multiply and why; for a model with local response
    normalisation, an ``lrn`` column saying whether it was kept or dropped at that level."""
    from tqdm.auto import tqdm

    from .variants.dyadic import approximation_error

    frames = []
    for variant in tqdm(dyadic_variants(levels), desc="dyadic levels", disable=not progress):
        approximated = model if variant.is_dense else approximate(model, variant.dyadic, budget=variant.budget,
                                                                   lrn=lrn)
        prof = profile(approximated, input_shape=input_shape)
        priced = energy(prof, hw, weight_bits=bits, act_bits=bits).layers.groupby("name", sort=False)["energy_pj"].sum()
        layers = prof.layers.assign(energy_uj=priced.reindex(prof.layers.index, fill_value=0.0).to_numpy() / 1e6)
        columns = ["mults", "adds", "shifts", "compares", "other_ops", "energy_uj"]
        if per_layer:
            frame = layers[["type"] + columns].reset_index()
        else:
            frame = layers[columns].sum().to_frame().T.astype({c: "int64" for c in columns[:-1]})
            frame["weight_error"] = 0.0 if variant.is_dense else approximation_error(approximated)
            frame["mults_left_in"] = "" if variant.is_dense else remaining_multiplications(layers)
        if any(isinstance(m, nn.LocalResponseNorm) for m in model.modules()):
            frame["lrn"] = "dropped" if lrn == "drop" and not variant.is_dense else "kept"
        frames.append(frame.assign(variant=variant.name))
    table = pd.concat(frames, ignore_index=True)
    return table[["variant"] + [c for c in table.columns if c != "variant"]]


def dyadic_complexity_table(model: str, levels=DYADIC_LEVELS, hw: str = "horowitz45", bits: int = 8,
                            per_layer: bool = False, seed: int = 0, runs_dir: str = "runs", epochs: int = 15,
                            lrn: str = "keep", progress: bool = False) -> pd.DataFrame:
    """Operations, energy and weight approximation error of a registered model, dense and at each dyadic level,
    on trained weights (:func:`trained_weights`; the source is in ``table.attrs["weights"]``)."""
    weights, source = trained_weights(model, runs_dir, epochs, seed, progress)
    table = approximation_rows(weights, levels, entry(model).input_shape, hw, bits, per_layer, lrn, progress)
    table.attrs["weights"] = source
    return table


def dyadic_accuracy_table(model: str = "digits_cnn", data: str = "digits", levels=DYADIC_LEVELS,
                          epochs: int = 15, finetune_epochs: int = 3, hw: str = "horowitz45", bits: int = 8,
                          out: str = "runs", seed: int = 0, workers: int | None = None,
                          progress: bool = False) -> pd.DataFrame:
    """Accuracy against approximation level, as approximated and after ``finetune_epochs`` of straight-through
    fine-tuning, next to the operation counts and energy of the model as deployed (fine-tuned), against the dense
    model: a sweep of the approximated workflow (trained here on ``data``; runs in ``out`` reused)."""
    spec = SweepSpec(models=(ModelChoice(model),), variants=tuple(dyadic_variants(levels)), data=data, seeds=(seed,),
                     epochs=epochs, finetune_epochs=finetune_epochs, runs_dir=out,
                     hardware={"hw": hw, "weight_bits": bits, "act_bits": bits})
    table = sweep(spec, workers=workers, progress=progress)
    approximated = table["test_top1_approximated"].fillna(table["test_top1"])
    tuned = table["test_top1"].where(table["variant_kind"] == "dyadic") if finetune_epochs else pd.NA
    kinds = ["mults", "adds", "shifts", "compares", "other_ops"]
    return table[["variant"] + kinds + ["energy_uj"]].assign(test_top1=approximated, test_top1_finetuned=tuned)


def priced_literature(name: str = KUNDU2020, hardware: dict | None = None, dataset: str | None = "cifar10",
                      figures: tuple[str, ...] | None = ("Res_CIFAR-10", "VGG_CIFAR-10", COMPARISON_FIGURE)
                      ) -> pd.DataFrame:
    """The published points' accuracy (``test_top1``: the figure's accuracy) beside what this tool counts and
    estimates for the same models and variants (analytical, on ``hardware``): ``gmac_ours`` (MACs of conv and
    linear layers with zero weights skipped, G) next to the figure's ``gmac_read``, their difference and whether
    it is within the read error (:data:`~estimator.literature.READ_ERROR_GMAC`), and every priced column.
    ``dataset`` and ``figures`` select the points (the default: every CIFAR-10 point once, the per-model figures
    and the comparison figure's baselines); ``table.attrs["citation"]`` names the source."""
    published = load(name)
    if dataset is not None:
        published = published[published["dataset"] == dataset]
    if figures is not None:
        published = published[published["figure"].isin(figures)]
        duplicate = published.duplicated(["model", "dataset", "variant"], keep="first")
        published = published[~duplicate]  # a variant in a per-model figure and the comparison: the former
    published = published.assign(registry=[REGISTRY_MODELS[m, d] for m, d in zip(
        published["model"], published["dataset"], strict=True)])
    rows = [sweep(SweepSpec(models=(ModelChoice(model),), variants=tuple(Variant.parse(v) for v in
                                                                           group["variant"].unique()),
                            hardware=dict(hardware or {})))
            for model, group in published.groupby("registry", sort=False)]
    priced = pd.concat(rows, ignore_index=True).drop(columns=["test_top1"], errors="ignore")
    priced = priced.rename(columns={"model": "registry"}).assign(gmac_ours=lambda t: t["nz_macs"] / 1e9)
    table = published.merge(priced, on=["registry", "variant"], how="inner")
    error = table["gmac_ours"] - table["gmac_read"]
    table = table.assign(test_top1=table["accuracy_pct"], model=table["registry"], gmac_difference=error,
                         role=table["model"].map(lambda m: "baseline" if m in BASELINES else "variant"),
                         gmac_within_read_error=error.abs() <= table["dataset"].map(READ_ERROR_GMAC))
    table.attrs["citation"] = citation(name)
    return table
