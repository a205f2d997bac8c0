"""The counter on timm architectures and Hugging Face models built from configs, by hand (neither is a dependency).

For each timm architecture (random weights, ``pretrained=False``: nothing is downloaded), at its default input
size, batch 1, the checks are:

* meta equals real: the profile on meta inputs and on a real input of the same shape give identical tables
  (``layers`` and ``nests``, every column);
* strict clean: ``strict=True`` on the real input raises nothing (no op without a formula or decomposition);
* parameters: the profile's ``params`` equals ``sum(p.numel() for p in model.parameters())`` (tied weights once);
* MACs: the profile's MACs against torch's FlopCounterMode / 2, run with the math attention kernel (the
  reference kernel the counter uses, so that attention is the matrix products both count); a difference above
  0.5% is printed with its explanation where one is known (:data:`EXPLAINED`).

Then Hugging Face models built from small configs (BERT, GPT-2 with its tied head, T5 with decoder inputs, ViT, a
2-layer Llama-style decoder) at sequence length 128, and a small Wav2Vec2 (its positional convolution weight-normed),
through the public ``profile()`` arguments only (keyword inputs, :class:`~estimator.counting.TensorSpec` for
integer ids): meta equals real, strict clean, parameters exact; and ``crosscheck`` on GPT-2's LM head, which
returns a cache object: FlopCounterMode runs, fvcore is named as not run.

Set-up (a separate environment: timm needs torchvision, whose PyPI build does not load beside torch 2.13's CPU
wheel; on x86_64 torch 2.14.1 with torchvision 0.29.1 do)::

    python3 -m venv /tmp/timmenv
    /tmp/timmenv/bin/pip install torch==2.14.1 torchvision==0.29.1 timm transformers fvcore
    /tmp/timmenv/bin/pip install -e .

Run: /tmp/timmenv/bin/python benchmarks/validate_timm.py [--models resnet18 vit_tiny_patch16_224 ...] [--no-hf]
Prints one line per model, a summary, and exits non-zero if a check fails (a MAC difference that is explained
is not a failure).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import pandas as pd
import torch

from estimator import TensorSpec, profile
from estimator.counting.crosscheck import torch_counts

TIMM_MODELS = (
    # CNNs
    "resnet18", "resnet50", "resnet50d", "resnext50_32x4d", "seresnet50", "wide_resnet50_2", "resnetv2_50",
    "res2net50_26w_4s", "resnest14d", "regnetx_002", "regnety_002", "densenet121", "dla34", "dpn68",
    "efficientnet_b0", "efficientnet_lite0", "efficientnetv2_rw_t", "mobilenetv2_100", "mobilenetv3_small_100",
    "mobilenetv3_large_100", "mnasnet_100", "fbnetc_100", "ghostnet_100", "hrnet_w18_small", "inception_v3",
    "xception41", "vgg11", "rexnet_100", "tinynet_a", "cspresnet50", "cspdarknet53", "dm_nfnet_f0",
    "nf_resnet50", "repvgg_a0", "selecsls42b", "convnext_atto", "convnextv2_atto", "lcnet_050", "mixnet_s",
    "hardcorenas_a", "ese_vovnet19b_dw", "resnet18d",
    # ViTs and their kin
    "vit_tiny_patch16_224", "vit_small_patch16_224", "deit_tiny_patch16_224", "deit_tiny_distilled_patch16_224",
    "swin_tiny_patch4_window7_224", "swinv2_cr_tiny_ns_224", "cait_xxs24_224", "pit_ti_224", "twins_svt_small",
    "crossvit_tiny_240", "beit_base_patch16_224", "xcit_nano_12_p16_224", "levit_128s", "efficientformer_l1",
    "poolformer_s12", "deit3_small_patch16_224", "eva02_tiny_patch14_224", "flexivit_small",
    # hybrids
    "coat_lite_tiny", "coatnet_0_rw_224", "maxvit_tiny_rw_224", "mobilevit_xxs", "mobilevitv2_050",
    "convit_tiny", "edgenext_xx_small", "fastvit_t8", "tiny_vit_5m_224", "nest_tiny",
    # MLP-mixers and sequence models
    "mixer_s16_224", "resmlp_12_224", "gmlp_ti16_224", "sequencer2d_s",
)
"""At least 60 architectures across CNNs, ViTs, hybrids and MLP-mixers (small variants, to run on 2 cores)."""
TOLERANCE = 0.005
"""MACs against FlopCounterMode / 2: relative difference allowed without an explanation."""
EXPLAINED: dict[str, str] = {}
"""Model -> why its MACs differ from FlopCounterMode's by more than :data:`TOLERANCE` (filled from the run)."""


def compare_tables(a, b) -> str:
    """'' when two profiles' tables are identical, else the first difference."""
    for table in ("layers", "nests"):
        try:
            pd.testing.assert_frame_equal(getattr(a, table), getattr(b, table))
        except AssertionError as exc:
            return f"{table}: {str(exc).strip().splitlines()[0]}"
    return ""


def flop_counter_macs(model, args: tuple, kwargs: dict) -> tuple[float, str]:
    """FlopCounterMode's total / 2 and how it ran, as ``crosscheck`` runs it (the counter's reference kernels:
    math attention, no fused transformer path, no oneDNN RNN kernel; retried with gradients where FlopCounterMode
    fails under ``no_grad``)."""
    own, how = torch_counts(model, args, kwargs)
    return (float("nan") if own is None else sum(own.values())), how


def check(name: str, model, real_args: tuple, real_kwargs: dict, meta_shape) -> dict:
    """Every check on one model; returns its row."""
    row = {"model": name}
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        real = profile(model, real_kwargs or real_args, strict=True)
        meta = profile(model, input_shape=meta_shape, densities=real.densities())  # (the measured densities)
    row["meta_equals_real"] = compare_tables(real, meta) or "yes"
    row["strict"] = "clean"
    params = sum(p.numel() for p in model.parameters())
    row["params"] = int(real.total()["params"])
    row["params_equal"] = row["params"] == params
    row["macs"] = int(real.total()["macs"])
    row["fcm_macs"], row["fcm_note"] = flop_counter_macs(model, real_args, real_kwargs)
    row["difference"] = (row["macs"] - row["fcm_macs"]) / max(row["fcm_macs"], 1)
    row["seconds"] = time.perf_counter() - started
    return row


def timm_rows(names) -> list[dict]:
    import timm

    rows = []
    for name in names:
        try:
            model = timm.create_model(name, pretrained=False).eval()
            shape = (1, *model.pretrained_cfg.get("input_size", (3, 224, 224)))
            torch.manual_seed(0)
            row = check(name, model, (torch.randn(shape),), {}, shape)
        except Exception as exc:  # report and go on: one failing model is one line
            row = {"model": name, "error": f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:160]}"}
        rows.append(row)
        print(line(row), flush=True)
    return rows


def hf_models() -> dict:
    """(model, real kwargs, meta specs) of small Hugging Face models built from configs, sequence length 128."""
    import transformers as hf

    length = 128
    ids = {"input_ids": TensorSpec((1, length), torch.long)}
    small = {"hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 256}
    built = {
        "bert": (hf.BertModel(hf.BertConfig(**small)), ids),
        "gpt2 (tied head)": (hf.GPT2LMHeadModel(hf.GPT2Config(n_embd=128, n_layer=2, n_head=4)), ids),
        "t5 (decoder inputs)": (hf.T5ForConditionalGeneration(hf.T5Config(
            d_model=128, d_ff=256, num_layers=2, num_decoder_layers=2, num_heads=4, d_kv=32)),
            ids | {"decoder_input_ids": TensorSpec((1, length), torch.long)}),
        "vit": (hf.ViTModel(hf.ViTConfig(**small, image_size=64, patch_size=8)),
                {"pixel_values": TensorSpec((1, 3, 64, 64))}),
        "llama (2 layers)": (hf.LlamaForCausalLM(hf.LlamaConfig(**small, num_key_value_heads=2, vocab_size=1000)),
                             ids),
        # its positional convolution is weight-normed (torch.nn.utils.parametrizations.weight_norm), grouped
        "wav2vec2 (weight norm)": (hf.Wav2Vec2Model(hf.Wav2Vec2Config(
            **small, conv_dim=(32, 32), conv_stride=(5, 2), conv_kernel=(10, 3), num_conv_pos_embeddings=16,
            num_conv_pos_embedding_groups=4)), {"input_values": TensorSpec((1, 4000))}),
    }
    models = {}
    for name, (model, specs) in built.items():
        model.eval()
        vocab = getattr(model.config, "vocab_size", 1000)
        real = {k: (torch.randint(0, vocab, s.shape) if s.dtype == torch.long else torch.randn(s.shape))
                for k, s in specs.items()}
        models[name] = (model, real, specs)
    return models


def hf_rows() -> list[dict]:
    rows = []
    for name, (model, real, specs) in hf_models().items():
        try:
            row = check(name, model, (), real, specs)
        except Exception as exc:
            row = {"model": name, "error": f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:160]}"}
        rows.append(row)
        print(line(row), flush=True)
    return rows


def cache_crosscheck() -> bool:
    """``crosscheck`` on GPT-2's LM head with its default ``use_cache=True`` (it returns a ``DynamicCache``, which
    fvcore's tracer refuses): FlopCounterMode runs and fvcore is named as not run, with its reason."""
    import transformers as hf

    from estimator import crosscheck

    model = hf.GPT2LMHeadModel(hf.GPT2Config(n_embd=128, n_layer=2, n_head=4)).eval()
    table = crosscheck(model, torch.randint(0, 1000, (1, 32)), all_layers=True)
    not_run = table.attrs.get("not_run", {})
    ok = set(not_run) == {"fvcore"} and table["torch_macs"].notna().any()
    print(f"crosscheck, GPT-2 LM head returning a cache: {'ok' if ok else 'FAILED'}: FlopCounterMode ran on "
          f"{int(table['torch_macs'].notna().sum())} layers; not run: "
          + "; ".join(f"{tool} ({why})" for tool, why in not_run.items()))
    return ok


def line(row: dict) -> str:
    if "error" in row:
        return f"{row['model']:34s} ERROR {row['error']}"
    note = "; ".join(n for n in (EXPLAINED.get(row["model"], ""), row["fcm_note"]) if n)
    return (f"{row['model']:34s} meta=real {row['meta_equals_real']:>4s}  strict {row['strict']}  params "
            f"{row['params']:>11,d} {'=' if row['params_equal'] else '!='} model.parameters()  MACs "
            f"{row['macs']:>14,d} vs FCM/2 {row['fcm_macs']:>14,.0f} ({100 * row['difference']:+.2f}%)  "
            f"{row['seconds']:5.1f} s {note}")


def failed(row: dict) -> bool:
    if "error" in row:
        return True
    over = abs(row["difference"]) > TOLERANCE and row["model"] not in EXPLAINED
    return row["meta_equals_real"] != "yes" or not row["params_equal"] or over


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(TIMM_MODELS))
    parser.add_argument("--no-hf", action="store_true", help="leave out the Hugging Face models")
    parser.add_argument("--no-timm", action="store_true", help="leave out the timm architectures")
    args = parser.parse_args()
    torch.set_num_threads(max(torch.get_num_threads(), 1))
    print(f"torch {torch.__version__}; MACs tolerance {100 * TOLERANCE:.1f}% against FlopCounterMode / 2")
    rows = [] if args.no_timm else timm_rows(args.models)
    rows += [] if args.no_hf else hf_rows()
    bad = [r["model"] for r in rows if failed(r)]
    if not args.no_hf and not cache_crosscheck():
        bad.append("crosscheck with a cache object")
    ok = [r for r in rows if "error" not in r]
    print(f"\n{len(rows)} models: meta = real on {sum(r['meta_equals_real'] == 'yes' for r in ok)}, strict clean on "
          f"{len(ok)}, parameters exact on {sum(r['params_equal'] for r in ok)}, MACs within "
          f"{100 * TOLERANCE:.1f}% of FlopCounterMode / 2 on {sum(abs(r['difference']) <= TOLERANCE for r in ok)}")
    print("failed: " + (", ".join(bad) if bad else "none"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
