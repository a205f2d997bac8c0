"""Models as researchers bring them: typed and keyword inputs, bf16 weights, compiled and scripted modules, complex
arithmetic and FFTs; each count derived by hand in a comment."""

from __future__ import annotations

import importlib
import warnings
import weakref

import pandas as pd
import pytest
import torch
from torch import nn

from estimator import MetaInputError, TensorSpec, profile

profile_module = importlib.import_module("estimator.counting.profile")  # the package's name is the function


class TiedSeq2Seq(nn.Module):
    """An embedding tied to its output head, run on encoder and decoder ids given by keyword."""

    def __init__(self, vocab=100, width=16):
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        self.mix = nn.Linear(width, width)
        self.head = nn.Linear(width, vocab, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, input_ids, decoder_input_ids):
        memory = self.embed(input_ids).mean(dim=1, keepdim=True)
        return self.head(self.mix(self.embed(decoder_input_ids) + memory))


def test_keyword_integer_id_inputs_on_meta_equal_the_real_run():
    model = TiedSeq2Seq().eval()
    specs = {"input_ids": TensorSpec((2, 8), torch.long), "decoder_input_ids": TensorSpec((2, 5), torch.long)}
    real = profile(model, inputs={"input_ids": torch.randint(0, 100, (2, 8)),
                                  "decoder_input_ids": torch.randint(0, 100, (2, 5))})
    meta = profile(model, input_shape=specs, densities=real.densities())
    pd.testing.assert_frame_equal(meta.layers, real.layers)
    # 10 decoder positions: mix 10 x 16 x 16 = 2,560 MACs; head 10 x 16 x 100 = 16,000 MACs
    assert meta.layers.loc["mix", "macs"] == 2560 and meta.layers.loc["head", "macs"] == 16000
    # the tied weight counts once, as model.parameters() does: 100 x 16 + mix 16 x 16 + 16
    assert meta.total()["params"] == sum(p.numel() for p in model.parameters()) == 1600 + 272


def test_float_ids_from_a_plain_shape_are_one_line_saying_how_to_give_integer_ids():
    with pytest.raises(MetaInputError, match=r"op aten.embedding \(issued by module 'embed'\).*floating-point.*"
                                             r"TensorSpec\(shape, torch.long\)"):
        profile(TiedSeq2Seq(), input_shape={"input_ids": (2, 8), "decoder_input_ids": (2, 5)})


def test_a_bf16_model_on_meta_equals_its_real_run():
    # a plain shape takes the model's own precision, so a bf16 model needs no dtype argument
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(),
                          nn.Linear(8 * 16, 4)).to(torch.bfloat16).eval()
    real = profile(model, torch.randn(2, 3, 4, 4, dtype=torch.bfloat16))
    meta = profile(model, input_shape=(2, 3, 4, 4), densities=real.densities())
    pd.testing.assert_frame_equal(real.layers, meta.layers)
    # conv: 2 x 8 x 16 outputs x 27 taps = 6,912 MACs; linear: 2 x 128 x 4 = 1,024
    assert meta.total()["macs"] == 6912 + 1024
    assert profile(model, input_shape=(2, 3, 4, 4), dtype=torch.bfloat16).total()["macs"] == 7936


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(8, 8)

    def forward(self, x):
        return torch.relu(self.lin(x))


class Wrapped(nn.Module):
    def __init__(self, wrap):
        super().__init__()
        self.block = wrap(Block())
        self.out = nn.Linear(8, 2)

    def forward(self, x):
        return self.out(self.block(x))


def half_zero(model: nn.Module) -> nn.Module:
    with torch.no_grad():
        model.block.lin.weight[:, :4] = 0
    return model.eval()


@pytest.mark.parametrize("wrap", ["compile_child", "compile_root", "script_child"])
def test_compiled_and_scripted_modules_count_per_original_module(wrap):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if wrap == "compile_root":
            model = torch.compile(half_zero(Wrapped(lambda b: b)))
        else:
            model = half_zero(Wrapped(torch.compile if wrap == "compile_child" else torch.jit.script))
        real = profile(model, torch.randn(1, 8))
        meta = profile(model, input_shape=(1, 8), densities=real.densities())
    pd.testing.assert_frame_equal(real.layers, meta.layers)
    layers = real.layers
    # block.lin: 8 x 8 = 64 MACs, half its weights zero: 32 executed; out: 8 x 2 = 16; rows named as the model's
    assert layers.loc["block.lin", ["macs", "nz_macs", "params", "nnz_params"]].tolist() == [64, 32, 72, 40]
    assert layers.loc["out", "macs"] == 16 and layers.loc["block.lin", "type"] == "Linear"
    assert not any("_orig_mod" in name for name in layers.index)


class Op(nn.Module):
    def __init__(self, function):
        super().__init__()
        self.function = function

    def forward(self, *xs):
        return self.function(*xs)


def totals(function, *inputs) -> dict:
    return profile(Op(function), inputs).total()[["macs", "mults", "adds"]].to_dict()


def test_complex_products_and_sums_count_in_real_operations():
    a, b = torch.randn(2, 3, dtype=torch.cfloat), torch.randn(2, 3, dtype=torch.cfloat)
    # 6 complex products: 4 mults + 2 adds each
    assert totals(torch.mul, a, b) == {"macs": 0, "mults": 24, "adds": 12}
    # 6 complex sums: 2 adds each
    assert totals(torch.add, a, b) == {"macs": 0, "mults": 0, "adds": 12}
    # a real factor: 2 real mults per element
    assert totals(torch.mul, a, torch.randn(2, 3)) == {"macs": 0, "mults": 12, "adds": 0}
    # [4, 5] @ [5, 3]: 12 outputs of 5 complex MACs = 60 complex MACs = 240 real MACs (4 mults + 4 adds each),
    # less 2 adds per output for the first term's missing accumulation: 12 x (4 x 5 - 2) = 216 adds
    A, B = torch.randn(4, 5, dtype=torch.cfloat), torch.randn(5, 3, dtype=torch.cfloat)
    assert totals(torch.mm, A, B) == {"macs": 240, "mults": 240, "adds": 216}


def test_ffts_count_by_the_stated_n_log2_n_convention():
    x = torch.randn(2, 8)
    # complex, 2 transforms of n = 8: 2 n log2 n = 48 mults and 3 n log2 n = 72 adds each
    assert totals(torch.fft.fft, x.to(torch.cfloat)) == {"macs": 0, "mults": 96, "adds": 144}
    # real input: half the complex transform's work
    assert totals(torch.fft.rfft, x) == {"macs": 0, "mults": 48, "adds": 72}
    # inverse, normalised by 1/n: one more mult per real output component, 2 x 16
    assert totals(torch.fft.ifft, x.to(torch.cfloat)) == {"macs": 0, "mults": 96 + 32, "adds": 144}
    # a 4x4 2-D transform: N = 16, 2 N log2 N = 128 mults, 3 N log2 N = 192 adds
    assert totals(torch.fft.fft2, torch.randn(1, 4, 4, dtype=torch.cfloat)) == {"macs": 0, "mults": 128,
                                                                                "adds": 192}
    prof = profile(Op(torch.fft.rfft), input_shape=(2, 8))
    assert prof.total()["mults"] == 48 and prof.layers["estimated"].iloc[0]  # an estimate, and said so


def test_dynamically_quantised_layers_count_their_integer_macs_on_meta_and_real():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's deprecation notes on eager quantisation
        model = torch.ao.quantization.quantize_dynamic(
            nn.Sequential(nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 36, 10)),
            {nn.Linear}, dtype=torch.qint8)
        model[0] = torch.ao.nn.quantized.dynamic.Conv2d(4, 8, 3, padding=1)
        real = profile(model, torch.randn(2, 4, 6, 6))
        meta = profile(model, input_shape=(2, 4, 6, 6), densities=real.densities())
    pd.testing.assert_frame_equal(real.layers, meta.layers)
    assert not real.unsupported
    conv, linear = real.layers.loc["0"], real.layers.loc["3"]
    # conv: 2 x 8 x 6 x 6 = 576 outputs x 4 x 9 = 36 taps = 20,736 MACs; + quantising the 288 inputs (1 mult,
    # 2 compares each) and rescaling the 576 outputs (1 mult each); adds 576 x 35 + 576 (bias)
    assert (conv["macs"], conv["mults"], conv["adds"], conv["compares"]) == (20736, 20736 + 288 + 576, 20736, 576)
    # linear: 20 outputs x 288 = 5,760 MACs, 576 inputs quantised, 20 outputs rescaled
    assert (linear["macs"], linear["mults"], linear["compares"]) == (5760, 5760 + 576 + 20, 1152)
    assert linear["estimated"] == "quantized.linear_dynamic"  # says its packed weights are outside the columns


def test_statically_quantised_layers_count_their_integer_macs_and_requantisation():
    import torch.ao.quantization as tq

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.quant, self.dequant = tq.QuantStub(), tq.DeQuantStub()
            self.conv, self.relu, self.fc = nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Linear(8 * 6 * 6, 10)

        def forward(self, x):
            return self.dequant(self.fc(self.relu(self.conv(self.quant(x))).flatten(1)))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's deprecation notes on eager quantisation
        model = Net().eval()
        model.qconfig = tq.get_default_qconfig("fbgemm")
        tq.prepare(model, inplace=True)
        model(torch.randn(4, 3, 8, 8))
        tq.convert(model, inplace=True)
        rows = profile(model, torch.randn(2, 3, 8, 8), strict=True).layers
    kinds = ["macs", "mults", "adds", "compares"]
    # quantize_per_tensor of 2 x 3 x 8 x 8 = 384 elements: 1 mult, 1 add, 2 compares (clamp) each
    assert rows.loc["quant", kinds].tolist() == [0, 384, 384, 768]
    # conv: 2 x 8 x 6 x 6 = 576 outputs x 27 taps = 15,552 MACs; adds 576 x 26 + 576 (bias); requantising each
    # output: 1 mult, 1 add, 2 compares
    assert rows.loc["conv", kinds].tolist() == [15552, 15552 + 576, 576 * 26 + 576 + 576, 1152]
    # linear: 20 outputs x 288 = 5,760 MACs, 20 requantised
    assert rows.loc["fc", kinds].tolist() == [5760, 5760 + 20, 20 * 287 + 20 + 20, 40]
    # dequantize of the 20 outputs: 1 add (zero point) and 1 mult (scale) each
    assert rows.loc["dequant", kinds].tolist() == [0, 20, 20, 0]
    assert rows.loc["conv", "estimated"] == "quantized.conv2d"


@pytest.mark.parametrize("bidirectional", [False, True])
def test_a_dynamically_quantised_lstm_counts_as_the_float_lstm_plus_its_quantisation(bidirectional):
    torch.manual_seed(0)
    lstm = nn.LSTM(8, 16, num_layers=2, bidirectional=bidirectional).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantised = torch.ao.quantization.quantize_dynamic(nn.Sequential(lstm), {nn.LSTM}, dtype=torch.qint8)
    x = torch.randn(5, 3, 8)
    kinds = ["macs", "mults", "adds", "compares", "other_ops"]
    plain = profile(nn.Sequential(lstm), x, strict=True).total()[kinds]
    counted = profile(quantised, x, strict=True).total()[kinds]
    directions, rows = 1 + bidirectional, 15  # 5 steps x 3 sequences
    # 4 gates x 16 hidden: layer 1 projects 8 inputs and 16 hidden, layer 2 D x 16 inputs and 16 hidden
    macs = directions * rows * 64 * ((8 + 16) + (directions * 16 + 16))
    assert counted["macs"] == plain["macs"] == macs  # 53,760 one-way, 138,240 both ways
    # on top of the float LSTM: each projection's input quantised on the fly (1 mult, 2 compares per element) and
    # its 64 outputs per row rescaled (1 mult)
    quantised_inputs = directions * rows * ((8 + 16) + (directions * 16 + 16))
    rescaled = directions * rows * 64 * 4
    assert counted["mults"] - plain["mults"] == quantised_inputs + rescaled
    assert counted["compares"] == 2 * quantised_inputs
    assert (counted["adds"], counted["other_ops"]) == (plain["adds"], plain["other_ops"])


@pytest.mark.parametrize("values", [True, False])
def test_a_weight_normed_grouped_conv1d_counts_as_its_plain_twin(values):
    # torch's recommended weight norm (a parametrization of two tensors, as in Wav2Vec2's positional conv):
    # 2 x 64 outputs x 50 positions x (32 / 4 groups) x 5 taps = 256,000 MACs; parameters: direction 64 x 8 x 5 =
    # 2,560, magnitude over dim 2: 5, bias 64 = 2,629
    from torch.nn.utils.parametrizations import weight_norm

    model = nn.Sequential(weight_norm(nn.Conv1d(32, 64, 5, groups=4, padding=2), dim=2))
    real = profile(model, torch.randn(2, 32, 50), values=values, strict=True)
    meta = profile(model, input_shape=(2, 32, 50), values=values, strict=True, densities=real.densities())
    pd.testing.assert_frame_equal(meta.layers, real.layers)
    assert meta.layers.loc["0", "macs"] == 256_000 and meta.total()["params"] == 2_629


def test_topk_sort_and_reductions_of_empty_tensors_count_no_work():
    # a detector's level with no score above its threshold: topk / sort / softmax of zero rows or zero-length rows
    # cost nothing; the one non-empty topk: 3 rows of 5, keeping 2: 3 x 5 x (1 + ceil(log2 2)) = 30 compares
    class Empty(nn.Module):
        def forward(self, x):
            none, rows = x[:, :0], x[:0]
            return (none.topk(0, dim=1)[0], rows.topk(2, dim=1)[0], rows.sum(1), rows.cumsum(1), rows.softmax(1),
                    none.sort(1)[0], x.topk(2, dim=1)[0])

    for prof in (profile(Empty(), torch.randn(3, 5), strict=True), profile(Empty(), input_shape=(3, 5), strict=True)):
        assert prof.total()[["compares", "adds", "other_ops"]].tolist() == [30, 0, 0]


def test_a_traced_model_counts_its_convolutions_and_strict_mode_refuses_in_one_error():
    # torch.jit.trace calls aten._convolution: conv 0: 8 x 64 outputs x 27 taps = 13,824 MACs; conv 2 (stride 2,
    # no padding, 3 x 3 outputs): 8 x 9 x 72 = 5,184; linear: 72 x 4 = 288. Ops of parameter-free submodules (the
    # ReLU's 512 compares) run inside the TorchScript interpreter, which calls no module hooks: they count at the
    # root, so the totals equal the eager model's and the weight layers' rows equal theirs.
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2), nn.Flatten(),
                          nn.Linear(8 * 3 * 3, 4)).eval()
    x = torch.randn(1, 3, 8, 8)
    traced, eager = profile(torch.jit.trace(model, x), x, strict=True), profile(model, x, strict=True)
    assert traced.layers.loc[["0", "2", "4"], "macs"].tolist() == [13_824, 5_184, 288]
    columns = ["macs", "mults", "adds", "compares", "nz_macs", "nz_macs_valid", "params", "weight_nnz"]
    pd.testing.assert_frame_equal(traced.layers.loc[["0", "2", "4"], columns], eager.layers.loc[["0", "2", "4"],
                                                                                                   columns])
    assert traced.total()[columns].tolist() == eager.total()[columns].tolist()

    class Unknown(nn.Module):
        def forward(self, x):
            return torch.special.zeta(x, x)  # no formula, no decomposition

    from estimator.counting.capture import UnsupportedOpError

    with pytest.raises(UnsupportedOpError, match=r"no formula for op prims.zeta \(issued by module"):
        profile(torch.jit.trace(Unknown(), x), x, strict=True)


@pytest.mark.parametrize("mode,expected", [
    # 2 bags of 3 rows of 4 elements: each bag merges 3 rows, 2 x 4 = 8 adds, so 16 adds in all
    ("sum", {"adds": 16, "mults": 0, "compares": 0, "other_ops": 0}),
    ("mean", {"adds": 16, "mults": 0, "compares": 0, "other_ops": 8}),  # and 2 bags x 4 divisions
    ("max", {"adds": 0, "mults": 0, "compares": 16, "other_ops": 0}),
])
def test_embedding_bag_reductions_by_hand(mode, expected):
    model = nn.EmbeddingBag(10, 4, mode=mode)
    ids = torch.tensor([[1, 2, 3], [4, 5, 6]])
    real = profile(model, ids, strict=True)
    meta = profile(model, input_shape=TensorSpec((2, 3), torch.long), strict=True, densities=real.densities())
    pd.testing.assert_frame_equal(real.layers, meta.layers)
    assert {k: int(real.total()[k]) for k in expected} == expected


def test_embedding_bag_with_offsets_and_per_sample_weights_by_hand():
    # 5 ids in bags [0, 2) and [2, 5): 5 x 4 weighted rows (20 mults), merged (2 - 1 + 3 - 1) x 4 = 12 adds
    model = nn.EmbeddingBag(10, 4, mode="sum")
    prof = profile(model, inputs=(torch.tensor([1, 2, 3, 4, 5]), torch.tensor([0, 2]), torch.rand(5)), strict=True)
    assert (prof.total()["mults"], prof.total()["adds"]) == (20, 12)


def test_bilinear_counts_its_two_contractions_by_hand():
    # nn.Bilinear(3, 5, 4) on 2 rows: torch's _trilinear first multiplies x1 into W (2 x 4 x 3 x 5 = 120 MACs
    # into 2 x 4 x 5 = 40 sums: 80 adds), then that with x2 (2 x 4 x 5 = 40 MACs into 8 outputs: 32 adds); the
    # bias adds 8. FlopCounterMode counts 0 for _trilinear.
    model = nn.Bilinear(3, 5, 4)
    real = profile(model, (torch.randn(2, 3), torch.randn(2, 5)), strict=True)
    meta = profile(model, input_shape=[(2, 3), (2, 5)], strict=True, densities=real.densities())
    pd.testing.assert_frame_equal(real.layers, meta.layers)
    assert real.total()[["macs", "mults", "adds"]].tolist() == [160, 160, 120]


def test_unique_counts_a_sort_and_a_neighbour_scan_by_hand():
    # SSDlite's NMS calls torch.unique (aten._unique2): 8 elements sorted with 8 x ceil(log2 8) = 24 compares,
    # then 7 neighbour compares: 31 (the inverse and counts are data movement)
    class Unique(nn.Module):
        def forward(self, x):
            return torch.unique(x, return_inverse=True, return_counts=True)

    prof = profile(Unique(), torch.tensor([3, 1, 2, 3, 1, 5, 7, 2]), strict=True)
    assert prof.total()["compares"] == 31


@pytest.mark.parametrize("layer", [
    lambda: nn.LSTM(8, 16, num_layers=2), lambda: nn.LSTM(8, 16, num_layers=2, bidirectional=True, batch_first=True),
    lambda: nn.LSTM(8, 16, bias=False), lambda: nn.GRU(8, 16, num_layers=3), lambda: nn.GRU(8, 16, bidirectional=True),
    lambda: nn.RNN(8, 16, num_layers=2), lambda: nn.RNN(8, 16, nonlinearity="relu", bias=False)])
def test_recurrent_layers_in_closed_form_equal_their_step_by_step_count(layer, monkeypatch):
    from estimator.counting import recurrent

    model = layer().eval()
    x = torch.randn(3, 5, 8) if model.batch_first else torch.randn(5, 3, 8)
    closed = profile(model, x, strict=True)
    meta = profile(model, input_shape=tuple(x.shape), densities=closed.densities(), strict=True)
    monkeypatch.setattr(recurrent, "closed_form", lambda module: False)  # torch's reference kernel, step by step
    stepped = profile(model, x, strict=True)
    pd.testing.assert_frame_equal(closed.layers, stepped.layers)
    pd.testing.assert_frame_equal(closed.nests, stepped.nests)
    pd.testing.assert_frame_equal(closed.layers, meta.layers)
    # LSTM 2 x 16 on 8 inputs, 15 rows: 15 x 4 x 16 x ((8 + 16) + (16 + 16)) = 53,760 MACs
    if isinstance(model, nn.LSTM) and model.num_layers == 2 and not model.bidirectional:
        assert closed.total()["macs"] == 53_760


def test_a_recurrent_meta_profile_does_not_step_through_time(monkeypatch):
    # the meta profile of a 400-step LSTM issues no per-step op: the counting mode sees none of them
    from estimator.counting import capture

    seen = []
    original = capture.CountingMode.__torch_dispatch__

    def spy(self, func, types, args=(), kwargs=None):
        seen.append(func)
        return original(self, func, types, args, kwargs)

    monkeypatch.setattr(capture.CountingMode, "__torch_dispatch__", spy)
    prof = profile(nn.LSTM(64, 128, num_layers=2), input_shape=(400, 4, 64))
    assert prof.total()["macs"] == 400 * 4 * 4 * 128 * ((64 + 128) + (128 + 128)) and len(seen) < 20


class ReplacesItsBuffer(nn.Module):
    """Replaces a registered buffer on every call, as timm's ConViT replaces its relative indices; says whether the
    replaced tensor was freed (its id free for an activation to take) and makes activations until one takes it."""

    def __init__(self):
        super().__init__()
        self.register_buffer("cache", torch.zeros(4, 16), persistent=False)
        self.fc = nn.Linear(16, 16)
        self.freed = []

    def forward(self, x):
        stale, replaced = id(self.cache), weakref.ref(self.cache)
        self.cache = torch.ones(1)
        self.freed.append(replaced() is None)
        for _ in range(1000):
            y = x * 2
            if id(y) == stale:
                break
        return self.fc(y)


def test_an_activation_is_never_taken_for_a_replaced_buffer(monkeypatch):
    # the profile held the ids of the model's buffers without the tensors: an activation allocated where a
    # replaced buffer had lived counted as a weight, and its elements as none (timm convit_tiny: blocks.11.mlp.fc1's
    # input, now and then). The profile holds them: the replaced buffer stays alive while it runs, and fc's input
    # and output are 4 x 16 = 64 elements each time
    clones = []
    monkeypatch.setattr(profile_module, "prepare_copy", lambda *a, real=profile_module.prepare_copy: clones.append(
        real(*a)) or clones[-1])
    for _ in range(5):
        real = profile(ReplacesItsBuffer(), torch.randn(4, 16))
        assert real.layers.loc["fc", "in_elems"] == 64 and real.layers.loc["fc", "out_elems"] == 64
    assert [clone.freed for clone in clones] == [[False]] * 5
