"""The one table of comparison methods: name -> implementation."""

from __future__ import annotations

from dataclasses import dataclass

from shared.methods import ALL_METHODS, METHOD_INFO, MethodName
from shared.schemas import MethodState, MethodStatus, WeightsSource, method_status
from shared.settings import Settings
from worker.cache import ByteBoundedLRU
from worker.methods.base import Availability, Method
from worker.methods.cnn import CNN_SPECS, CnnMethod, embedding_cache
from worker.methods.ms_ssim import MsSsimMethod
from worker.methods.phash import PerceptualHashMethod
from worker.methods.pixel import PixelDifferenceMethod
from worker.methods.ssim import SsimMethod
from worker.verdict import thresholds_for


@dataclass
class Registry:
    """All methods the worker knows, and the CNNs it has to load at start-up."""

    methods: dict[MethodName, Method]
    cnns: list[CnnMethod]
    embedding_cache: ByteBoundedLRU

    def availability(self, name: MethodName) -> Availability:
        """A method's state; a method not enabled in the settings is unavailable."""
        method = self.methods.get(name)
        if method is None:
            return Availability(
                MethodState.UNAVAILABLE,
                f"{METHOD_INFO[name].title} is not enabled: add '{name}' to ISC_CNN_METHODS.",
                WeightsSource.NONE,
                None,
            )
        return method.availability()

    def needs_a_cnn(self, choice: str) -> bool:
        """Whether a request for ``choice`` (a method's name or ``all``) may run a loaded CNN:
        such requests stay in the worker process, where the models and their batches are."""
        return choice == ALL_METHODS or any(cnn.name.value == choice for cnn in self.cnns)

    def statuses(self) -> list[MethodStatus]:
        """Every method, in the order of ``MethodName``, as ``/methods`` lists them."""
        return [self.status(name) for name in MethodName]

    def status(self, name: MethodName) -> MethodStatus:
        """One method's public status."""
        availability = self.availability(name)
        return method_status(
            name,
            availability.state,
            reason=availability.reason,
            weights=availability.weights,
            calibrated=thresholds_for(availability.calibration_key) is not None,
            precision=next((cnn.precision_report for cnn in self.cnns if cnn.name == name), None),
        )


def build_registry(settings: Settings) -> Registry:
    """The pixel-based methods (SSIM, MS-SSIM, pixel difference, perceptual hash) plus the CNNs
    named in the settings (not loaded yet: see ``CnnMethod.load``)."""
    cache = embedding_cache(settings.embedding_cache_bytes)
    cnns = [
        CnnMethod(CNN_SPECS[MethodName(name)], settings, cache)
        for name in settings.cnn_method_names()
    ]
    methods: dict[MethodName, Method] = {
        MethodName.SSIM: SsimMethod(),
        MethodName.MS_SSIM: MsSsimMethod(),
        MethodName.PIXEL: PixelDifferenceMethod(settings.pixel_jnd),
        MethodName.PHASH: PerceptualHashMethod(),
    }
    methods.update({cnn.name: cnn for cnn in cnns})
    return Registry(methods=methods, cnns=cnns, embedding_cache=cache)
