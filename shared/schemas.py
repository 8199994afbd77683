"""Pydantic models of what the service answers: the typed contract between gateway, worker and
clients. Every field carries a description and an example so that /docs explains itself."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from shared.methods import METHOD_INFO, MethodFamily, MethodName

EXAMPLE_PNG = "data:image/png;base64,iVBORw0KGgo..."
EXAMPLE_HEATMAP = "data:image/jpeg;base64,/9j/4AAQSkZJRg..."


class HeatmapFormat(StrEnum):
    """How heatmaps are encoded: JPEG is the default (an overlay on a photo comes out about four
    times smaller and encodes six times faster than PNG); PNG for those who want every pixel
    exact; none for clients that only want the numbers (no heatmap is drawn: the answer's
    heatmap fields are null and it is a few kilobytes instead of hundreds)."""

    JPEG = "jpeg"
    PNG = "png"
    NONE = "none"


class Verdict(StrEnum):
    """A short label for the score, from the method's calibrated thresholds (highest first)."""

    IDENTICAL = "identical"
    NEAR_DUPLICATE = "near-duplicate"
    SAME_SUBJECT = "same-subject"
    RELATED = "related"
    DIFFERENT = "different"
    UNCALIBRATED = "uncalibrated"


class WeightsSource(StrEnum):
    """Where a CNN's weights came from; ``random-init`` results mean nothing semantically."""

    IMAGENET = "imagenet"
    RANDOM_INIT = "random-init"
    NONE = "none"


class ImageInfo(BaseModel):
    """An uploaded image as the worker decoded it."""

    width: int = Field(description="Decoded width in pixels, after EXIF rotation.", examples=[640])
    height: int = Field(
        description="Decoded height in pixels, after EXIF rotation.", examples=[480]
    )
    format: str | None = Field(
        None, description="File format found in the header (not the file name).", examples=["JPEG"]
    )
    mode: str | None = Field(
        None, description="Pillow colour mode of the file before conversion.", examples=["RGB"]
    )
    bytes: int = Field(description="Size of the uploaded file in bytes.", examples=[48213])
    decoded_width: int | None = Field(
        None,
        description="Width the methods worked on when the image had more pixels than "
        "ISC_MAX_IMAGE_PIXELS and was decoded at reduced scale to fit (width and height above "
        "stay the original size); null when it was decoded at full size.",
        examples=[None],
    )
    decoded_height: int | None = Field(
        None, description="Height to go with decoded_width; null at full size.", examples=[None]
    )
    has_alpha: bool = Field(
        False,
        description="Whether the image has transparency (an alpha channel or a transparent "
        "colour that is not opaque everywhere). Methods compare it composited over white; "
        "the pixel method also compares the transparency itself.",
        examples=[False],
    )


class ReplayedTimings(BaseModel):
    """What computing a stored answer cost the first time, in milliseconds: not this request's
    time, which the enclosing ``timings`` give."""

    decode_ms: float = Field(description="Decoding, when first computed.", examples=[8.4])
    compute_ms: float = Field(description="The method, when first computed.", examples=[61.2])
    heatmap_ms: float = Field(description="The heatmaps, when first computed.", examples=[1.2])
    worker_ms: float = Field(description="The worker's time, when first computed.", examples=[81.0])
    cache_hits: int = Field(0, description="Embedding-cache hits then.", examples=[0])
    batch_size: int | None = Field(None, description="CNN batch size then.", examples=[2])
    model_ms: float | None = Field(None, description="CNN forward pass then.", examples=[14.2])


class Timings(BaseModel):
    """Where the time of this request went, in milliseconds. Every field is this request's own
    cost: when the answer came from the result cache, nothing was decoded or computed (the
    stages are 0) and ``replayed`` holds what the stored answer cost when it was computed."""

    decode_ms: float = Field(description="Decoding both images in the worker.", examples=[8.4])
    compute_ms: float = Field(
        description="The method itself (e.g. SSIM, or both forward passes and the cosine).",
        examples=[61.2],
    )
    heatmap_ms: float = Field(description="Rendering and encoding the heatmaps.", examples=[1.2])
    cache_hits: int = Field(
        0,
        description="Images whose CNN features came from the embedding cache (0-2): their "
        "forward pass was skipped.",
        examples=[0],
    )
    result_cache_hit: bool = Field(
        False,
        description="True when this exact request was answered before and the stored result "
        "was returned; its original timings are then in replayed.",
        examples=[False],
    )
    batch_size: int | None = Field(
        None,
        description="For CNNs: how many images shared the forward pass of this request's "
        "images (dynamic batching), the largest if they were split.",
        examples=[2],
    )
    model_ms: float | None = Field(
        None,
        description="For CNNs: how long that forward pass took, the network's own time "
        "(shared with the other requests of its batch; part of compute_ms). None when both "
        "images came from the cache.",
        examples=[14.2],
    )
    replayed: ReplayedTimings | None = Field(
        None,
        description="On a result-cache hit: the stored answer's timings as first computed "
        "(replayed, not spent on this request); null otherwise.",
        examples=[None],
    )
    worker_ms: float = Field(
        description="Everything inside the worker for this request (on a result-cache hit: "
        "hashing the files and the lookup). At least the sum of the stages above.",
        examples=[81.0],
    )
    total_ms: float | None = Field(
        None,
        description="Gateway receipt to answer, including the upload, its checks and the "
        "worker hop (also in the Server-Timing header). The worker leaves it null and the "
        "gateway writes it into the answer's tail; timings must stay the last field. Null in "
        "the per-method results of method=all.",
        examples=[95.3],
    )


class HeatmapLegend(BaseModel):
    """What the colours of the heatmap mean for this method."""

    low: str = Field(
        description="What the low end (blue) of the colours means.",
        examples=["blue: the local structure of B matches A"],
    )
    high: str = Field(
        description="What the high end (red) of the colours means.",
        examples=["red: the local structure differs (brightness, contrast or edges)"],
    )
    no_counterpart: str = Field(
        description="What grey means: parts of A that have no counterpart in B.",
        examples=["grey: this part of A has no counterpart in B (cropped away)"],
    )
    scale: str = Field(
        description="The quantity behind the colours, on a fixed scale.",
        examples=["colour = 1 - local SSIM (11x11 Gaussian window), from 0 (blue) to 1 (red)"],
    )


class Relation(BaseModel):
    """How B relates to A geometrically: what was undone before comparing."""

    rotation_deg: float = Field(
        0.0,
        description="How far B is turned relative to A, degrees, counter-clockwise positive: a "
        "right-angle turn found by comparing hashes of B's eight orientations, plus any turn "
        "the registration found.",
        examples=[90.0],
    )
    mirrored: bool = Field(False, description="Whether B is A's mirror image (left to right).")
    transparency: Literal["added", "removed", "changed"] | None = Field(
        None,
        description="removed: A has transparency and B is opaque (flattened); added: the "
        "reverse; changed: both have it, not the same. Every method compares colour over "
        "white; the pixel method reports the opacity change apart (alpha_changed_percent).",
        examples=["removed"],
    )
    sizes_differ: bool = Field(
        False, description="Whether B's size (as uploaded, turned back) differs from A's."
    )
    greyscale: Literal["a", "b"] | None = Field(
        None,
        description="Which image is in greyscale when the other is in colour: the pixel methods "
        "then compare both in grey (colour not compared).",
        examples=["b"],
    )
    scale: float | None = Field(
        None,
        description="B's size relative to A's content, from the registration (null when B was "
        "not registered).",
        examples=[0.5],
    )
    crop_coverage_percent: float | None = Field(
        None,
        description="Share of A that B covers once registered (below 100: B is a crop of A, or "
        "shifted); null when B was not registered.",
        examples=[70.4],
    )
    scale_xy: list[float] | None = Field(
        None,
        description="B's width and height relative to A's when B is A resized to another "
        "aspect ratio (compared unsquashed); null otherwise.",
        examples=[[0.47, 0.63]],
    )
    found_by: list[Literal["orientation", "registration"]] = Field(
        default_factory=list,
        description="orientation: B was turned or mirrored back exactly before every method; "
        "registration: this method registered B onto A (see alignment).",
    )
    note: str = Field(
        description="The relation in words.",
        examples=["B is A turned a quarter turn counter-clockwise"],
    )


class AlignmentInfo(BaseModel):
    """Whether image B was registered onto image A before comparing, and how."""

    requested: bool = Field(description="Whether alignment was asked for (or on by default).")
    applied: bool = Field(description="Whether B was actually warped onto A.")
    note: str = Field(
        description="What was found, or why no alignment was applied.",
        examples=["B was registered onto A: shift 12.0, -3.0 px, scale 1.000, rotation 0.00"],
    )
    matches: int = Field(0, description="Ratio-tested ORB feature matches.", examples=[412])
    inliers: int = Field(
        0, description="Matches consistent with the transform (RANSAC inliers).", examples=[388]
    )
    matrix: list[list[float]] | None = Field(
        None,
        description="2x3 similarity transform mapping B's pixel coordinates to A's.",
        examples=[[[1.0, 0.0, 12.0], [0.0, 1.0, -3.0]]],
    )
    scale: float | None = Field(None, description="Scale of the transform.", examples=[1.0])
    rotation_deg: float | None = Field(
        None,
        description="How far B is turned relative to A, degrees (counter-clockwise positive).",
        examples=[0.0],
    )
    translation_px: list[float] | None = Field(
        None, description="Shift (x, y) of the transform in A's pixels.", examples=[[12.0, -3.0]]
    )
    coverage_percent: float | None = Field(
        None, description="Share of A that B covers once aligned.", examples=[96.5]
    )
    scale_xy: list[float] | None = Field(
        None,
        description="When B is all of A resized to another aspect ratio (a squashed copy): B's "
        "width and height relative to A's; the two were then compared whole at a common size "
        "(matrix is that stretch).",
        examples=[[0.47, 0.63]],
    )


class ExtraHeatmap(BaseModel):
    """A second view of where the images differ."""

    name: str = Field(description="Stable identifier of the view.", examples=["same_place"])
    title: str = Field(description="Short title for a person.", examples=["Same place"])
    description: str = Field(
        description="What this view shows and when to prefer it.",
        examples=["Feature distance at the same place in both images."],
    )
    image: str = Field(
        description="Data URL (JPEG or PNG, see heatmap_format) over image A. With "
        "heatmap_format=none there are no extra views (the list is empty).",
        examples=[EXAMPLE_HEATMAP],
    )
    legend: HeatmapLegend = Field(description="What the colours mean in this view.")


class ChangedRegion(BaseModel):
    """One area of changed pixels, boxed in image A's pixels: changed pixels 8-connected or at
    most 2 unchanged pixels apart (one changed glyph is one region)."""

    x: int = Field(description="Left edge of the box, in image A's pixels.", examples=[412])
    y: int = Field(description="Top edge of the box, in image A's pixels.", examples=[96])
    width: int = Field(description="Width of the box in pixels.", examples=[9])
    height: int = Field(description="Height of the box in pixels.", examples=[14])
    pixels: int = Field(
        description="Changed pixels in this area (at most width x height).", examples=[61]
    )
    mean_delta_e2000: float = Field(
        description="Mean colour difference (CIEDE2000) of its changed pixels.", examples=[31.4]
    )
    max_delta_e2000: float = Field(
        description="Largest colour difference (CIEDE2000) of its changed pixels.",
        examples=[52.7],
    )


class ScreenshotCheck(BaseModel):
    """The pixel method's exact comparison, as a visual-regression check (pixelmatch, odiff):
    every pixel above the threshold is counted and boxed, none hidden by an average."""

    passed: bool | None = Field(
        description="true when the changed pixels are within max_changed_pixels and "
        "max_changed_percent (and the sizes match); false otherwise; null when no limit was "
        "given.",
        examples=[False],
    )
    changed_pixels: int = Field(
        description="Pixels whose colour differs by more than threshold_delta_e2000 (or whose "
        "opacity changed by more than 2.5 of 255 levels), not anti-aliasing, outside the "
        "ignored regions.",
        examples=[204],
    )
    changed_percent: float = Field(
        description="changed_pixels as a percentage of compared_pixels.", examples=[0.0098]
    )
    compared_pixels: int = Field(
        description="Pixels compared: the common area of A and B less the ignored regions.",
        examples=[2073600],
    )
    antialiased_pixels: int = Field(
        description="Pixels above the threshold left out as anti-aliasing (pixelmatch's "
        "detector) or as an edge moved by at most one pixel (A's colour found in B's 3x3 "
        "neighbourhood and B's in A's, within the threshold in CIE76); 0 with "
        "antialiasing=false.",
        examples=[37],
    )
    ignored_pixels: int = Field(
        description="Pixels of the common area inside ignore_regions.", examples=[0]
    )
    threshold_delta_e2000: float = Field(
        description="Colour difference (CIEDE2000) above which a pixel counted as changed.",
        examples=[2.3],
    )
    antialiasing: bool = Field(
        description="Whether anti-aliased pixels and one-pixel edge shifts were detected and "
        "left out (pixelmatch's detector, Vysniauskas 2009, plus the shift test).",
        examples=[True],
    )
    max_changed_pixels: int | None = Field(
        None, description="The limit given, if any.", examples=[0]
    )
    max_changed_percent: float | None = Field(
        None, description="The limit given, if any.", examples=[None]
    )
    sizes_differ: bool = Field(
        description="Whether A and B differ in size: then only their common top-left area was "
        "compared, and a check with limits fails.",
        examples=[False],
    )
    compared_width: int = Field(description="Width of the compared area.", examples=[1920])
    compared_height: int = Field(description="Height of the compared area.", examples=[1080])
    region_count: int = Field(
        description="Areas of changed pixels in all (regions lists at most 100).",
        examples=[3],
    )
    regions: list[ChangedRegion] = Field(
        default_factory=list,
        description="Boxes around the areas of changed pixels (8-connected, or at most 2 "
        "unchanged pixels apart), in image A's pixels, largest (most changed pixels) first, "
        "at most 100.",
    )
    summary: str = Field(
        description="The check in one sentence, e.g. '3 regions changed (204 pixels, 0.0098 % "
        "of the compared pixels): check failed'. It also opens the explanation.",
        examples=["3 regions changed (204 pixels, 0.0098 % of the compared pixels)."],
    )
    diff_image: str | None = Field(
        None,
        description="Only with diff_image=true: a PNG data URL at image A's full size, "
        "pixelmatch style: A faded in grey, changed pixels red, anti-aliased pixels yellow, "
        "ignored regions and A's part outside the compared area dimmed.",
        examples=[None],
    )


class CompareResult(BaseModel):
    """How alike two images are by one method, where they differ, and what that means."""

    method: MethodName = Field(
        description="The method that produced this result.", examples=["ssim"]
    )
    family: MethodFamily = Field(
        description="structural or pixel: compares pixels; hash: compares a coarse "
        "fingerprint; semantic: compares what the images show.",
        examples=["structural"],
    )
    score: float = Field(
        description="The method's raw similarity: mean SSIM or MS-SSIM (-1..1), the share of "
        "unchanged pixels (pixel), 1 - Hamming distance / 64 (phash), or the cosine of the two "
        "CNN embeddings (0..1 for these ReLU networks).",
        examples=[0.8312],
    )
    similarity_percent: float = Field(
        description="score clipped to 0..1, as a percentage.", examples=[83.12]
    )
    verdict: Verdict = Field(
        description="Short label from the method's thresholds; 'uncalibrated' when no "
        "thresholds could be derived from data for this method and weights.",
        examples=["near-duplicate"],
    )
    verdict_label: str = Field(
        description="The verdict in words that fit the method's family: a pixel method's "
        "'same-subject' is 'same picture, visibly altered', a CNN's is 'same kind of subject' "
        "(see README, Verdicts).",
        examples=["same picture"],
    )
    calibrated: bool = Field(
        description="Whether the verdict comes from thresholds derived from data "
        "(see tools/calibrate.py).",
        examples=[True],
    )
    explanation: str = Field(
        description="Plain-language account of what the method measures and what this value "
        "means for these two images.",
        examples=[
            "SSIM compares the two pictures pixel by pixel: local brightness, contrast and "
            "structure. A score of 0.83 ..."
        ],
    )
    heatmap: str | None = Field(
        description="Data URL of a JPEG (default) or PNG (heatmap_format=png): where the "
        "images differ, drawn over image A. Null with heatmap_format=none (nothing drawn; "
        "extra_heatmaps is then empty, heatmap_legend still says what a map would show).",
        examples=[EXAMPLE_HEATMAP],
    )
    heatmap_legend: HeatmapLegend = Field(description="What the heatmap's colours mean.")
    extra_heatmaps: list[ExtraHeatmap] = Field(
        default_factory=list,
        description="Further views of the differences (e.g. a CNN's same-place map).",
        examples=[[]],
    )
    difference_map: str | None = Field(
        None,
        description="Only with difference_map=true: the main map's values as a PNG data URL "
        "at image A's size (at most ISC_MAX_IMAGE_PIXELS): grey = value x 255 on the "
        "heatmap's fixed scale (0 alike, 255 different), transparent where A has no "
        "counterpart in B. For clients that threshold the differences themselves; null "
        "otherwise.",
        examples=[None],
    )
    alignment: AlignmentInfo | None = Field(
        None, description="Registration of B onto A (structural methods); null when not asked."
    )
    relation: Relation | None = Field(
        None,
        description="How B relates to A (turned, mirrored, scaled, cropped), as undone before "
        "this comparison; null when B was compared as given (nothing found, or align=false).",
    )
    metrics: dict[str, float] = Field(
        default_factory=dict,
        description="Method-specific numbers (e.g. changed_percent, phash_distance).",
        examples=[{"changed_percent": 3.2, "mean_delta_e2000": 0.41}],
    )
    image_a: ImageInfo = Field(description="Image A as decoded.")
    image_b: ImageInfo = Field(description="Image B as decoded.")
    preparation: str = Field(
        description="How the two images were brought to a comparable form (sizes, crops).",
        examples=["Image B was resized to 640x480 and centre-cropped to match image A."],
    )
    precision: Literal["float32", "bfloat16", "float16"] | None = Field(
        None,
        description="CNN arithmetic used (null for methods without a network).",
        examples=[None],
    )
    device: str | None = Field(
        None,
        description="Where the CNN ran: 'CPU' or 'GPU (<TensorFlow device>)'; null for methods "
        "without a network.",
        examples=[None],
    )
    weights: WeightsSource = Field(
        WeightsSource.NONE,
        description="For CNNs, where the weights came from; 'random-init' is for tests only "
        "and means the score says nothing about content. 'none' for methods without a network.",
        examples=["none"],
    )
    warnings: list[str] = Field(
        default_factory=list,
        description="Anything that makes this result less trustworthy.",
        examples=[[]],
    )
    screenshot: ScreenshotCheck | None = Field(
        None,
        description="The pixel method's exact check (pass/fail, changed pixels, region "
        "boxes, diff image), when the pair was compared pixel for pixel: same-size lossless "
        "images (PNG, BMP, GIF, TIFF), or any screenshot option given (threshold, "
        "antialiasing, ignore_regions, max_changed_pixels, max_changed_percent, diff_image). "
        "Null otherwise and for other methods.",
    )
    timings: Timings = Field(description="Where the time went, in milliseconds.")


class ReplayedAllTimings(BaseModel):
    """What computing a stored compare-all answer cost the first time, in milliseconds."""

    decode_ms: float = Field(description="Decoding, when first computed.", examples=[9.0])
    worker_ms: float = Field(
        description="The worker's time, when first computed.", examples=[420.0]
    )


class CompareAllTimings(BaseModel):
    """Where the time of this compare-all request went, in milliseconds (this request's own
    cost, as in ``Timings``)."""

    decode_ms: float = Field(description="Decoding both images, once for all methods.")
    result_cache_hit: bool = Field(
        False,
        description="True when the stored answer to this exact request was returned; its "
        "original timings are then in replayed, and every result's timings are marked alike.",
    )
    replayed: ReplayedAllTimings | None = Field(
        None, description="On a result-cache hit: the stored answer's timings as first computed."
    )
    worker_ms: float = Field(description="Everything inside the worker.", examples=[420.0])
    total_ms: float | None = Field(
        None,
        description="Gateway receipt to answer (also in the Server-Timing header); the worker "
        "leaves it null for the gateway to write. Timings must stay the last field.",
    )


class HeldOutFigures(BaseModel):
    """How often a verdict was right on photos its model was not fitted on (make calibrate)."""

    precision: float | None = Field(
        description="Share of held-out pairs given this verdict that truly belong to it "
        "(null: never given).",
        examples=[0.97],
    )
    precision_ci95: list[float] = Field(
        description="95 % Wilson interval of the precision.", examples=[[0.95, 0.98]]
    )
    recall: float | None = Field(
        description="Share of the held-out pairs of this class that got this verdict.",
        examples=[0.96],
    )
    recall_ci95: list[float] = Field(
        description="95 % Wilson interval of the recall.", examples=[[0.94, 0.97]]
    )


class CombinedVerdict(BaseModel):
    """One verdict from every calibrated method's score, by a small model fitted on data."""

    verdict: Verdict = Field(
        description="The combined verdict; 'uncalibrated' when no model was fitted for the "
        "methods that gave a calibrated score on this pair; 'identical' for identical pixels.",
        examples=["near-duplicate"],
    )
    calibrated: bool = Field(
        description="Whether the verdict comes from a model fitted by make calibrate.",
        examples=[True],
    )
    probabilities: dict[str, float] = Field(
        default_factory=dict,
        description="The model's probability of each class (empty when uncalibrated).",
        examples=[{"near-duplicate": 0.97, "same-subject": 0.02, "different": 0.01}],
    )
    methods: list[str] = Field(
        default_factory=list,
        description="The methods whose scores the model used.",
        examples=[["ms_ssim", "mobilenet_v2", "phash", "pixel", "ssim"]],
    )
    contributions: dict[str, float] = Field(
        default_factory=dict,
        description="Each method's push towards the chosen class: its coefficient for that "
        "class times its standardised score (positive: towards it).",
        examples=[{"ssim": 2.1, "phash": 1.4, "pixel": 0.3, "ms_ssim": 0.9, "mobilenet_v2": 0.2}],
    )
    held_out: HeldOutFigures | None = Field(
        None,
        description="This verdict's precision and recall on photos the model was not fitted on "
        "(null when uncalibrated or identical).",
    )
    reason: str = Field(
        description="Which model gave the verdict, or why there is none.",
        examples=["Logistic regression over ms_ssim, mobilenet_v2, phash, pixel, ssim."],
    )


class CompareAllResult(BaseModel):
    """Every available method on one pair, and what their agreement or disagreement means."""

    method: Literal["all"] = Field("all", description="Always 'all'.")
    summary: str = Field(
        description="Plain-language reading of all methods together, explaining disagreements.",
        examples=[
            "Structurally different but semantically the same subject: likely two photos of "
            "one scene or subject."
        ],
    )
    combined: CombinedVerdict = Field(
        description="One verdict from all the calibrated scores together (see README, Verdicts)."
    )
    relation: Relation | None = Field(
        None,
        description="How B relates to A: the turn or mirror undone before every method, and the "
        "registration of the first method that registered B (each result has its own).",
    )
    results: list[CompareResult] = Field(description="One result per available method.")
    unavailable: dict[str, str] = Field(
        default_factory=dict,
        description="Methods that could not run, with the reason.",
        examples=[{"vgg16": "ImageNet weights for VGG16 are missing: ..."}],
    )
    image_a: ImageInfo = Field(description="Image A as decoded.")
    image_b: ImageInfo = Field(description="Image B as decoded.")
    timings: CompareAllTimings = Field(description="Where the time went.")


class LegacyCompareResult(BaseModel):
    """The original product's answer, kept for existing clients of ``POST /compare``."""

    similarity_score: float = Field(description="Similarity from 0 to 1.", examples=[0.83])
    model_used: str = Field(description="The method that was used.", examples=["ssim"])
    heatmap_image: str = Field(description="PNG data URL of the heatmap.", examples=[EXAMPLE_PNG])


class MethodState(StrEnum):
    """Whether a method can answer now."""

    READY = "ready"
    LOADING = "loading"
    UNAVAILABLE = "unavailable"


class PrecisionReport(BaseModel):
    """Which arithmetic a CNN runs in, and why: set explicitly, or measured on this machine."""

    precision: Literal["float32", "bfloat16", "float16"] = Field(
        description="The arithmetic its forward passes use now (float16: GPUs only).",
        examples=["bfloat16"],
    )
    device: str = Field(
        "CPU",
        description="Where the network runs: 'CPU', or 'GPU' with TensorFlow's device name "
        "when TensorFlow sees one (then auto tries float16 instead of bfloat16).",
        examples=["CPU"],
    )
    chosen_by: Literal["setting", "measurement", "pending", "fallback"] = Field(
        description="setting: ISC_CNN_PRECISION or ISC_CNN_PRECISION_PER_MODEL names it; "
        "measurement: measured on this machine (auto); pending: auto, being measured (float32 "
        "meanwhile); fallback: auto, the measurement failed (float32).",
        examples=["measurement"],
    )
    speedup: float | None = Field(
        None,
        description="bfloat16's forward passes per second over float32's at the batch size "
        "used (above 1: bfloat16 is faster), as measured.",
        examples=[1.86],
    )
    min_cosine: float | None = Field(
        None,
        description="Lowest cosine between an image's float32 and bfloat16 embeddings over the "
        "probe photos (bfloat16 is used only when at least 0.999).",
        examples=[0.9996],
    )
    max_score_shift: float | None = Field(
        None,
        description="Largest change of a pair's score between the two precisions over the "
        "pairs of probe photos.",
        examples=[0.0012],
    )
    verdicts_unchanged: bool | None = Field(
        None,
        description="Whether every probe pair kept its verdict under the calibrated thresholds "
        "in both precisions (bfloat16 is used only then).",
    )
    batch_size: int = Field(
        description="Most images one forward pass gathers: the measured best images per "
        "second, or the setting.",
        examples=[8],
    )
    reused: bool = Field(
        False,
        description="Whether the measurement was made at an earlier start on this machine "
        "(ISC_CNN_TUNING_FILE) rather than now.",
    )
    note: str = Field(
        description="The choice in plain words, with its figures.",
        examples=[
            "bfloat16: 1.86x the float32 forward speed at batch 8 on this CPU, "
            "embeddings agree (cosine >= 0.9996), no verdict changes"
        ],
    )


class MethodStatus(BaseModel):
    """One method as ``GET /api/v1/methods`` lists it."""

    name: MethodName
    title: str = Field(examples=["MobileNetV2"])
    family: MethodFamily
    description: str = Field(description="One line for a person choosing a method.")
    available: bool = Field(description="Whether a comparison with it would run now.")
    state: MethodState
    reason: str | None = Field(
        None, description="Why it is not available, and how to fix that.", examples=[None]
    )
    weights: WeightsSource = WeightsSource.NONE
    calibrated: bool = Field(description="Whether its verdicts come from calibrated thresholds.")
    precision: PrecisionReport | None = Field(
        None, description="CNNs: the arithmetic in use and how it was chosen; null otherwise."
    )


def method_status(
    name: MethodName,
    state: MethodState,
    reason: str | None = None,
    weights: WeightsSource = WeightsSource.NONE,
    calibrated: bool = False,
    precision: PrecisionReport | None = None,
) -> MethodStatus:
    """A method's public status, its fixed facts taken from ``METHOD_INFO``: the worker lists
    methods with it, and the gateway too when the worker cannot answer, so both lists agree."""
    info = METHOD_INFO[name]
    return MethodStatus(
        name=name,
        title=info.title,
        family=info.family,
        description=info.description,
        available=state is MethodState.READY,
        state=state,
        reason=reason,
        weights=weights,
        calibrated=calibrated,
        precision=precision,
    )


class UploadLimits(BaseModel):
    """What the gateway accepts, so that a client can refuse a file before sending it."""

    max_upload_bytes: int = Field(description="Largest file per image.", examples=[20971520])
    max_image_pixels: int = Field(
        description="Largest image per upload, width x height.", examples=[40000000]
    )
    accepted_types: list[str] = Field(
        description="MIME types of the accepted formats.",
        examples=[["image/jpeg", "image/png", "image/webp", "image/gif", "image/bmp"]],
    )
    max_request_bytes: int | None = Field(
        None,
        description="Largest request body, all its files and form fields together.",
        examples=[42008576],
    )
    collection_max_files: int | None = Field(
        None, description="Most files one request may add to a collection.", examples=[64]
    )


class MethodsResponse(BaseModel):
    """All methods, in the order the page offers them, and the upload limits."""

    methods: list[MethodStatus]
    limits: UploadLimits | None = Field(
        None, description="The gateway's upload limits (set by the gateway)."
    )


class WorkerState(StrEnum):
    """The model worker's life cycle, as the gateway's supervisor tracks it. A worker reports
    only ``starting`` or ``ready`` about itself; the other states are the supervisor's."""

    STARTING = "starting"
    READY = "ready"
    FAILED = "failed"
    RESTARTING = "restarting"
    STOPPED = "stopped"


class WorkerHealth(BaseModel):
    """The worker as it reports itself."""

    state: WorkerState = Field(
        description="starting: models still loading; ready: start-up finished."
    )
    pid: int
    models_loaded: list[MethodName] = Field(description="CNNs in memory and ready.")
    models_unavailable: dict[str, str] = Field(
        default_factory=dict, description="CNNs that could not be loaded, with the reason."
    )
    methods: list[MethodStatus]


class WorkerReport(BaseModel):
    """One worker of the gateway's pool, as the gateway sees it."""

    url: str = Field(description="Where the gateway reaches it.")
    state: WorkerState
    pid: int | None = Field(None, description="Its process id, for a worker the gateway started.")
    restarts: int = Field(0, description="How often the gateway restarted it.")
    error: str | None = Field(None, description="Why it is not ready, if known.")
    in_flight: int = Field(0, description="Requests sent to it and not answered yet.")
    forwarded: int = Field(0, description="Requests sent to it since the gateway started.")


class HealthResponse(BaseModel):
    """The gateway and its worker."""

    status: Literal["ok", "degraded"] = Field(
        description="ok when the worker is ready; degraded otherwise (the pixel-based methods "
        "may still work)."
    )
    gateway: Literal["ready"] = "ready"
    worker: WorkerState = Field(description="State of the model worker process.")
    worker_pid: int | None = None
    worker_restarts: int = Field(0, description="How often the gateway restarted the worker.")
    worker_error: str | None = Field(
        None, description="Why the worker is not ready, if known: the first cause of a failure."
    )
    models_loaded: list[MethodName] = Field(default_factory=list)
    models_unavailable: dict[str, str] = Field(default_factory=dict)
    models_precision: dict[str, PrecisionReport] = Field(
        default_factory=dict,
        description="Per loaded CNN: the arithmetic in use and how it was chosen "
        "(ISC_CNN_PRECISION).",
    )
    workers: list[WorkerReport] = Field(
        default_factory=list,
        description="Every worker behind the gateway; the fields above sum them up (worker is "
        "ready when one is; status is ok only when all are).",
    )


class ProbeResponse(BaseModel):
    """A liveness or readiness probe's answer (for load balancers and container healthchecks)."""

    status: Literal["live", "ready"] = Field(
        description="live: the process answers; ready: comparisons can run now."
    )
