"""VGG-16: the CIFAR definition (13 conv3x3 with bias + BN, one Linear; as in the seed paper) and the
ImageNet definition (torchvision's vgg16, no BN, three Linear layers)."""

from __future__ import annotations

from torch import nn

VGG16_CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


def vgg_features(batch_norm: bool) -> nn.Sequential:
    layers, c_in = [], 3
    for v in VGG16_CONFIG:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
            continue
        layers.append(nn.Conv2d(c_in, v, 3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(v))
        layers.append(nn.ReLU(inplace=True))
        c_in = v
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """VGG-16 with a single Linear head over the flattened features (``spatial`` x ``spatial`` x 512)."""

    def __init__(self, num_classes: int, spatial: int):
        super().__init__()
        self.features = vgg_features(batch_norm=True)
        self.classifier = nn.Linear(512 * spatial * spatial, num_classes)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


class VGGImageNet(nn.Module):
    """torchvision's vgg16: features, 7x7 adaptive pooling, 4096-4096-classes head with dropout."""

    def __init__(self, num_classes: int):
        super().__init__()
        self.features = vgg_features(batch_norm=False)
        self.avgpool = nn.AdaptiveAvgPool2d(7)
        self.classifier = nn.Sequential(
            nn.Linear(512 * 49, 4096), nn.ReLU(True), nn.Dropout(),
            nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(), nn.Linear(4096, num_classes))

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


def vgg16_cifar(num_classes: int = 10) -> nn.Module:
    return VGG(num_classes, spatial=1)


def vgg16_tiny(num_classes: int = 200) -> nn.Module:
    return VGG(num_classes, spatial=2)


def vgg16_imagenet(num_classes: int = 1000) -> nn.Module:
    return VGGImageNet(num_classes)
