"""Reproduction tables of the seed papers' claims: complexity and energy (analytical), and for the dyadic
method also accuracy on the bundled digits (trained here, run folders reused)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch
from torch import nn

from .counting import profile
from .data import load_dataset
from .energy import energy, price_profile, structural_params
from .models import create, entry
from .train import FINETUNE_LR, TrainConfig, evaluate, load_run_model, train_or_resume
from .variants import PAPER_VARIANTS, apply_variant, approximate

DYADIC_LEVELS = ("t1e-4", "t1e-8", "t2e-4", "t2e-8", "t3e-8")
"""Levels of the dyadic tables: terms 1/2/3 and two exponent ranges."""

PERIODIC_TABLE_MODELS = ("resnet18_cifar", "vgg16_cifar", "resnet18_tiny", "vgg16_tiny")


def unit_weight_model(name: str) -> nn.Module:
    """Registered model ``name`` with every parameter and buffer 1, built without running its initialisers,
    so that only masks make zeros (random initial values can be exactly 0)."""
    with torch.device("meta"):
        model = create(name)
    model.to_empty(device="cpu")
    with torch.no_grad():
        for tensor in list(model.parameters()) + list(model.buffers()):
            tensor.fill_(1)
    return model


def conv_weights(layers: pd.DataFrame) -> int:
    """Non-zero convolution weights."""
    return int(layers.loc[layers["type"].str.startswith("Conv"), "weight_nnz"].sum())


def periodic_complexity_table(models=PERIODIC_TABLE_MODELS, variants=("dense",) + PAPER_VARIANTS,
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

    rows = []
    jobs = [(name, variant) for name in models for variant in variants]
    bar = tqdm(total=len(jobs), desc="periodic table", unit="variant", disable=not progress)
    for name in models:
        base = unit_weight_model(name)
        shape = entry(name).input_shape
        for variant in variants:
            model = apply_variant(base, variant)
            prof = profile(model, input_shape=shape)
            row = {"model": name, "variant": variant, "params": structural_params(prof),
                   "conv_weights": conv_weights(prof.layers), "macs": int(prof.layers["nz_macs"].sum())}
            for b in bits:
                priced = price_profile(prof, {"hw": hw, "weight_bits": b, "act_bits": b})
                row[f"energy_uj_{b}bit"] = priced.loc[0, "energy_uj"]
            step = profile(model, input_shape=(train_batch,) + tuple(shape[1:]), backward=True)
            row["train_energy_uj"] = price_profile(step, {"hw": hw, "weight_bits": bits[0], "act_bits": bits[0]},
                                                   optimizer).loc[0, "energy_uj"]
            rows.append(row)
            bar.update()
        reference = next((r for r in rows[-len(variants):] if r["variant"] == "dense"), rows[-len(variants)])
        for row in rows[-len(variants):]:
            row["param_reduction_pct"] = 100 * (1 - row["params"] / reference["params"])
            row["conv_weight_reduction_pct"] = 100 * (1 - row["conv_weights"] / reference["conv_weights"])
            row["mac_ratio"] = reference["macs"] / row["macs"]
            row["train_ratio"] = row["train_energy_uj"] / reference["train_energy_uj"]
    bar.close()
    columns = ["model", "variant", "params", "param_reduction_pct", "conv_weights", "conv_weight_reduction_pct",
               "macs", "mac_ratio"] + [f"energy_uj_{b}bit" for b in bits] + ["train_energy_uj", "train_ratio"]
    return pd.DataFrame(rows)[columns]


BUNDLED_DATA = {(1, 8, 8): "digits", (1, 28, 28): "digits28"}
"""Bundled datasets (scikit-learn's digits, at 8x8 and upscaled to 28x28) by the input shape they fit."""


def trained_weights(model: str, runs_dir: str = "runs", epochs: int = 15, seed: int = 0,
                    progress: bool = False) -> tuple[nn.Module, str]:
    """Registered ``model`` with trained weights, and where they come from: a finished dense run of it under
    ``runs_dir``, or a run trained here (resumable, reused) on the bundled data its input fits; failing both, its
    seeded initial weights, said so (CSD costs and approximation errors depend on the values)."""
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
        if record and record["model"] == model and record["variant"] in (None, "dense"):
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


def approximation_rows(model: nn.Module, levels, input_shape, hw: str, bits: int, per_layer: bool,
                       lrn: str = "keep", progress: bool = False) -> pd.DataFrame:
    """Counts, energy and weight approximation error of ``model`` in float and at each dyadic level (whole model
    or per layer); at each level, the layer types that still multiply and why."""
    from tqdm.auto import tqdm

    from .variants.dyadic import approximation_error

    frames = []
    for level in tqdm(("float",) + tuple(levels), desc="dyadic levels", disable=not progress):
        variant = model if level == "float" else approximate(model, level, lrn=lrn)
        prof = profile(variant, input_shape=input_shape)
        priced = energy(prof, hw, weight_bits=bits, act_bits=bits).layers.groupby("name", sort=False)["energy_pj"].sum()
        layers = prof.layers.assign(energy_uj=priced.reindex(prof.layers.index, fill_value=0.0).to_numpy() / 1e6)
        columns = ["mults", "adds", "shifts", "compares", "other_ops", "energy_uj"]
        if per_layer:
            frame = layers[["type"] + columns].reset_index()
        else:
            frame = layers[columns].sum().to_frame().T.astype({c: "int64" for c in columns[:-1]})
            frame["weight_error"] = 0.0 if level == "float" else approximation_error(variant)
            frame["mults_left_in"] = "" if level == "float" else remaining_multiplications(layers)
        frames.append(frame.assign(level=level))
    table = pd.concat(frames, ignore_index=True)
    return table[["level"] + [c for c in table.columns if c != "level"]]


def dyadic_complexity_table(model: str, levels=DYADIC_LEVELS, hw: str = "horowitz45", bits: int = 8,
                            per_layer: bool = False, seed: int = 0, runs_dir: str = "runs", epochs: int = 15,
                            lrn: str = "keep", progress: bool = False) -> pd.DataFrame:
    """Operations, energy and weight approximation error of a registered model in float and at each dyadic level,
    on trained weights (:func:`trained_weights`; the source is in ``table.attrs["weights"]``)."""
    weights, source = trained_weights(model, runs_dir, epochs, seed, progress)
    table = approximation_rows(weights, levels, entry(model).input_shape, hw, bits, per_layer, lrn, progress)
    table.attrs["weights"] = source
    return table


def dyadic_accuracy_table(model: str = "digits_cnn", data: str = "digits", levels=DYADIC_LEVELS,
                          epochs: int = 15, finetune_epochs: int = 3, hw: str = "horowitz45", bits: int = 8,
                          out: str = "runs/dyadic", seed: int = 0, progress: bool = False) -> pd.DataFrame:
    """Accuracy against approximation level, with and without straight-through fine-tuning, next to the
    operation counts and energy, against the float model (trained here on ``data``; no download)."""
    splits = load_dataset(data)
    base_config = TrainConfig(model, data=data, epochs=epochs, seed=seed, out=out)
    train_or_resume(base_config, splits, progress)
    base = load_run_model(base_config, splits.num_classes)
    device = next(base.parameters()).device
    counts = approximation_rows(base, levels, (1,) + splits.input_shape, hw, bits, per_layer=False,
                                progress=progress).set_index("level")
    rows = []
    for level in ("float",) + tuple(levels):
        approx = base if level == "float" else approximate(base, level)
        row = {"level": level, "test_top1": evaluate(approx, splits, device)["test_top1"]}
        if level != "float":
            tuned = TrainConfig(model, data=data, variant=f"dyadic:{level}", epochs=finetune_epochs, lr=FINETUNE_LR,
                                seed=seed, out=out, init_from=str(base_config.run_dir))
            row["test_top1_finetuned"] = train_or_resume(tuned, splits, progress)["test_top1"]
        rows.append(row | counts.loc[level].to_dict())
    kinds = ["mults", "adds", "shifts", "compares", "other_ops"]
    return pd.DataFrame(rows).astype({k: "int64" for k in kinds})
