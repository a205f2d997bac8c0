"""MobileNetV2 (Sandler et al. 2018): the widely used CIFAR definition (stride-1 stem and second stage,
always an expansion conv, projection shortcuts, ReLU) and torchvision's ImageNet definition (ReLU6)."""

from __future__ import annotations

from torch import nn

# (expansion t, output channels c, blocks n, first stride s)
IMAGENET_CONFIG = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                   (6, 320, 1, 1))
CIFAR_CONFIG = ((1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                (6, 320, 1, 1))
DIGITS_CONFIG = ((1, 8, 1, 1), (4, 16, 2, 1), (4, 24, 2, 2), (4, 32, 2, 2))


def conv_bn_act(c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1,
                act: type[nn.Module] | None = nn.ReLU) -> list[nn.Module]:
    layers = [nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False), nn.BatchNorm2d(c_out)]
    return layers + ([act(inplace=True)] if act else [])


class InvertedResidual(nn.Module):
    """1x1 expand (skipped for t=1 unless ``always_expand``), 3x3 depthwise, 1x1 linear projection."""

    def __init__(self, c_in: int, c_out: int, expansion: int, stride: int, *, act: type[nn.Module],
                 always_expand: bool, project_shortcut: bool):
        super().__init__()
        hidden = c_in * expansion
        layers = conv_bn_act(c_in, hidden, 1, act=act) if (expansion != 1 or always_expand) else []
        layers += conv_bn_act(hidden, hidden, 3, stride, groups=hidden, act=act)
        layers += conv_bn_act(hidden, c_out, 1, act=None)
        self.conv = nn.Sequential(*layers)
        self.residual = stride == 1 and (c_in == c_out or project_shortcut)
        self.shortcut = (nn.Sequential(*conv_bn_act(c_in, c_out, 1, act=None))
                         if self.residual and c_in != c_out else nn.Identity())

    def forward(self, x):
        out = self.conv(x)
        return out + self.shortcut(x) if self.residual else out


class MobileNetV2(nn.Module):
    """MobileNetV2 from a block table; ``cifar=True`` selects the CIFAR flavour described above."""

    def __init__(self, num_classes: int, config, *, cifar: bool, in_channels: int = 3, stem_channels: int = 32,
                 last_channels: int = 1280, dropout: float = 0.0):
        super().__init__()
        act = nn.ReLU if cifar else nn.ReLU6
        layers = conv_bn_act(in_channels, stem_channels, 3, 1 if cifar else 2, act=act)
        c_in = stem_channels
        for t, c, n, s in config:
            for i in range(n):
                layers.append(InvertedResidual(c_in, c, t, s if i == 0 else 1, act=act, always_expand=cifar,
                                               project_shortcut=cifar))
                c_in = c
        layers += conv_bn_act(c_in, last_channels, 1, act=act)
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(last_channels, num_classes))

    def forward(self, x):
        return self.classifier(self.pool(self.features(x)).flatten(1))


def mobilenetv2_cifar(num_classes: int = 10) -> nn.Module:
    return MobileNetV2(num_classes, CIFAR_CONFIG, cifar=True)


def mobilenetv2_tiny(num_classes: int = 200) -> nn.Module:
    return MobileNetV2(num_classes, CIFAR_CONFIG, cifar=True)


def mobilenetv2_imagenet(num_classes: int = 1000) -> nn.Module:
    return MobileNetV2(num_classes, IMAGENET_CONFIG, cifar=False, dropout=0.2)


def mobilenetv2_digits(num_classes: int = 10) -> nn.Module:
    return MobileNetV2(num_classes, DIGITS_CONFIG, cifar=True, in_channels=1, stem_channels=8, last_channels=64)
