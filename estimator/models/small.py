"""The seed-2 use cases and small models: the Convolutional Face Finder (Garcia & Delakis 2004), the
~184k-parameter digit classifier, LeNet-5, and 8x8 digits CNNs that train in seconds on a CPU."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

CFF_SINGLE = (0, 0, 1, 1, 2, 2, 3, 3)
"""C2 maps 0-7 each read one S1 map, two maps per S1 map."""
CFF_PAIRS = ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3))
"""C2 maps 8-13 each read a pair of S1 maps."""


class ScaledTanh(nn.Module):
    """LeCun's recommended activation, 1.7159 tanh(2x/3) (its dyadic form: ``approximate(activations=
    "scaled_tanh")``)."""

    def forward(self, x):
        return 1.7159 * torch.tanh(x * (2 / 3))


class Subsampling(nn.Module):
    """LeCun-style subsampling: 2x2 average, times a trainable coefficient, plus a trainable bias, per map.
    ``scaled_average_pool`` declares that form (the dyadic approximation replaces it by a shift-add one)."""

    scaled_average_pool = 2

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        return F.avg_pool2d(x, 2) * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


class SparseC2(nn.Module):
    """The CFF's C2: 14 maps from 20 3x3 kernels over a fixed connection table.

    Each kernel reads one S1 map (a depthwise conv over the 20 gathered inputs: exactly 20 x 9 MACs per
    position), maps 8-13 add their two kernels' outputs (6 adds per position), and every map adds a bias.
    """

    def __init__(self):
        super().__init__()
        sources = list(CFF_SINGLE) + [s for pair in CFF_PAIRS for s in pair]
        self.register_buffer("sources", torch.tensor(sources), persistent=False)
        self.kernels = nn.Conv2d(len(sources), len(sources), 3, groups=len(sources), bias=False)
        self.bias = nn.Parameter(torch.zeros(len(CFF_SINGLE) + len(CFF_PAIRS)))

    def forward(self, x):
        k = self.kernels(x.index_select(1, self.sources))
        single, paired = k[:, : len(CFF_SINGLE)], k[:, len(CFF_SINGLE):]
        maps = torch.cat([single, paired[:, 0::2] + paired[:, 1::2]], 1)
        return maps + self.bias.view(1, -1, 1, 1)


class ConvolutionalFaceFinder(nn.Module):
    """Garcia & Delakis (2004): 36x32 input, C1 (4@5x5), S1, C2 (14 maps, 20 kernels), S2, N1 (14 neurons,
    one per S2 map), N2 (one output), tanh after every layer: 951 trainable parameters."""

    def __init__(self, num_classes: int = 1):
        super().__init__()
        self.c1 = nn.Conv2d(1, 4, 5)
        self.s1 = Subsampling(4)
        self.c2 = SparseC2()
        self.s2 = Subsampling(14)
        self.n1 = nn.Conv2d(14, 14, (7, 6), groups=14)
        self.n2 = nn.Linear(14, num_classes)
        self.act = nn.Tanh()

    def forward(self, x):
        x = self.act(self.s1(self.act(self.c1(x))))
        x = self.act(self.s2(self.act(self.c2(x))))
        return self.act(self.n2(self.act(self.n1(x)).flatten(1)))


class DigitNet(nn.Module):
    """conv5x5x32 - maxpool - conv5x5x64 - maxpool - fc 1024->128 - fc 10 on 28x28: 184,586 parameters."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 5), nn.ReLU(True), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 5), nn.ReLU(True), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Linear(1024, 128), nn.ReLU(True), nn.Linear(128, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


class LeNet5(nn.Module):
    """LeNet-5 (LeCun et al. 1998) on 28x28 input padded to 32x32: 61,706 parameters, tanh, average pooling."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.Tanh(), nn.AvgPool2d(2),
            nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2))
        self.classifier = nn.Sequential(nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(),
                                        nn.Linear(84, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


class DigitsCNN(nn.Module):
    """A small 3x3 CNN for 8x8 digits: a dense first conv, then 3x3 convs that periodic sparsity can thin."""

    def __init__(self, num_classes: int = 10, width: int = 32):
        super().__init__()

        def block(c_in, c_out):
            return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(True)]

        self.features = nn.Sequential(*block(1, width), *block(width, width), nn.MaxPool2d(2),
                                      *block(width, 2 * width), *block(2 * width, 2 * width))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2 * width, num_classes)

    def forward(self, x):
        return self.fc(self.pool(self.features(x)).flatten(1))


class DigitsTanhNet(nn.Module):
    """A small tanh CNN for 8x8 digits in the style of the seed-2 networks (conv, subsampling, tanh)."""

    def __init__(self, num_classes: int = 10, width: int = 16):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.Tanh(), nn.AvgPool2d(2),
                                      nn.Conv2d(width, 2 * width, 3, padding=1), nn.Tanh(), nn.AvgPool2d(2))
        self.classifier = nn.Sequential(nn.Linear(8 * width, 64), nn.Tanh(), nn.Linear(64, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


def cff(num_classes: int = 1) -> nn.Module:
    return ConvolutionalFaceFinder(num_classes)


def digitnet_mnist(num_classes: int = 10) -> nn.Module:
    return DigitNet(num_classes)


def lenet5_mnist(num_classes: int = 10) -> nn.Module:
    return LeNet5(num_classes)


def digits_cnn(num_classes: int = 10, width: int = 32) -> nn.Module:
    return DigitsCNN(num_classes, width)


def digits_tanh(num_classes: int = 10, width: int = 16) -> nn.Module:
    return DigitsTanhNet(num_classes, width)
