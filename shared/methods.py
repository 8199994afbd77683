"""The names of the comparison methods, the one vocabulary that the gateway and the worker share."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING


class MethodName(StrEnum):
    """A comparison method a client can ask for."""

    SSIM = "ssim"
    MS_SSIM = "ms_ssim"
    PIXEL = "pixel"
    PHASH = "phash"
    VGG16 = "vgg16"
    RESNET50 = "resnet50"
    MOBILENET_V2 = "mobilenet_v2"


ALL_METHODS = "all"


class _AnyCase(StrEnum):
    """A name typed as ``SSIM`` or ``Ssim`` means ``ssim``: names are matched in any case."""

    @classmethod
    def _missing_(cls, value: object) -> _AnyCase | None:
        key = value.strip().lower() if isinstance(value, str) else None
        return cls._value2member_map_.get(key) if key else None  # type: ignore[return-value]


if TYPE_CHECKING:  # the members are built from MethodName at run time; mypy sees the type

    class MethodChoice(_AnyCase):
        """What a client may ask for: one method, or "all" of the available ones at once."""

else:
    # What a client may ask for: one method, or "all" of the available ones at once.
    MethodChoice = _AnyCase(
        "MethodChoice", {**{m.name: m.value for m in MethodName}, "ALL": ALL_METHODS}
    )


class MethodFamily(StrEnum):
    """What a method compares, which decides the verdict classes it can give."""

    STRUCTURAL = "structural"
    PIXEL = "pixel"
    HASH = "hash"
    SEMANTIC = "semantic"


@dataclass(frozen=True)
class MethodInfo:
    """What a person needs to know to pick a method and read its answer."""

    name: MethodName
    title: str
    family: MethodFamily
    description: str
    """One line for the method list."""
    measures: str
    """What it is sensitive to and blind to, for explanations."""
    aligns_by_default: bool = False
    """Whether B is registered onto A when a request leaves ``align`` open: the one place this
    is decided (the worker settles it in ``CompareOptions.for_method``)."""


_CNN_MEASURES = (
    "{title} is a neural network trained on ImageNet; here it describes each image by what it "
    "shows, and the score is the cosine similarity of the two descriptions. It is sensitive to "
    "the kind of objects and scene, and largely blind to exact pixels, colours, framing and "
    "position."
)

METHOD_INFO: dict[MethodName, MethodInfo] = {
    MethodName.SSIM: MethodInfo(
        MethodName.SSIM,
        "SSIM",
        MethodFamily.STRUCTURAL,
        "Structural similarity of the pixels (Wang et al. 2004): high only when the two images "
        "are the same picture, perhaps re-encoded, blurred or noisy.",
        "SSIM compares the two pictures pixel by pixel: local brightness, contrast and "
        "structure (Wang et al. 2004). It is sensitive to blur, noise, compression and any "
        "change of content or framing, and blind to what the picture shows: two photos of the "
        "same subject score low.",
        aligns_by_default=True,
    ),
    MethodName.MS_SSIM: MethodInfo(
        MethodName.MS_SSIM,
        "MS-SSIM",
        MethodFamily.STRUCTURAL,
        "Multi-scale SSIM (Wang, Simoncelli & Bovik 2003): structural similarity at five scales, "
        "closer to how people judge the quality of a copy at a distance.",
        "MS-SSIM compares local structure at five scales, from fine detail to coarse layout "
        "(Wang, Simoncelli & Bovik 2003). It forgives small blur and noise more than SSIM does, "
        "and is blind to what the picture shows.",
        aligns_by_default=True,
    ),
    MethodName.PIXEL: MethodInfo(
        MethodName.PIXEL,
        "Pixel difference",
        MethodFamily.PIXEL,
        "Per-pixel colour difference (CIEDE2000): which pixels changed visibly, as for "
        "screenshots and edits; the score is the share of unchanged pixels.",
        "The pixel method measures the perceptual colour difference (CIEDE2000) of every pixel "
        "and counts a pixel as changed above the just-noticeable difference, ignoring "
        "anti-aliasing. It is sensitive to any visible edit, and blind to what the change means.",
        aligns_by_default=True,
    ),
    MethodName.PHASH: MethodInfo(
        MethodName.PHASH,
        "Perceptual hash",
        MethodFamily.HASH,
        "Perceptual hash distance (pHash): a very fast near-duplicate check that survives "
        "resizing and re-encoding.",
        "The perceptual hash reduces each image to 64 bits describing its coarse light and dark "
        "pattern (pHash) and counts the differing bits. It survives resizing, re-encoding and "
        "small edits, and is blind to fine detail and to what the picture shows; crops and "
        "rotations change it a lot.",
    ),
    MethodName.VGG16: MethodInfo(
        MethodName.VGG16,
        "VGG16",
        MethodFamily.SEMANTIC,
        "Cosine similarity of VGG16 ImageNet features: high when the images show the same "
        "kind of thing, even in different photos.",
        _CNN_MEASURES.format(title="VGG16"),
    ),
    MethodName.RESNET50: MethodInfo(
        MethodName.RESNET50,
        "ResNet50",
        MethodFamily.SEMANTIC,
        "Cosine similarity of ResNet50 ImageNet features: high when the images show the same "
        "kind of thing, even in different photos.",
        _CNN_MEASURES.format(title="ResNet50"),
    ),
    MethodName.MOBILENET_V2: MethodInfo(
        MethodName.MOBILENET_V2,
        "MobileNetV2",
        MethodFamily.SEMANTIC,
        "Cosine similarity of MobileNetV2 ImageNet features: high when the images show the same "
        "kind of thing, even in different photos; the fastest CNN here.",
        _CNN_MEASURES.format(title="MobileNetV2"),
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


def method_field_description() -> str:
    """The ``method`` field's help text, from the registry: every name, grouped by family."""
    by_family: dict[MethodFamily, list[str]] = {}
    for info in METHOD_INFO.values():
        by_family.setdefault(info.family, []).append(info.name.value)
    groups = "; ".join(f"{family}: {', '.join(names)}" for family, names in by_family.items())
    return f"{groups}; or {ALL_METHODS}: every available method at once. Any case."


def align_field_description() -> str:
    """The ``align`` field's help text, with each method's default from ``aligns_by_default``."""
    aligning = [info.name.value for info in METHOD_INFO.values() if info.aligns_by_default]
    return (
        f"Register B onto A first (feature matching). Default: on for {', '.join(aligning)}, "
        "off for the others (for a CNN, on adds its aligned same-place map)."
    )


def legacy_model_field_description() -> str:
    """The legacy ``model`` field's help text: every method name and the original aliases."""
    return f"{', '.join(MethodName)} (also: {', '.join(LEGACY_ALIASES)}); any case."
