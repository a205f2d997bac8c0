"""AlexNet: torchvision's one-tower definition (224x224) and the original two-tower network of Krizhevsky
et al. 2012 as in Caffe's bvlc_alexnet (227x227, LRN, conv2/4/5 grouped in two), used in hardware papers."""

from __future__ import annotations

from torch import nn


class AlexNet(nn.Module):
    """torchvision's AlexNet (64-192-384-256-256 convs, 6x6 adaptive pooling, dropout head)."""

    def __init__(self, num_classes: int):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, 11, 4, 2), nn.ReLU(True), nn.MaxPool2d(3, 2),
            nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(True), nn.MaxPool2d(3, 2),
            nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(True),
            nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(True),
            nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(True), nn.MaxPool2d(3, 2))
        self.avgpool = nn.AdaptiveAvgPool2d(6)
        self.classifier = nn.Sequential(
            nn.Dropout(), nn.Linear(256 * 36, 4096), nn.ReLU(True),
            nn.Dropout(), nn.Linear(4096, 4096), nn.ReLU(True), nn.Linear(4096, num_classes))

    def forward(self, x):
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


class AlexNetTwoTower(nn.Module):
    """The original AlexNet: 96-256-384-384-256 convs, conv2/4/5 split across two GPUs (groups=2), LRN."""

    def __init__(self, num_classes: int):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 96, 11, 4)
        self.norm1 = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)
        self.conv2 = nn.Conv2d(96, 256, 5, padding=2, groups=2)
        self.norm2 = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)
        self.conv3 = nn.Conv2d(256, 384, 3, padding=1)
        self.conv4 = nn.Conv2d(384, 384, 3, padding=1, groups=2)
        self.conv5 = nn.Conv2d(384, 256, 3, padding=1, groups=2)
        self.pool = nn.MaxPool2d(3, 2)
        self.relu = nn.ReLU(inplace=True)
        self.fc6 = nn.Linear(256 * 36, 4096)
        self.fc7 = nn.Linear(4096, 4096)
        self.fc8 = nn.Linear(4096, num_classes)
        self.dropout = nn.Dropout()

    def forward(self, x):
        x = self.pool(self.norm1(self.relu(self.conv1(x))))
        x = self.pool(self.norm2(self.relu(self.conv2(x))))
        x = self.relu(self.conv3(x))
        x = self.relu(self.conv4(x))
        x = self.pool(self.relu(self.conv5(x))).flatten(1)
        x = self.dropout(self.relu(self.fc6(x)))
        x = self.dropout(self.relu(self.fc7(x)))
        return self.fc8(x)


def alexnet_imagenet(num_classes: int = 1000) -> nn.Module:
    return AlexNet(num_classes)


def alexnet_caffe(num_classes: int = 1000) -> nn.Module:
    return AlexNetTwoTower(num_classes)
