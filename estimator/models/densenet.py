"""DenseNet-121 (Huang et al., CVPR 2017), torchvision's layout: a baseline with dense concatenation, whose memory
traffic differs from residual networks'."""

from __future__ import annotations

import torch
from torch import nn


class DenseLayer(nn.Module):
    """BN-ReLU-1x1 conv (bottleneck to ``bn_size x growth`` channels), BN-ReLU-3x3 conv to ``growth`` channels;
    its output is concatenated to its input."""

    def __init__(self, c_in: int, growth: int, bn_size: int):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(c_in)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(c_in, bn_size * growth, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth, growth, 3, padding=1, bias=False)

    def forward(self, x):
        out = self.conv2(self.relu2(self.norm2(self.conv1(self.relu1(self.norm1(x))))))
        return torch.cat([x, out], 1)


class Transition(nn.Sequential):
    """BN-ReLU-1x1 conv halving the channels, then 2x2 average pooling."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__(nn.BatchNorm2d(c_in), nn.ReLU(inplace=True), nn.Conv2d(c_in, c_out, 1, bias=False),
                         nn.AvgPool2d(2, stride=2))


class DenseNet(nn.Module):
    def __init__(self, blocks: tuple[int, ...], growth: int, stem: int, bn_size: int, num_classes: int):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, stem, 7, stride=2, padding=3, bias=False), nn.BatchNorm2d(stem),
                                   nn.ReLU(inplace=True), nn.MaxPool2d(3, stride=2, padding=1)]
        channels = stem
        for i, depth in enumerate(blocks):
            for _ in range(depth):
                layers.append(DenseLayer(channels, growth, bn_size))
                channels += growth
            if i < len(blocks) - 1:
                layers.append(Transition(channels, channels // 2))
                channels //= 2
        layers += [nn.BatchNorm2d(channels), nn.ReLU(inplace=True)]
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x):
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


def densenet121_imagenet(num_classes: int = 1000) -> nn.Module:
    return DenseNet((6, 12, 24, 16), growth=32, stem=64, bn_size=4, num_classes=num_classes)
