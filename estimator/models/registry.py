"""The model registry: the built-in catalogue (names, input shapes, classes, reference parameter counts and where each
factory lives) readable without importing torch, factories imported on first use; ``@register_model`` adds user
models. ``create()``, ``entry()`` and ``list_models()`` are the ways in (the timm pattern)."""

from __future__ import annotations

import difflib
import fnmatch
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hwmodels.errors import UserError

if TYPE_CHECKING:
    from torch import nn


@dataclass(frozen=True)
class ModelEntry:
    """A registered model.

    Attributes:
        name: registry name; the suffix names the input family (``_cifar``, ``_tiny``, ``_imagenet``...).
        factory: builds the module from ``num_classes`` and keyword options: a callable, or ``"module:function"``
            of a module of this package (imported when the model is first created).
        input_shape: default input (N, C, H, W) for profiling, batch 1.
        num_classes: default number of classes.
        params: reference parameter count at the default classes, with its source, when one exists.
        reference: where the reference count comes from.
    """

    name: str
    factory: Callable[..., nn.Module] | str
    input_shape: tuple[int, ...]
    num_classes: int
    params: int | None = None
    reference: str = ""

    def build(self, **kwargs) -> nn.Module:
        factory = self.factory
        if isinstance(factory, str):
            module, _, function = factory.partition(":")
            factory = getattr(importlib.import_module(f".{module}", __package__), function)
        return factory(**kwargs)


BUILTIN = (
    ModelEntry("alexnet_imagenet", "alexnet:alexnet_imagenet", input_shape=(1, 3, 224, 224),
               num_classes=1000, params=61_100_840,
               reference="torchvision alexnet"),
    ModelEntry("alexnet_caffe", "alexnet:alexnet_caffe", input_shape=(1, 3, 227, 227),
               num_classes=1000, params=60_965_224,
               reference="Caffe bvlc_alexnet (Krizhevsky et al. 2012, two towers)"),
    ModelEntry("densenet121_imagenet", "densenet:densenet121_imagenet", input_shape=(1, 3, 224, 224),
               num_classes=1000, params=7_978_856,
               reference="torchvision densenet121"),
    ModelEntry("mobilenetv2_cifar", "mobilenet:mobilenetv2_cifar", input_shape=(1, 3, 32, 32),
               num_classes=10, params=2_296_922,
               reference="docs/references.md s.1 (CIFAR MobileNetV2)"),
    ModelEntry("mobilenetv2_tiny", "mobilenet:mobilenetv2_tiny", input_shape=(1, 3, 64, 64),
               num_classes=200, params=2_540_312,
               reference="CIFAR MobileNetV2 with a 1280->200 classifier"),
    ModelEntry("mobilenetv2_imagenet", "mobilenet:mobilenetv2_imagenet", input_shape=(1, 3, 224, 224),
               num_classes=1000, params=3_504_872,
               reference="torchvision mobilenet_v2"),
    ModelEntry("mobilenetv2_digits", "mobilenet:mobilenetv2_digits", input_shape=(1, 1, 8, 8), num_classes=10,
               reference="small MobileNetV2-style baseline for 8x8 digits (this project)"),
    ModelEntry("resnet18_cifar", "resnet:resnet18_cifar", input_shape=(1, 3, 32, 32), num_classes=10, params=11_173_962,
               reference="docs/references.md s.1 (CIFAR ResNet18, 10 classes)"),
    ModelEntry("resnet18_tiny", "resnet:resnet18_tiny", input_shape=(1, 3, 64, 64), num_classes=200, params=11_578_632,
               reference="docs/references.md s.1: the CIFAR ResNet18 on 64x64 (its 4x4 average pooling leaves "
                         "2x2 x 512: a 2048->200 classifier)"),
    ModelEntry("resnet18_imagenet", "resnet:resnet18_imagenet", input_shape=(1, 3, 224, 224),
               num_classes=1000, params=11_689_512,
               reference="torchvision resnet18"),
    ModelEntry("resnet50_imagenet", "resnet:resnet50_imagenet", input_shape=(1, 3, 224, 224),
               num_classes=1000, params=25_557_032,
               reference="torchvision resnet50"),
    ModelEntry("shufflenetv2_cifar", "shufflenet:shufflenetv2_cifar", input_shape=(1, 3, 32, 32), num_classes=10,
               reference="ShuffleNetV2 CIFAR definition; width keyword 0.5/1/1.5/2 (default 1.5, the seed's baseline)"),
    ModelEntry("shufflenetv2_tiny", "shufflenet:shufflenetv2_tiny", input_shape=(1, 3, 64, 64), num_classes=200,
               reference="CIFAR ShuffleNetV2 (width 1.5) on 64x64 with 200 classes"),
    ModelEntry("shufflenetv2_imagenet", "shufflenet:shufflenetv2_imagenet", input_shape=(1, 3, 224, 224),
               num_classes=1000, params=2_278_604,
               reference="torchvision shufflenet_v2_x1_0"),
    ModelEntry("shufflenet_cifar", "shufflenet:shufflenet_cifar", input_shape=(1, 3, 32, 32), num_classes=10,
               reference="ShuffleNet v1 CIFAR definition; groups keyword 2 or 3 (default 2)"),
    ModelEntry("shufflenetv2_digits", "shufflenet:shufflenetv2_digits", input_shape=(1, 1, 8, 8), num_classes=10,
               reference="small ShuffleNetV2-style baseline for 8x8 digits (this project)"),
    ModelEntry("cff", "small:cff", input_shape=(1, 1, 36, 32), num_classes=1, params=951,
               reference="Garcia & Delakis 2004 (docs/references.md s.2)"),
    ModelEntry("digitnet_mnist", "small:digitnet_mnist", input_shape=(1, 1, 28, 28), num_classes=10, params=184_586,
               reference="docs/references.md s.2, use case (ii)"),
    ModelEntry("lenet5_mnist", "small:lenet5_mnist", input_shape=(1, 1, 28, 28), num_classes=10, params=61_706,
               reference="LeCun et al. 1998"),
    ModelEntry("digits_cnn", "small:digits_cnn", input_shape=(1, 1, 8, 8), num_classes=10,
               reference="small 3x3 CNN for 8x8 digits (this project); width keyword"),
    ModelEntry("digits_tanh", "small:digits_tanh", input_shape=(1, 1, 8, 8), num_classes=10,
               reference="small tanh CNN for 8x8 digits (this project); width keyword"),
    ModelEntry("vgg16_cifar", "vgg:vgg16_cifar", input_shape=(1, 3, 32, 32), num_classes=10, params=14_728_266,
               reference="docs/references.md s.1 (CIFAR VGG16)"),
    ModelEntry("vgg16_tiny", "vgg:vgg16_tiny", input_shape=(1, 3, 64, 64), num_classes=200, params=15_132_936,
               reference="CIFAR VGG16 on 64x64: the classifier reads 2x2x512 = 2048 features"),
    ModelEntry("vgg16_imagenet", "vgg:vgg16_imagenet", input_shape=(1, 3, 224, 224),
               num_classes=1000, params=138_357_544,
               reference="torchvision vgg16"),
)
"""The built-in models."""
REGISTRY: dict[str, ModelEntry] = {e.name: e for e in BUILTIN}


def register_model(name: str, *, input_shape: tuple[int, ...], num_classes: int, params: int | None = None,
                   reference: str = ""):
    """Register the decorated factory under ``name``; a duplicate name is an error."""

    def decorate(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in REGISTRY:
            raise RuntimeError(f"model '{name}' is already registered")
        REGISTRY[name] = ModelEntry(name, factory, input_shape, num_classes, params, reference)
        return factory

    return decorate


class UnknownModelError(UserError, KeyError):
    """A model name that is not registered."""

    def __str__(self) -> str:
        return str(self.args[0])


def entry(name: str) -> ModelEntry:
    """The registry entry of ``name``; an unknown name suggests the closest registered ones."""
    if name not in REGISTRY:
        close = difflib.get_close_matches(name, list(REGISTRY), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else "; see `estimator models`"
        raise UnknownModelError(f"unknown model '{name}'{hint}")
    return REGISTRY[name]


def create(name: str, num_classes: int | None = None, **kwargs) -> nn.Module:
    """Build registered model ``name`` (freshly initialised; no weights are ever downloaded)."""
    spec = entry(name)
    return spec.build(num_classes=spec.num_classes if num_classes is None else num_classes, **kwargs)


def unit_weight_model(factory: str | Callable[[], nn.Module], **kwargs) -> nn.Module:
    """The model of registered name ``factory`` (options ``kwargs``), or that a zero-argument ``factory`` returns,
    with every parameter and buffer 1, built without running its initialisers (on the meta device, then
    allocated), so that only masks make zeros (random initial values can be exactly 0)."""
    import torch

    with torch.device("meta"):
        model = create(factory, **kwargs) if isinstance(factory, str) else factory()
    model.to_empty(device="cpu")
    with torch.no_grad():
        for tensor in list(model.parameters()) + list(model.buffers()):
            tensor.fill_(1)
    return model


def list_models(pattern: str = "*") -> list[str]:
    """Registered names matching ``pattern``, sorted: a shell-style pattern (``resnet*``) or, without wildcards,
    a substring (``mobile``)."""
    if not any(c in pattern for c in "*?["):
        pattern = f"*{pattern}*"
    return sorted(n for n in REGISTRY if fnmatch.fnmatch(n, pattern))
