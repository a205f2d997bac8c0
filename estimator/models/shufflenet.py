"""ShuffleNet v1 (Zhang et al. 2018; CIFAR definition, groups 2 or 3) and ShuffleNet v2 (Ma et al. 2018;
CIFAR definition at widths 0.5/1/1.5/2 with a stride-1 stem, and torchvision's ImageNet x1.0)."""

from __future__ import annotations

import torch
from torch import nn

from hwmodels.errors import UserError

from .mobilenet import conv_bn_act

V2_WIDTHS = {0.5: (48, 96, 192, 1024), 1.0: (116, 232, 464, 1024), 1.5: (176, 352, 704, 1024),
             2.0: (244, 488, 976, 2048)}
V1_GROUPS = {2: (200, 400, 800), 3: (240, 480, 960)}


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave the channels of ``groups`` groups (a view + transpose + copy: free of arithmetic)."""
    n, c, h, w = x.shape
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


class ShuffleUnitV2(nn.Module):
    """ShuffleNet v2 unit: channel split (stride 1) or two strided branches (stride 2), concat, shuffle."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.stride = stride
        half = c_out // 2
        if stride == 2:
            self.branch1 = nn.Sequential(*conv_bn_act(c_in, c_in, 3, 2, groups=c_in, act=None),
                                         *conv_bn_act(c_in, half, 1))
        branch_in = c_in if stride == 2 else half
        self.branch2 = nn.Sequential(*conv_bn_act(branch_in, half, 1),
                                     *conv_bn_act(half, half, 3, stride, groups=half, act=None),
                                     *conv_bn_act(half, half, 1))

    def forward(self, x):
        if self.stride == 1:
            left, right = x.chunk(2, dim=1)
            out = torch.cat([left, self.branch2(right)], 1)
        else:
            out = torch.cat([self.branch1(x), self.branch2(x)], 1)
        return channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    """ShuffleNet v2 with 4/8/4 units per stage; ``cifar`` selects a 3x3 stride-1 stem without max-pool."""

    def __init__(self, num_classes: int, width: float, *, cifar: bool, in_channels: int = 3,
                 stem_channels: int = 24, repeats: tuple[int, ...] = (4, 8, 4), channels=None):
        super().__init__()
        if channels is None:
            if width not in V2_WIDTHS:
                raise UserError(f"ShuffleNetV2 width must be one of {sorted(V2_WIDTHS)}; got {width}")
            channels = V2_WIDTHS[width]
        stem = conv_bn_act(in_channels, stem_channels, 3, 1 if cifar else 2)
        self.stem = nn.Sequential(*stem) if cifar else nn.Sequential(*stem, nn.MaxPool2d(3, 2, 1))
        c_in, stages = stem_channels, []
        for c_out, repeat in zip(channels[:-1], repeats, strict=True):
            units = [ShuffleUnitV2(c_in, c_out, 2)] + [ShuffleUnitV2(c_out, c_out, 1) for _ in range(repeat - 1)]
            stages.append(nn.Sequential(*units))
            c_in = c_out
        self.stages = nn.Sequential(*stages)
        self.conv_last = nn.Sequential(*conv_bn_act(c_in, channels[-1], 1))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels[-1], num_classes)

    def forward(self, x):
        return self.fc(self.pool(self.conv_last(self.stages(self.stem(x)))).flatten(1))


class ShuffleUnitV1(nn.Module):
    """ShuffleNet v1 unit: grouped 1x1, shuffle, depthwise 3x3, grouped 1x1; add (stride 1) or concat with
    an average-pooled shortcut (stride 2)."""

    def __init__(self, c_in: int, c_out: int, stride: int, groups: int):
        super().__init__()
        self.stride = stride
        mid = c_out // 4
        self.first_groups = 1 if c_in == 24 else groups
        self.conv1 = nn.Sequential(*conv_bn_act(c_in, mid, 1, groups=self.first_groups))
        self.conv2 = nn.Sequential(*conv_bn_act(mid, mid, 3, stride, groups=mid, act=None))
        self.conv3 = nn.Sequential(*conv_bn_act(mid, c_out, 1, groups=groups, act=None))
        self.shortcut = nn.AvgPool2d(3, 2, 1) if stride == 2 else nn.Identity()
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        out = self.conv3(self.conv2(channel_shuffle(self.conv1(x), self.first_groups)))
        residual = self.shortcut(x)
        return self.relu(torch.cat([out, residual], 1) if self.stride == 2 else out + residual)


class ShuffleNetV1(nn.Module):
    """The CIFAR ShuffleNet v1: 1x1 stem to 24 channels, 4/8/4 units, global pooling, one Linear."""

    def __init__(self, num_classes: int, groups: int):
        super().__init__()
        if groups not in V1_GROUPS:
            raise UserError(f"ShuffleNet groups must be one of {sorted(V1_GROUPS)}; got {groups}")
        self.stem = nn.Sequential(*conv_bn_act(3, 24, 1))
        c_in, stages = 24, []
        for c_out, repeat in zip(V1_GROUPS[groups], (4, 8, 4), strict=True):
            units = [ShuffleUnitV1(c_in, c_out - c_in, 2, groups)]
            units += [ShuffleUnitV1(c_out, c_out, 1, groups) for _ in range(repeat - 1)]
            stages.append(nn.Sequential(*units))
            c_in = c_out
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c_in, num_classes)

    def forward(self, x):
        return self.fc(self.pool(self.stages(self.stem(x))).flatten(1))


def shufflenetv2_cifar(num_classes: int = 10, width: float = 1.5) -> nn.Module:
    return ShuffleNetV2(num_classes, width, cifar=True)


def shufflenetv2_tiny(num_classes: int = 200, width: float = 1.5) -> nn.Module:
    return ShuffleNetV2(num_classes, width, cifar=True)


def shufflenetv2_imagenet(num_classes: int = 1000, width: float = 1.0) -> nn.Module:
    return ShuffleNetV2(num_classes, width, cifar=False)


def shufflenet_cifar(num_classes: int = 10, groups: int = 2) -> nn.Module:
    return ShuffleNetV1(num_classes, groups)


def shufflenetv2_digits(num_classes: int = 10) -> nn.Module:
    return ShuffleNetV2(num_classes, 0.5, cifar=True, in_channels=1, stem_channels=16, repeats=(2, 2),
                        channels=(32, 64, 128))
