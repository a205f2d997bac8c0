"""The ``estimator`` command line. An expected failure (a :class:`~hwmodels.errors.UserError`: bad input, a missing
or malformed file, a configuration that cannot run; or an ``OSError``) is one line on stderr and exit code 2,
recognised by type, also when a worker process raised it; anything else is reported as an internal error with exit
code 3 and a hint to rerun with ``--debug`` (anywhere on the line), which shows the traceback. Commands import what
they need when they run, so ``--help`` starts without loading torch."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from hwmodels.errors import UserError

HW_HELP = "hardware: a preset (horowitz45, eyeriss65, ...: hwmodels.available()), a TOML file or a ZigZag YAML"


def write_output(text: str, out: str | None) -> None:
    if out:
        from .io import atomic_write_text

        atomic_write_text(out, text)
        print(f"wrote {out}", file=sys.stderr)
    else:
        print(text)


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="registered model name (see `estimator models`) or path/to/file.py:factory")
    parser.add_argument("--input", help="input shape N,C,H,W (default: the model's registered shape)")
    parser.add_argument("--num-classes", type=at_least(1), help="classifier outputs (default: the model's)")
    parser.add_argument("--variant", default="dense", help="a model variant: dense (default), periodic sparsity "
                                                           "(PS4_P4, PSD1_P16, pSC2...) or dyadic (dyadic:t2e-4)")


def add_densities_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--densities", type=densities_argument, help="activation densities (non-zero shares) for "
                        "hardware that gates, skips or compresses zeros: a CSV of name,input_density,output_density "
                        "(Profile.save_densities writes one from a real-input profile) or one fraction for every "
                        "layer (default: dense)")


def densities_argument(text: str):
    """An argparse type: a fraction 0..1, or an existing densities CSV file."""
    from .counting.densities import fraction

    try:
        float(text)
    except ValueError:
        if not Path(text).is_file():
            raise argparse.ArgumentTypeError(f"'{text}' is neither a fraction 0..1 nor an existing densities CSV "
                                             "file") from None
        return text
    try:
        return fraction(text, "densities")
    except UserError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_output_arguments(parser: argparse.ArgumentParser, formats=("table", "csv")) -> None:
    parser.add_argument("--format", choices=list(formats), default="table",
                        help=f"output format: {', '.join(formats)} (default: table)")
    parser.add_argument("--out", help="write to this file instead of stdout")


def add_dyadic_arguments(parser: argparse.ArgumentParser) -> None:
    from .variants.specs import DYADIC_LEVELS

    parser.add_argument("--levels", nargs="+", default=list(DYADIC_LEVELS), help="dyadic levels, e.g. t2e-8")
    parser.add_argument("--hw", default="horowitz45", help=HW_HELP)
    parser.add_argument("--bits", type=at_least(1), default=8, help="bits per weight")
    parser.add_argument("--seed", type=at_least(0), default=0, help="random seed")


def build_model(args):
    """The model and input shape named by the common model arguments, variant applied."""
    from .loading import load_model, parse_shape
    from .variants import Variant

    variant = Variant.parse(args.variant)  # checked before the model is built
    shape = parse_shape(args.input) if args.input else None
    model, shape = load_model(args.model, shape, args.num_classes)
    if not variant.is_dense:
        model = variant.apply(model)
    return model, shape


def run_profile_command(model, shape, args):
    """Profile ``model`` on meta inputs of ``shape``, reporting a rejected input as a user error."""
    from . import profile
    from .counting.capture import InputShapeError

    try:
        return profile(model, input_shape=shape, backward=args.backward, densities=args.densities)
    except (RuntimeError, ValueError, TypeError, IndexError) as exc:
        if isinstance(exc, UserError) and not isinstance(exc, InputShapeError):
            raise  # names its op, module or file already
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"model '{args.model}' rejected an input of shape {','.join(map(str, shape))}: "
                       f"{first_line}") from exc


def check_out(args, what: str) -> None:
    """``--out``'s folder exists and is writable: checked before any work (nothing is created)."""
    if getattr(args, "out", None):
        from .io import check_writable

        check_writable(args.out, what)


def cmd_profile(args) -> None:
    import torch

    from .counting.crosscheck import crosscheck

    check_out(args, "output file")
    model, shape = build_model(args)
    result = run_profile_command(model, shape, args)
    if args.format == "csv":
        text = result.to_csv()
    elif args.format == "json":
        text = result.to_json(model=args.model, input_shape=shape)
    else:
        text = result.to_table(max_depth=args.depth)
    write_output(text, args.out)
    if result.unsupported:
        print("unsupported ops (not counted): " + ", ".join(result.unsupported), file=sys.stderr)
    if args.crosscheck:
        table = crosscheck(model, torch.randn(shape), all_layers=False)
        mismatches = int(table["mac_mismatch"].sum())
        print(f"\ncrosscheck against fvcore and FlopCounterMode/2: {mismatches} layer(s) with different "
              f"conv/linear/matmul MACs; {len(table) - mismatches} layer(s) differ only by convention")
        import pandas as pd

        with pd.option_context("display.width", 200, "display.max_colwidth", 90):
            print(table.to_string() if len(table) else "(no differences)")


def at_least(low: int):
    """An argparse type: an integer >= ``low`` (named in the one-line error otherwise)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{value} is below {low}; expected an integer >= {low}")
        return value

    parse.__name__ = "integer"
    return parse


def positive_float(text: str) -> float:
    """An argparse type: a finite number > 0."""
    value = nonnegative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError("0 is not positive; expected a number > 0")
    return value


def nonnegative_float(text: str) -> float:
    """An argparse type: a finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{value} is not a finite number >= 0")
    return value


def add_pricing_arguments(parser: argparse.ArgumentParser) -> None:
    """One option per pricing parameter, generated from the library's table (``hwmodels.PARAMETERS``) so that the
    two cannot drift apart; an option left out keeps the library's default."""
    from hwmodels.parameters import PARAMETERS

    for p in PARAMETERS:
        flag = "--" + p.name.replace("_", "-")
        default = p.default_text
        if p.kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None,
                                help=f"{p.help} (default: {default})")
        else:
            parser.add_argument(flag, type=values_of(p), default=None,
                                metavar="{" + ",".join(p.choices) + "}" if p.choices else p.kind.__name__.upper(),
                                help=f"{p.help} (default: {default}; a comma-separated list sweeps it)")


def values_of(parameter):
    """The argparse type of a pricing option: one value, or a comma-separated list (``4,8``) that sweeps it; each
    value converted to the parameter's type and, for a choice, checked against the choices."""
    def parse(text: str):
        values = []
        for part in text.split(","):
            try:
                value = parameter.kind(part.strip())
            except ValueError:
                raise argparse.ArgumentTypeError(f"{part.strip()!r} is not a {parameter.kind.__name__}") from None
            if parameter.choices and value not in parameter.choices:
                raise argparse.ArgumentTypeError(f"{value!r} is not one of {', '.join(parameter.choices)}")
            values.append(value)
        return values[0] if len(values) == 1 else values

    parse.__name__ = parameter.kind.__name__
    return parse


def pricing_config(args) -> dict:
    """The pricing parameters given on the command line (the rest keep the library's defaults)."""
    from hwmodels.parameters import PARAMETERS

    return {p.name: getattr(args, p.name) for p in PARAMETERS if getattr(args, p.name) is not None}


def cmd_energy(args) -> None:
    from hwmodels import configuration_grid

    from .energy import energy, energy_table_text

    configuration_grid(**pricing_config(args))  # the hardware files and values, checked before any model work
    check_out(args, "output file")
    model, shape = build_model(args)
    args.backward = args.training
    result = run_profile_command(model, shape, args)
    table = energy(result, optimizer=args.optimizer, **pricing_config(args))
    frame = table.levels if args.levels else table.layers
    if args.format == "csv":
        text = frame.to_csv(index=False)
    elif args.format == "json":
        text = frame.to_json(orient="records", indent=1)
    else:
        text = energy_table_text(table, batch=shape[0] if shape else 1)
    write_output(text, args.out)


def cmd_crosscheck_hw(args) -> None:
    from .hwcheck import crosscheck_model, crosscheck_text

    model, shape = build_model(args)
    result = crosscheck_model(model, shape, args.hw, args.mapping, kinds=("conv", "matmul"),
                              lpf_limit=args.loop_factor_limit)
    write_output(crosscheck_text(result), args.out)


def cmd_train(args) -> None:
    from .train import TrainConfig, train

    config = TrainConfig(model=args.model, data=args.data, data_dir=args.data_dir, variant=args.variant,
                         recipe=args.recipe, threads=args.threads, epochs=args.epochs, batch_size=args.batch_size,
                         optimizer=args.optimizer,
                         lr=args.lr, weight_decay=args.weight_decay, seed=args.seed, device=args.device, out=args.out,
                         run=args.run, init_from=args.init_from, workers=args.workers)
    result = train(config, resume=args.resume, progress=not args.quiet)
    final = result.final
    print(f"{result.run_dir}: epoch {int(final['epoch'])}, test top-1 {final['test_top1']:.2f}%, "
          f"top-5 {final['test_top5']:.2f}%")


def cmd_periodic_table(args) -> None:
    from .reports import periodic_complexity_table, psc_index_table

    table = periodic_complexity_table(models=args.models, bits=tuple(args.bits), hw=args.hw,
                                      train_batch=args.train_batch, optimizer=args.optimizer, progress=True)
    if args.format == "csv":
        write_output(table.to_csv(index=False), args.out)
        return
    index = psc_index_table(bits=args.bits[0], hw=args.hw, train_batch=args.train_batch, optimizer=args.optimizer)
    formats = {"params": "{:,}".format, "conv_weights": "{:,}".format, "macs": "{:,}".format,
               "param_reduction_pct": "{:.1f}%".format, "conv_weight_reduction_pct": "{:.1f}%".format,
               "mac_ratio": "{:.2f}x".format, "train_ratio": "{:.3f}".format}
    formats.update({c: "{:,.1f}".format for c in table.columns if "energy_uj" in c})
    text = table.to_string(index=False, formatters=formats)
    write_output(f"{text}\n\nmacs: MACs with zero weights skipped (the paper's FLOPs; FLOPs = 2 x MACs elsewhere). "
                 f"energy: uJ per inference on {args.hw}, weights and activations at the stated width. "
                 f"train_energy_uj: one training step of {args.train_batch} images ({args.optimizer}) at "
                 f"{args.bits[0]} bits, masked weights' gradients and updates skipped (pre-defined); train_ratio: "
                 "over the dense model's. pSC kernels indexed by a position code per kernel (psc_index; the other "
                 "indexes below). Estimates: see `estimator energy` for the values used.\n\n"
                 "Equal-density variants under each pSC index (how the random k-of-9 kernels of pSC are stored; "
                 f"{args.bits[0]}-bit, uJ):\n" + index.to_string(index=False, float_format=lambda v: f"{v:,.3f}")
                 + "\nover_periodic: pSC's energy over the cheapest periodic variant's at equal density.", args.out)


def print_frame(frame, args, note: str) -> None:
    if args.format == "csv":
        write_output(frame.to_csv(index=False), args.out)
        return
    import pandas as pd

    with pd.option_context("display.width", 200, "display.max_rows", 500):
        text = frame.to_string(index=False, float_format=lambda v: f"{v:,.2f}")
    write_output(f"{text}\n\n{note}", args.out)


def cmd_dyadic_table(args) -> None:
    from .reports import dyadic_complexity_table

    table = dyadic_complexity_table(args.model, tuple(args.levels), args.hw, args.bits, args.per_layer, args.seed,
                                    args.runs, args.epochs, "drop" if args.drop_lrn else "keep", progress=True)
    print_frame(table, args, f"operations per inference; energy_uj on {args.hw} at {args.bits} bits; weight_error: "
                             "relative Frobenius error of the dyadic weights; mults_left_in: layers that still "
                             "multiply at that level, and why; lrn (models with local response normalisation): "
                             "kept or dropped (--drop-lrn) at that level. Dyadic levels t<terms>e<min exponent>, "
                             "optionally :b<budget><terms|adds|shifts|ops>; energy is an "
                             "estimate. "
                             f"Weights: {table.attrs['weights']}.")


def cmd_dyadic_accuracy(args) -> None:
    from .reports import dyadic_accuracy_table

    table = dyadic_accuracy_table(args.model, args.data, tuple(args.levels), args.epochs, args.finetune_epochs,
                                  args.hw, args.bits, args.out_runs, args.seed, args.workers, progress=not args.quiet)
    print_frame(table, args, "test_top1 in %: the dense model, each level as approximated; test_top1_finetuned: "
                             f"after {args.finetune_epochs} epochs of straight-through fine-tuning; operations and "
                             f"energy_uj (an estimate, {args.hw} at {args.bits} bits) of the model as deployed "
                             "(fine-tuned).")


def cmd_sweep(args) -> None:
    from .io import check_writable
    from .plan import load_spec

    spec = load_spec(args.spec)  # checked whole, without torch, before any work
    check_writable(args.out, "results store")
    if args.export:
        check_writable(args.export, "export file")
    if Path(args.out).is_file() and Path(args.out).stat().st_size:  # an existing file must be a store: say so first
        from .store import ResultStore

        ResultStore(args.out, readonly=True).close()
    announce_size(spec, args.yes)
    from .sweep import sweep

    executor = None
    if args.dask:
        try:
            from distributed import Client
        except ModuleNotFoundError:
            raise UserError("--dask needs Dask: pip install 'cnn-energy-estimator[dask]'") from None
        executor = Client(args.dask).get_executor()
    table = sweep(spec, args.out, export=args.export, executor=executor, workers=args.workers, progress=True)
    points = table["point"].nunique() if "point" in table else 0
    print(f"{points} points, {len(table)} rows in {args.out}" + (f"; exported to {args.export}" if args.export else ""))


SWEEP_BOUNDS = {"rows": 1_000_000, "trainings": 500}
"""Sweeps larger than these (priced rows, training runs) start only with --yes."""
SECONDS_PER_ROW = 0.003
"""A rough pricing cost per (point, configuration) row on 2 CPU cores (benchmarks/sweep_speed.py: 2 ms a row)."""


def announce_size(spec, yes: bool) -> None:
    """Say how big a sweep is (points, configurations, rows, training runs and epochs, a rough pricing time) before
    it starts, and refuse one beyond :data:`SWEEP_BOUNDS` unless ``yes``."""
    points = spec.points()
    configurations = math.prod(len(v) if isinstance(v, list) else 1 for v in spec.hardware.values())
    rows = len(points) * configurations
    trainings = sum(p.workflow != "analytical" for p in points)
    epochs = sum(p.epochs + p.finetune_epochs for p in points if p.workflow != "analytical")
    print(f"sweep: {len(points):,} points x {configurations:,} hardware configurations = {rows:,} rows; "
          f"{trainings:,} training runs ({epochs:,} epochs in all); pricing about {rows * SECONDS_PER_ROW:,.0f} s "
          "(an estimate)", file=sys.stderr)
    over = [f"{n:,} {what} (bound {SWEEP_BOUNDS[what]:,})" for what, n in (("rows", rows), ("trainings", trainings))
            if n > SWEEP_BOUNDS[what]]
    if over and not yes:
        raise UserError(f"this sweep has {' and '.join(over)}; pass --yes to run it anyway")


def cmd_pareto(args) -> None:
    from .plots import figure_path, plot_pareto
    from .store import read_results

    figure_path(args.out)  # a figure format, before any work
    check_out(args, "figure")  # as every command: the folder must exist (nothing is created)
    results = read_results(args.results)
    missing = {args.x, args.y, "model", "variant"} - set(results.columns)
    if missing:
        raise UserError(f"{args.results} has no column(s) {', '.join(sorted(missing))}; expected a sweep's results")
    plot = plot_pareto(results.dropna(subset=[args.y]), args.out, x=args.x, y=args.y, group_by=args.group_by,
                       title=args.title)
    front = plot.points[plot.points["front"]]
    print(front[["group", "model", "variant", args.x, args.y]].to_string(index=False))
    print(f"wrote {args.out}", file=sys.stderr)


def cmd_demo(args) -> None:
    from .demo import demo_note, run_demo

    table = run_demo(args.out, workers=args.workers)
    import pandas as pd

    with pd.option_context("display.width", 200):
        counts = {c: "{:,.0f}".format for c in ("params", "nz_macs", "executed_mults", "shifts")}
        print(table.to_string(formatters=counts | {"energy_uj": "{:.2f}".format, "test_top1": "{:.2f}".format}))
    print(f"\n{demo_note(args.out)}")


def cmd_paper(args) -> None:
    import hwmodels

    from .paper import regenerate, summary_text

    folder = Path(args.out)
    parent = folder if folder.exists() else folder.parent
    if (folder.exists() and not folder.is_dir()) or not parent.is_dir():
        raise UserError(f"--out {folder}: expected a folder, or a new one inside an existing folder")
    for hw in args.hw:
        hwmodels.resolve(hw)  # a bad --hw fails before any pricing
    written = regenerate(folder, hardware=tuple(args.hw), progress=True, workers=args.workers)
    print(summary_text(written, folder))


def cmd_models(args) -> None:
    from .models import REGISTRY, list_models

    names = list_models(args.pattern)
    if not names:
        raise UserError(f"no registered model matches '{args.pattern}'; `estimator models` lists all {len(REGISTRY)}")
    for name in names:
        spec = REGISTRY[name]
        print(f"{name:28s} input {','.join(map(str, spec.input_shape)):14s} classes {spec.num_classes}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="estimator", description="Operations, memory traffic, latency and energy of "
                                     "PyTorch CNNs, layer by layer; low-complexity variants; sweeps.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("profile", help="count operations, parameters and traffic layer by layer")
    add_model_arguments(p)
    add_output_arguments(p, ("table", "csv", "json"))
    p.add_argument("--depth", type=at_least(0), help="roll rows up to this module depth (table format)")
    p.add_argument("--backward", action="store_true", help="count one training step (forward + backward)")
    p.add_argument("--crosscheck", action="store_true", help="compare MACs with fvcore and FlopCounterMode")
    add_densities_argument(p)
    p.set_defaults(func=cmd_profile)

    p = sub.add_parser("energy", help="price a model's layers on a hardware model: energy per level and operand, "
                                      "latency, utilisation")
    add_model_arguments(p)
    add_pricing_arguments(p)
    add_densities_argument(p)
    p.add_argument("--training", action="store_true", help="price one training step (forward, backward and the "
                                                           "optimizer's update; the batch is the input's first "
                                                           "dimension) instead of one inference")
    p.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd", help="with --training: the update "
                                                                              "priced (sgd: with momentum)")
    p.add_argument("--levels", action="store_true", help="with csv/json: one row per layer, level and operand "
                                                         "(reads, writes, energy) instead of one per layer")
    add_output_arguments(p, ("table", "csv", "json"))
    p.set_defaults(func=cmd_energy)

    p = sub.add_parser("crosscheck-hw", help="price a model's MAC layers here and in ZigZag (the zigzag extra) on "
                                             "the same accelerator and mapping YAML; print the ratios")
    add_model_arguments(p)
    p.add_argument("--hw", required=True, help="ZigZag accelerator YAML")
    p.add_argument("--mapping", required=True, help="ZigZag mapping YAML")
    p.add_argument("--loop-factor-limit", type=at_least(1), default=4,
                   help="LOMA's lpf_limit, on both sides (default: 4)")
    p.add_argument("--out", help="write to this file instead of stdout")
    p.set_defaults(func=cmd_crosscheck_hw)

    p = sub.add_parser("train", help="train a model (optionally a variant) with checkpoints and resume")
    p.add_argument("model", help="registered model name or path/to/file.py:factory (given num_classes if it takes it)")
    p.add_argument("--data", default="digits", help="digits (bundled), mnist, cifar10, tinyimagenet or faces")
    p.add_argument("--data-dir", help="local folder of the dataset in its standard layout")
    p.add_argument("--variant", default="dense", help="variant applied to the fresh model (e.g. PSD1_P16, dyadic:t2)")
    p.add_argument("--recipe", default="adam", choices=["adam", "seed", "seed120"],
                   help="adam (small models), seed (the periodic-sparsity paper's SGD recipe as its official code runs "
                        "it: 150 epochs of 128) or seed120 (its other configuration: 120 epochs of 64)")
    p.add_argument("--threads", type=at_least(1), default=1,
                   help="CPU threads (results depend on it; recorded in run.json)")
    p.add_argument("--epochs", type=at_least(0), help="training epochs (default: the recipe's)")
    p.add_argument("--batch-size", type=at_least(1), help="images per step (default: the recipe's)")
    p.add_argument("--optimizer", choices=["sgd", "adam"], help="optimiser (default: the recipe's)")
    p.add_argument("--lr", type=positive_float, help="learning rate (default: the recipe's)")
    p.add_argument("--weight-decay", type=nonnegative_float, help="weight decay (default: the recipe's)")
    p.add_argument("--seed", type=at_least(0), default=0, help="random seed (initial weights, data order)")
    p.add_argument("--device", default="auto", help="auto (cuda when present), cpu or cuda")
    p.add_argument("--out", default="runs", help="parent folder of run folders")
    p.add_argument("--run", help="run folder name (default: <model>-<data>-<variant>-<recipe>-e<epochs>-s<seed>)")
    p.add_argument("--init-from", help="checkpoint or run folder to initialise the weights from")
    p.add_argument("--workers", type=at_least(0), default=0, help="data loader workers (file datasets)")
    p.add_argument("--resume", action="store_true", help="continue the run from its last checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("periodic-table", help="the periodic-sparsity paper's complexity table, reproduced")
    p.add_argument("--models", nargs="+", default=["resnet18_cifar", "vgg16_cifar", "resnet18_tiny", "vgg16_tiny"],
                   help="registered models to tabulate (default: the paper's ResNet18 and VGG16 on CIFAR-10 and "
                        "Tiny ImageNet)")
    p.add_argument("--bits", nargs="+", type=at_least(1), default=[8, 16],
                   help="weight widths the energy is priced at (default: 8 16)")
    p.add_argument("--hw", default="horowitz45", help=HW_HELP)
    p.add_argument("--train-batch", type=at_least(1), default=32, help="images per priced training step")
    p.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd",
                   help="optimiser of the priced training step (its state traffic; default: sgd, the paper's)")
    add_output_arguments(p)
    p.set_defaults(func=cmd_periodic_table)

    p = sub.add_parser("dyadic-table", help="operations and energy per dyadic approximation level")
    p.add_argument("model", help="registered model name, e.g. cff or alexnet_caffe")
    p.add_argument("--per-layer", action="store_true",
                   help="one row per layer of each dyadic level instead of one total per level")
    p.add_argument("--runs", default="runs", help="folder of training runs: a finished run of the model is used, "
                                                  "or one is trained there on the bundled data its input fits")
    p.add_argument("--epochs", type=at_least(1), default=15, help="epochs of a run trained here")
    p.add_argument("--drop-lrn", action="store_true", help="replace local response normalisation by identity at "
                                                           "the dyadic levels (as later AlexNets do)")
    add_dyadic_arguments(p)
    add_output_arguments(p)
    p.set_defaults(func=cmd_dyadic_table)

    p = sub.add_parser("dyadic-accuracy", help="accuracy vs dyadic level, with and without fine-tuning")
    p.add_argument("--model", default="digits_cnn", help="registered model to train and approximate "
                                                          "(default: digits_cnn)")
    p.add_argument("--data", default="digits", help="digits, or digits28 for 28x28 models (digitnet_mnist)")
    p.add_argument("--epochs", type=at_least(1), default=15, help="training epochs")
    p.add_argument("--finetune-epochs", type=at_least(0), default=3,
                   help="fine-tuning epochs of the approximated models")
    add_dyadic_arguments(p)
    p.add_argument("--out-runs", default="runs", help="folder of the training runs (finished ones are reused)")
    p.add_argument("--workers", type=at_least(1), help="training processes (default: CPU count)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    add_output_arguments(p)
    p.set_defaults(func=cmd_dyadic_accuracy)

    p = sub.add_parser("sweep", help="run a sweep described in a TOML file (format: README, 'Sweep files')")
    p.add_argument("spec", help="TOML file with a [sweep] table and an optional [hardware] table")
    p.add_argument("--out", default="results.sqlite", help="results store (SQLite; resumable: finished points are "
                                                           "kept; default: results.sqlite)")
    p.add_argument("--export", help="also write the results to this .csv or .parquet file (parquet: the parquet "
                                    "extra)")
    p.add_argument("--workers", type=at_least(1), help="local training processes (default: CPU count)")
    p.add_argument("--dask", help="address of a Dask scheduler to train on instead of local processes (the dask "
                                  "extra)")
    p.add_argument("--yes", action="store_true", help="run a sweep beyond the size bounds (over 1,000,000 priced rows "
                                                      "or 500 training runs)")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("pareto", help="plot accuracy vs energy with a Pareto front per group from sweep results")
    p.add_argument("results", help="a sweep's results: .sqlite store, .csv or .parquet")
    p.add_argument("--out", default="pareto.png", help="PNG or SVG")
    p.add_argument("--x", default="energy_uj",
                   help="column minimised along the x axis (default: energy_uj, energy per inference of one image)")
    p.add_argument("--y", default="test_top1",
                   help="column maximised along the y axis (default: test_top1, accuracy at the priced width)")
    p.add_argument("--group-by", default="model+hardware", choices=["model", "hardware", "model+hardware", "none"],
                   help="one front per model (with its options), per hardware configuration, per both (default) or "
                        "one front")
    p.add_argument("--title", help="default: the data, hardware and bit widths of the results")
    p.set_defaults(func=cmd_pareto)

    p = sub.add_parser("demo", help="train and price variants and baselines on the bundled digits; write results "
                                    "and plots (about 30 s on 2 quiet cores)")
    p.add_argument("--out", default="demo_out", help="folder of the results store, CSV and figures (default: "
                                                     "demo_out; finished points there are reused)")
    p.add_argument("--workers", type=at_least(1), help="training processes (default: CPU count)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("paper", help="regenerate a seed paper's results with this tool's counts and energy: its "
                                     "figures against MACs and energy, its baseline comparison, every point as CSV")
    p.add_argument("paper", choices=["kundu2020"], help="kundu2020: the periodic-sparsity paper (Kundu et al. 2020)")
    p.add_argument("--out", default="paper_out", help="folder of the figures and tables (default: paper_out)")
    p.add_argument("--hw", nargs="+", default=["horowitz45", "tpu_like"],
                   help="hardware to price on (default: horowitz45 tpu_like); " + HW_HELP)
    p.add_argument("--workers", type=at_least(1), help="pricing processes, one model each (default: CPU count)")
    p.set_defaults(func=cmd_paper)

    p = sub.add_parser("models", help="list registered models")
    p.add_argument("pattern", nargs="?", default="*", help="a substring or shell pattern of the names (default: all)")
    p.set_defaults(func=cmd_models)
    return parser


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv  # accepted anywhere on the line
    args = build_parser().parse_args([a for a in argv if a != "--debug"])
    try:
        args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug:
            raise
        if isinstance(exc, (UserError, OSError)):
            print(f"estimator {args.command}: error: {first_line(exc)}", file=sys.stderr)
            return 2
        print(f"estimator {args.command}: internal error: {type(exc).__name__}: {first_line(exc)} (a bug: rerun with "
              "--debug for the traceback and report it)", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
