"""The names of the comparison methods, the one vocabulary that the gateway and the worker share."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class MethodName(StrEnum):
    """A comparison method a client can ask for."""

    SSIM = "ssim"
    VGG16 = "vgg16"
    RESNET50 = "resnet50"
    MOBILENET_V2 = "mobilenet_v2"


class MethodFamily(StrEnum):
    """What a method compares: pixel structure or image content."""

    STRUCTURAL = "structural"
    SEMANTIC = "semantic"


@dataclass(frozen=True)
class MethodInfo:
    """What a person needs to know to pick a method."""

    name: MethodName
    title: str
    family: MethodFamily
    description: str


METHOD_INFO: dict[MethodName, MethodInfo] = {
    MethodName.SSIM: MethodInfo(
        MethodName.SSIM,
        "SSIM",
        MethodFamily.STRUCTURAL,
        "Structural similarity of the pixels (Wang et al. 2004): high only when the two images "
        "are the same picture, perhaps re-encoded, blurred or noisy.",
    ),
    MethodName.VGG16: MethodInfo(
        MethodName.VGG16,
        "VGG16",
        MethodFamily.SEMANTIC,
        "Cosine similarity of VGG16 ImageNet features: high when the images show the same "
        "kind of thing, even in different photos.",
    ),
    MethodName.RESNET50: MethodInfo(
        MethodName.RESNET50,
        "ResNet50",
        MethodFamily.SEMANTIC,
        "Cosine similarity of ResNet50 ImageNet features: high when the images show the same "
        "kind of thing, even in different photos.",
    ),
    MethodName.MOBILENET_V2: MethodInfo(
        MethodName.MOBILENET_V2,
        "MobileNetV2",
        MethodFamily.SEMANTIC,
        "Cosine similarity of MobileNetV2 ImageNet features: high when the images show the same "
        "kind of thing, even in different photos; the fastest CNN here.",
    ),
}

# Names the original product accepted in its ``model`` form field.
LEGACY_ALIASES: dict[str, MethodName] = {
    "mobilenet": MethodName.MOBILENET_V2,
    "mobilenetv2": MethodName.MOBILENET_V2,
    "mobilenet-v2": MethodName.MOBILENET_V2,
    "resnet": MethodName.RESNET50,
    "vgg": MethodName.VGG16,
}


def parse_method_name(value: str) -> MethodName | None:
    """The method a (possibly legacy) name stands for, or None when it names none."""
    key = value.strip().lower()
    try:
        return MethodName(key)
    except ValueError:
        return LEGACY_ALIASES.get(key)
