"""ResNet-18/50: the CIFAR definition (3x3 stride-1 stem, no max-pool; He et al. 2016 as used by the
seed paper) and the ImageNet definition (7x7 stride-2 stem + max-pool)."""

from __future__ import annotations

from torch import nn


def conv_bn(c_in: int, c_out: int, kernel: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False), nn.BatchNorm2d(c_out)]


class BasicBlock(nn.Module):
    """Two 3x3 convs with an identity (or 1x1 projection) shortcut."""

    expansion = 1

    def __init__(self, c_in: int, width: int, stride: int = 1):
        super().__init__()
        self.conv1, self.bn1 = conv_bn(c_in, width, 3, stride)
        self.conv2, self.bn2 = conv_bn(width, width, 3)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = (nn.Sequential(*conv_bn(c_in, width, 1, stride)) if stride != 1 or c_in != width
                         else nn.Sequential())

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += self.shortcut(x)
        return self.relu(out)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (stride here, as in torchvision v1.5), 1x1 expand by 4."""

    expansion = 4

    def __init__(self, c_in: int, width: int, stride: int = 1):
        super().__init__()
        c_out = width * self.expansion
        self.conv1, self.bn1 = conv_bn(c_in, width, 1)
        self.conv2, self.bn2 = conv_bn(width, width, 3, stride)
        self.conv3, self.bn3 = conv_bn(width, c_out, 1)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = (nn.Sequential(*conv_bn(c_in, c_out, 1, stride)) if stride != 1 or c_in != c_out
                         else nn.Sequential())

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out += self.shortcut(x)
        return self.relu(out)


class ResNet(nn.Module):
    """ResNet with a configurable stem: ``stem="cifar"`` (3x3/1, no pool) or ``"imagenet"`` (7x7/2 + pool).
    ``pooled_side``: the side of the final feature map after pooling (1: global average pooling; 2: the CIFAR
    code's fixed 4x4 average pooling on a 64x64 input, whose classifier input grows to 4 x 512)."""

    def __init__(self, block: type[nn.Module], depths: tuple[int, ...], num_classes: int, stem: str,
                 pooled_side: int = 1):
        super().__init__()
        if stem == "cifar":
            self.stem = nn.Sequential(*conv_bn(3, 64, 3), nn.ReLU(inplace=True))
        else:
            self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64),
                                      nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1))
        c_in, stages = 64, []
        for i, depth in enumerate(depths):
            width = 64 * 2**i
            blocks = []
            for j in range(depth):
                blocks.append(block(c_in, width, 2 if (i > 0 and j == 0) else 1))
                c_in = width * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.pool = nn.AdaptiveAvgPool2d(1) if pooled_side == 1 else nn.AvgPool2d(4)
        self.fc = nn.Linear(c_in * pooled_side**2, num_classes)

    def forward(self, x):
        x = self.stem(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.pool(x).flatten(1))


def resnet18_cifar(num_classes: int = 10) -> nn.Module:
    return ResNet(BasicBlock, (2, 2, 2, 2), num_classes, "cifar")


def resnet18_tiny(num_classes: int = 200) -> nn.Module:
    return ResNet(BasicBlock, (2, 2, 2, 2), num_classes, "cifar", pooled_side=2)


def resnet18_imagenet(num_classes: int = 1000) -> nn.Module:
    return ResNet(BasicBlock, (2, 2, 2, 2), num_classes, "imagenet")


def resnet50_imagenet(num_classes: int = 1000) -> nn.Module:
    return ResNet(Bottleneck, (3, 4, 6, 3), num_classes, "imagenet")
