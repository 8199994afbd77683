"""One comparison, from uploaded bytes to a typed result: decode, compare, draw, explain."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from shared.errors import ServiceError
from shared.methods import ALL_METHODS, METHOD_INFO, MethodName
from shared.schemas import (
    CompareAllResult,
    CompareAllTimings,
    CompareResult,
    ExtraHeatmap,
    HeatmapFormat,
    MethodState,
    Relation,
    ReplayedAllTimings,
    ReplayedTimings,
    ScreenshotCheck,
    Timings,
    Verdict,
)
from shared.settings import Settings
from worker.alignment import SharedRegistration
from worker.cache import ByteBoundedLRU
from worker.combined import combine
from worker.decode import DecodedImage, decode_image, digest_of
from worker.explain import explain, verdict_label
from worker.geometry import greyscale_side
from worker.heatmap import data_url, difference_png, grey_base, render_overlay
from worker.identity import identical, size_note
from worker.methods.base import CompareOptions, Comparison
from worker.orientation import Orientation, oriented
from worker.pair_runner import PairRunner
from worker.registry import Registry
from worker.relation import relation_of, relation_sentence
from worker.summary import summarize
from worker.transparency import transparency_change
from worker.verdict import decide, thresholds_for


@contextmanager
def _stopwatch(into: dict[str, float], key: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        into[key] = round((time.perf_counter() - start) * 1000, 3)


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _require_ready(registry: Registry, method_name: MethodName, retry_after_s: int) -> None:
    """503 unless ready; only a model still loading is worth retrying (``Retry-After``)."""
    availability = registry.availability(method_name)
    if availability.state is not MethodState.READY:
        raise availability.refusal(method_name, retry_after_s)


class Upload:
    """One uploaded file and its digest, hashed once: the result cache and the embedding cache
    are both keyed by it."""

    def __init__(self, field: str, data: bytes) -> None:
        self.field = field
        self.data = data
        self.digest = digest_of(data)


@dataclass(frozen=True)
class PairRequest:
    """A comparison past the result cache: what ``ComparisonService.compute`` needs, and what
    travels to a pixel process (``options`` settled for the method, no registration yet)."""

    choice: str
    uploads: tuple[Upload, Upload]
    options: CompareOptions
    orient: bool


def _render_maps(
    image_a: DecodedImage,
    comparison: Comparison,
    image_format: HeatmapFormat,
    settings: Settings,
) -> tuple[str | None, list[ExtraHeatmap]]:
    """The main heatmap and the extra views as data URLs over A in grey; nothing at all with
    ``heatmap_format=none``, for clients that only want the numbers (the answer then shrinks
    from hundreds of kilobytes to a few, and no time goes into drawing and encoding)."""
    if image_format is HeatmapFormat.NONE:
        return None, []
    max_side = min(settings.heatmap_max_side, comparison.heatmap_max_side or 1 << 30)
    base = grey_base(image_a.pixels, max_side)
    heatmap = data_url(
        render_overlay(image_a.pixels, comparison.difference_map, max_side, base), image_format
    )
    # Second views are smaller: they are for a look, the main map is for detail.
    small = grey_base(image_a.pixels, max_side // 2) if comparison.extra_views else None
    extra = [
        ExtraHeatmap(
            name=view.name,
            title=view.title,
            description=view.description,
            image=data_url(
                render_overlay(image_a.pixels, view.values, max_side, small), image_format
            ),
            legend=view.legend,
        )
        for view in comparison.extra_views
    ]
    return heatmap, extra


def _difference_map(image_a: DecodedImage, comparison: Comparison, settings: Settings) -> str:
    """The main map's values as a grey PNG at A's size as uploaded (not as decoded, which may
    be smaller), within the decoding bound of ``max_image_pixels``."""
    height, width = image_a.info.height, image_a.info.width
    shrink = min(1.0, (settings.max_image_pixels / (height * width)) ** 0.5)
    return difference_png(
        comparison.difference_map, max(1, int(height * shrink)), max(1, int(width * shrink))
    )


def run_method(
    registry: Registry,
    method_name: MethodName,
    image_a: DecodedImage,
    image_b: DecodedImage,
    options: CompareOptions,
    settings: Settings,
    decode_ms: float,
    orientation: Orientation | None = None,
) -> CompareResult:
    """One ready method on two decoded images (B already turned back to ``orientation``),
    rendered and explained; ``options.align`` left to the method's default is settled here,
    once, before the method sees it."""
    started = time.perf_counter()
    times: dict[str, float] = {}
    availability = registry.availability(method_name)
    method = registry.methods[method_name]
    with _stopwatch(times, "compute"):
        comparison = method.compare(image_a, image_b, options.for_method(method_name))
    with _stopwatch(times, "heatmap"):
        heatmap, extra = _render_maps(image_a, comparison, options.heatmap_format, settings)
        full_map = (
            _difference_map(image_a, comparison, settings) if options.difference_map else None
        )
    thresholds = thresholds_for(availability.calibration_key)
    turned = orientation is not None and orientation.changed
    # "identical" is one rule for every method (same size, pixels and alpha), never a method's
    # cropped frame; a turned or mirrored copy is never "identical", however exactly it turns back.
    same = not turned and identical(image_a, image_b)
    verdict = decide(comparison.score, same, thresholds)
    # The pair's colour relation is stated whenever B is not compared as given.
    grey = (
        greyscale_side(image_a.pixels, image_b.pixels, options.registration)
        if orientation is not None
        else None
    )
    turns = orientation.quarter_turns if orientation is not None else 0
    b_size = (image_b.info.width, image_b.info.height)
    relation = (
        relation_of(
            orientation,
            comparison.alignment,
            grey,
            transparency_change(image_a, image_b),
            ((image_a.info.width, image_a.info.height), b_size[::-1] if turns % 2 else b_size),
        )
        if orientation is not None  # align=false: B as given, no relation sought
        else None
    )
    preparation = comparison.preparation
    sizes = size_note(image_a, image_b, orientation.quarter_turns if orientation else 0)
    if sizes:
        preparation = f"{sizes} {preparation}"
    if orientation is not None and turned:
        preparation = (
            f"{orientation.describe()}: it was turned back before comparing. {preparation}"
        )
    explanation = explain(
        method_name,
        comparison.score,
        verdict,
        thresholds,
        availability.weights,
        preparation,
        comparison.alignment,
    )
    if comparison.screenshot is not None:  # a change is named first, never averaged away
        explanation = f"{comparison.screenshot.summary} {explanation}"
    return CompareResult(
        method=method_name,
        family=METHOD_INFO[method_name].family,
        score=round(comparison.score, 6),
        similarity_percent=round(max(0.0, min(1.0, comparison.score)) * 100, 2),
        verdict=verdict,
        verdict_label=_with_changes(
            verdict_label(METHOD_INFO[method_name].family, verdict), comparison.screenshot
        ),
        calibrated=thresholds is not None,
        explanation=explanation,
        heatmap=heatmap,
        heatmap_legend=comparison.legend,
        extra_heatmaps=extra,
        difference_map=full_map,
        alignment=comparison.alignment,
        relation=relation,
        metrics=comparison.metrics,
        image_a=image_a.info,
        image_b=image_b.info,
        preparation=preparation,
        weights=availability.weights,
        warnings=comparison.warnings,
        precision=comparison.precision,
        device=comparison.device,
        screenshot=comparison.screenshot,
        timings=Timings(
            decode_ms=decode_ms,
            compute_ms=times["compute"],
            heatmap_ms=times["heatmap"],
            cache_hits=comparison.cache_hits,
            batch_size=comparison.batch_size,
            model_ms=comparison.model_ms,
            worker_ms=round(decode_ms + _elapsed_ms(started), 3),
        ),
    )


def _result_size(result: CompareResult | CompareAllResult) -> int:
    """Roughly the bytes a stored result holds: its heatmaps dominate."""
    results = result.results if isinstance(result, CompareAllResult) else [result]
    return sum(
        len(r.heatmap or "")
        + len(r.difference_map or "")
        + len(r.screenshot.diff_image or "" if r.screenshot else "")
        + sum(len(view.image) for view in r.extra_heatmaps)
        + 4096
        for r in results
    )


class ComparisonService:
    """Runs comparisons for the worker's routes, and remembers recent answers.

    A request identical to a recent one (same bytes, method and options) is answered from the
    result cache without decoding or computing anything: only the two files are hashed.
    """

    def __init__(
        self,
        registry: Registry,
        settings: Settings,
        offload: Callable[[PairRequest], tuple[CompareResult | CompareAllResult, bool]]
        | None = None,
    ) -> None:
        self.registry = registry
        self.settings = settings
        self.offload = offload
        """Where comparisons without a CNN are computed instead of here (the pixel processes,
        ``worker.pixel_processes``); the result cache stays here, in front of it."""
        self.pair_runner = PairRunner(threads_per_core=settings.worker_threads)
        self.results: ByteBoundedLRU[CompareResult | CompareAllResult] = ByteBoundedLRU(
            settings.result_cache_bytes, _result_size
        )

    def compare(
        self, choice: str, data_a: bytes, data_b: bytes, options: CompareOptions
    ) -> CompareResult | CompareAllResult:
        """One method by name, or ``all``; ``ServiceError`` for what the client can fix."""
        started = time.perf_counter()
        if choice != ALL_METHODS:
            _require_ready(self.registry, MethodName(choice), self.settings.retry_after_s)
        uploads = (Upload("image_a", data_a), Upload("image_b", data_b))
        orient = options.orient
        if choice != ALL_METHODS:  # align=None and its method's default are one request
            options = options.for_method(MethodName(choice))
        key = (choice, options, orient, uploads[0].digest, uploads[1].digest)
        cached = self.results.get(key)
        if cached is not None:
            return _replayed(cached, _elapsed_ms(started))
        request = PairRequest(choice, uploads, options, orient)
        offload = self.offload
        if offload is not None and not self.registry.needs_a_cnn(choice):
            result, cacheable = offload(request)
        else:
            result, cacheable = self.compute(request)
        if cacheable:
            self.results.put(key, result.model_copy(deep=True))
        return result

    def compute(self, request: PairRequest) -> tuple[CompareResult | CompareAllResult, bool]:
        """The comparison itself, past the result cache (also what a pixel process runs), and
        whether its answer may be kept."""
        # One registration of B onto A for every method of this request that aligns.
        options = replace(request.options, registration=SharedRegistration())
        if request.choice == ALL_METHODS:
            return self._compare_all(request.uploads, options, request.orient)
        method = MethodName(request.choice)
        return self._compare_one(method, request.uploads, options, request.orient), True

    def _decode_pair(
        self, uploads: tuple[Upload, Upload], enough_side: int | None = None
    ) -> tuple[DecodedImage, DecodedImage]:
        def decode(upload: Upload) -> DecodedImage:
            return decode_image(
                upload.data,
                upload.field,
                self.settings.max_image_pixels,
                enough_side=enough_side,
                digest=upload.digest,
            )

        return self.pair_runner.run(decode, *uploads)

    def _compare_one(
        self,
        method_name: MethodName,
        uploads: tuple[Upload, Upload],
        options: CompareOptions,
        orient: bool,
    ) -> CompareResult:
        times: dict[str, float] = {}
        enough_side = self.registry.methods[method_name].decode_side
        with _stopwatch(times, "decode"):
            image_a, image_b = self._decode_pair(uploads, enough_side)
            image_b, orientation = oriented(image_a, image_b) if orient else (image_b, None)
        return run_method(
            self.registry,
            method_name,
            image_a,
            image_b,
            options,
            self.settings,
            times["decode"],
            orientation,
        )

    def _compare_all(
        self, uploads: tuple[Upload, Upload], options: CompareOptions, orient: bool
    ) -> tuple[CompareAllResult, bool]:
        """Every ready method on one pair, decoded once; methods that cannot take the pair (e.g.
        too small for MS-SSIM) are listed with the reason instead of failing the request.

        Also whether the answer may be kept: not when a method was skipped because it was still
        loading, since the same request will soon get that method's result too.
        """
        started = time.perf_counter()
        times: dict[str, float] = {}
        with _stopwatch(times, "decode"):
            image_a, image_b = self._decode_pair(uploads)
            image_b, orientation = oriented(image_a, image_b) if orient else (image_b, None)
        results: list[CompareResult] = []
        unavailable: dict[str, str] = {}
        complete = True
        for name in MethodName:
            availability = self.registry.availability(name)
            if availability.state is not MethodState.READY:
                unavailable[name.value] = availability.reason or str(availability.state)
                complete = complete and availability.state is not MethodState.LOADING
                continue
            try:
                results.append(
                    run_method(
                        self.registry,
                        name,
                        image_a,
                        image_b,
                        options,
                        self.settings,
                        0.0,
                        orientation,
                    )
                )
            except ServiceError as error:
                if error.status_code >= 500:
                    raise
                unavailable[name.value] = error.message
        relation = _first_relation(results, orientation)
        combined = combine(
            self._calibrated_scores(results),
            identical_pixels=any(r.verdict is Verdict.IDENTICAL for r in results),
        )
        result = CompareAllResult(
            method=ALL_METHODS,
            summary=summarize(
                results,
                unavailable,
                combined,
                relation_sentence(relation, image_b.info.width, image_b.info.height),
            ),
            combined=combined,
            relation=relation,
            results=results,
            unavailable=unavailable,
            image_a=image_a.info,
            image_b=image_b.info,
            timings=CompareAllTimings(decode_ms=times["decode"], worker_ms=_elapsed_ms(started)),
        )
        return result, complete

    def _calibrated_scores(self, results: list[CompareResult]) -> dict[str, float]:
        """Calibration key -> score of each method whose verdict here is calibrated: what the
        combined model may use (a CNN's key names its weights, so a model fitted with other
        weights never applies)."""
        scores: dict[str, float] = {}
        for result in results:
            key = self.registry.availability(result.method).calibration_key
            if key and result.calibrated and result.verdict is not Verdict.UNCALIBRATED:
                scores[key] = result.score
        return scores


def _with_changes(label: str, check: ScreenshotCheck | None) -> str:
    """A screenshot check never lets a label hide a change: 'same picture, 1 region changed'."""
    if check is None or check.changed_pixels == 0:
        return label
    regions = f"{check.region_count} region{'s' if check.region_count != 1 else ''} changed"
    return f"{label}, {regions}"


def _first_relation(
    results: list[CompareResult], orientation: Orientation | None
) -> Relation | None:
    """The pair's relation: that of the first method that registered B, else the first any
    method reported (a turn, a greyscale copy), else the orientation's."""
    registered = [
        r.relation for r in results if r.relation and "registration" in r.relation.found_by
    ]
    reported = [r.relation for r in results if r.relation]
    if registered or reported:
        return (registered or reported)[0]
    return relation_of(orientation, None)


def _replayed(
    cached: CompareResult | CompareAllResult, worker_ms: float
) -> CompareResult | CompareAllResult:
    """A stored answer whose timings are this request's (nothing decoded or computed: only
    ``worker_ms``, the hashing and lookup), the stored ones kept under ``replayed``."""
    result = cached.model_copy(deep=True)
    if isinstance(result, CompareAllResult):
        original = result.timings
        result.timings = CompareAllTimings(
            decode_ms=0.0,
            result_cache_hit=True,
            replayed=ReplayedAllTimings(decode_ms=original.decode_ms, worker_ms=original.worker_ms),
            worker_ms=worker_ms,
        )
        for single in result.results:
            single.timings = _replayed_timings(single.timings, 0.0)
    else:
        result.timings = _replayed_timings(result.timings, worker_ms)
    return result


def _replayed_timings(original: Timings, worker_ms: float) -> Timings:
    kept = original.model_dump(include=set(ReplayedTimings.model_fields))
    return Timings(
        decode_ms=0.0,
        compute_ms=0.0,
        heatmap_ms=0.0,
        result_cache_hit=True,
        replayed=ReplayedTimings(**kept),
        worker_ms=worker_ms,
    )
