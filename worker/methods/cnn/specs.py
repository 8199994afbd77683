"""The three networks as data: one ``CnnMethod`` class runs any of them.

A spec names the ``keras.applications`` module that holds the constructor and its own
``preprocess_input``, and Keras's file name for the no-top ImageNet weights, which is what a
user is told to provide when the file is missing.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.methods import MethodName


@dataclass(frozen=True)
class CnnSpec:
    """How to build one network and prepare its input."""

    name: MethodName
    module: str  # keras.applications submodule with the constructor and preprocess_input
    constructor: str
    weights_file: str  # Keras's own file name for the no-top ImageNet weights


CNN_SPECS: dict[MethodName, CnnSpec] = {
    MethodName.VGG16: CnnSpec(
        MethodName.VGG16, "vgg16", "VGG16", "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    ),
    MethodName.RESNET50: CnnSpec(
        MethodName.RESNET50,
        "resnet50",
        "ResNet50",
        "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
    ),
    MethodName.MOBILENET_V2: CnnSpec(
        MethodName.MOBILENET_V2,
        "mobilenet_v2",
        "MobileNetV2",
        "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5",
    ),
}
