"""``isc``: compare images from the shell and from CI.

Exit codes, so that a pipeline can branch on them: 0 done; 1 the score is below
``--fail-under`` or the screenshot check failed (a visual regression); 2 a usage error (bad
option, missing file); 3 the service could not be reached, timed out, refused the request (its
error code and message are printed) or answered something that is not the service's answer.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from isc_client.client import DEFAULT_TIMEOUT_S, DEFAULT_URL, Client
from isc_client.errors import APIError, ISCError
from isc_client.report import FORMATS, DedupReport, FileGroup, report_format, write_report
from isc_client.screenshot import ScreenshotOptions
from shared.collections import (
    AddedImage,
    AddImagesResult,
    AddStatus,
    CollectionImage,
    DuplicatesResult,
)
from shared.errors import ErrorCode
from shared.ignore_regions import parse_ignore_regions
from shared.methods import ALL_METHODS, MethodName
from shared.schemas import CompareAllResult, CompareResult, HeatmapFormat, ScreenshotCheck

EXIT_BELOW_THRESHOLD = 1
EXIT_USAGE = 2
EXIT_SERVICE = 3

app = typer.Typer(
    name="isc",
    help="Compare images with the Image Similarity Checker service.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)

UrlOption = Annotated[
    str, typer.Option("--url", envvar="ISC_URL", help="The service's address.", show_envvar=True)
]
KeyOption = Annotated[
    str | None,
    typer.Option("--api-key", envvar="ISC_API_KEY", help="API key (X-API-Key).", show_envvar=True),
]
TimeoutOption = Annotated[
    float, typer.Option("--timeout", min=0.001, help="Seconds to wait for each answer.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the service's JSON answer.")]
ImagePath = Annotated[
    Path, typer.Argument(exists=True, dir_okay=False, readable=True, show_default=False)
]

HEATMAP_SUFFIXES = {
    ".png": HeatmapFormat.PNG,
    ".jpg": HeatmapFormat.JPEG,
    ".jpeg": HeatmapFormat.JPEG,
}
SCREENSHOT_PANEL = "Screenshot check (pixel method)"


def _method(value: str) -> str:
    """The method's canonical name, any case; a usage error (exit 2) for an unknown one."""
    name = value.strip().lower()
    if name != ALL_METHODS and name not in {m.value for m in MethodName}:
        choices = ", ".join([*(m.value for m in MethodName), ALL_METHODS])
        raise typer.BadParameter(f"unknown method {value!r}; use one of {choices}")
    return name


def _regions(value: str | None) -> str | None:
    """``--ignore-regions`` checked here, so that a typo is a usage error (exit 2)."""
    if value is not None:
        try:
            parse_ignore_regions(value)
        except ValueError as error:
            raise typer.BadParameter(str(error)) from None
    return value


def _screenshot_options(method: str, options: ScreenshotOptions) -> ScreenshotOptions | None:
    """The screenshot options, if any was given; they belong to the pixel method."""
    if options == ScreenshotOptions():
        return None
    if method not in (MethodName.PIXEL.value, ALL_METHODS):
        raise typer.BadParameter(
            f"the screenshot options belong to the pixel method, not {method}: add --method pixel",
            param_hint="--method",
        )
    return options


def _check_output(path: Path, option: str, suffixes: set[str]) -> None:
    """An output file's name and folder, refused before the comparison rather than after it."""
    if path.suffix.lower() not in suffixes:
        raise typer.BadParameter(
            "the file must end in " + " or ".join(sorted(suffixes)), param_hint=option
        )
    if not path.parent.is_dir():
        raise typer.BadParameter(f"the folder {path.parent} does not exist", param_hint=option)


def _save_diff_image(checked: list[ScreenshotCheck], path: Path) -> None:
    diff = next((check.diff_image for check in checked if check.diff_image), None)
    if diff is None:
        err.print(f"isc: the service sent no diff image; {path} not written")
        return
    _save_data_url(diff, path)
    err.print(f"diff image saved to {path}", markup=False)


def _fail(error: ISCError) -> typer.Exit:
    """Print why the service gave no result; exit 3."""
    if isinstance(error, APIError):
        err.print(f"isc: the service refused ({error.status_code} {error.code}): ", end="")
        err.print(error.message, markup=False)
    else:
        err.print(f"isc: {error}", markup=False)
    return typer.Exit(EXIT_SERVICE)


def _save_data_url(data_url: str, path: Path) -> None:
    path.write_bytes(base64.b64decode(data_url.split(",", 1)[1]))


def _heatmap_paths(heatmap: Path, results: list[CompareResult], many: bool) -> dict[str, Path]:
    """One file per result: ``out.png`` itself, or ``out-ssim.png``... for ``--method all``."""
    if not many:
        return {results[0].method.value: heatmap}
    return {
        r.method.value: heatmap.with_name(f"{heatmap.stem}-{r.method.value}{heatmap.suffix}")
        for r in results
    }


def _print_result(result: CompareResult) -> None:
    out.print(
        f"[bold]{result.method.value}[/]  score [bold]{result.score:.4f}[/] "
        f"({result.similarity_percent:.1f} %)  [bold]{result.verdict.value}[/]: ",
        end="",
    )
    out.print(result.verdict_label, markup=False)
    out.print(result.explanation, markup=False)
    check = result.screenshot
    if check is not None:
        state = {True: "passed", False: "FAILED", None: "no limit given"}[check.passed]
        out.print(
            f"screenshot check {state}: {check.changed_pixels} changed pixels "
            f"({check.changed_percent:.4f} %) in {check.region_count} regions"
        )
        for region in check.regions[:10]:
            out.print(
                f"  x={region.x} y={region.y} {region.width}x{region.height}: "
                f"{region.pixels} pixels, mean dE00 {region.mean_delta_e2000:.1f}"
            )
    for warning in result.warnings:
        err.print(f"warning: {warning}", markup=False)


def _print_all(result: CompareAllResult) -> None:
    out.print(result.summary, markup=False)
    out.print(f"combined verdict: [bold]{result.combined.verdict.value}[/]")
    table = Table("method", "score", "similarity", "verdict")
    for each in result.results:
        table.add_row(
            each.method.value,
            f"{each.score:.4f}",
            f"{each.similarity_percent:.1f} %",
            f"{each.verdict.value} ({each.verdict_label})",
        )
    for name, reason in result.unavailable.items():
        table.add_row(name, "-", "-", f"unavailable: {reason}")
    out.print(table)


@app.command()
def compare(
    image_a: ImagePath,
    image_b: ImagePath,
    method: Annotated[
        str,
        typer.Option(
            "--method", "-m", callback=_method, help="A method (see `isc methods`) or 'all'."
        ),
    ] = MethodName.SSIM.value,
    align: Annotated[
        bool | None,
        typer.Option(
            "--align/--no-align",
            help="Register B onto A first (default: the method's own choice).",
            show_default=False,
        ),
    ] = None,
    heatmap: Annotated[
        Path | None,
        typer.Option(
            "--heatmap", dir_okay=False, help="Save the heatmap here (.png or .jpg).", writable=True
        ),
    ] = None,
    json_output: JsonOption = False,
    fail_under: Annotated[
        float | None,
        typer.Option("--fail-under", help="Exit 1 when the score is below this (one method)."),
    ] = None,
    threshold: Annotated[
        float | None,
        typer.Option(
            "--threshold",
            min=0,
            max=200,
            rich_help_panel=SCREENSHOT_PANEL,
            help="Colour difference (delta E00) above which a pixel counts as changed "
            "(service default 2.3; 0: any differing byte).",
        ),
    ] = None,
    antialiasing: Annotated[
        bool | None,
        typer.Option(
            "--antialiasing/--no-antialiasing",
            rich_help_panel=SCREENSHOT_PANEL,
            help="Leave anti-aliased edge pixels out (service default: on).",
            show_default=False,
        ),
    ] = None,
    ignore_regions: Annotated[
        str | None,
        typer.Option(
            "--ignore-regions",
            "--ignore",
            callback=_regions,
            rich_help_panel=SCREENSHOT_PANEL,
            help="Rectangles of A not to compare: 'x,y,w,h;x,y,w,h'.",
        ),
    ] = None,
    max_changed_pixels: Annotated[
        int | None,
        typer.Option(
            "--max-changed-pixels",
            min=0,
            rich_help_panel=SCREENSHOT_PANEL,
            help="The check fails (exit 1) when more pixels changed (0: any change fails).",
        ),
    ] = None,
    max_changed_percent: Annotated[
        float | None,
        typer.Option(
            "--max-changed-percent",
            min=0,
            max=100,
            rich_help_panel=SCREENSHOT_PANEL,
            help="The check fails (exit 1) when a larger share of the pixels changed.",
        ),
    ] = None,
    diff_image: Annotated[
        Path | None,
        typer.Option(
            "--diff-image",
            "--diff",
            dir_okay=False,
            rich_help_panel=SCREENSHOT_PANEL,
            help="Save the pixelmatch-style diff image here (.png).",
        ),
    ] = None,
    url: UrlOption = DEFAULT_URL,
    api_key: KeyOption = None,
    timeout: TimeoutOption = DEFAULT_TIMEOUT_S,
) -> None:
    """Compare IMAGE_A (the reference) with IMAGE_B: score, verdict and explanation.

    The screenshot options run the pixel method's exact check (visual regression, as
    pixelmatch or odiff): with a --max-changed-* limit, a failed check exits 1.
    """
    many = method == ALL_METHODS
    screenshot = _screenshot_options(
        method,
        ScreenshotOptions(
            threshold,
            antialiasing,
            ignore_regions,
            max_changed_pixels,
            max_changed_percent,
            diff_image is not None,
        ),
    )
    if diff_image is not None:
        _check_output(diff_image, "--diff-image", {".png"})
    if many and fail_under is not None:
        raise typer.BadParameter(
            "--fail-under needs one method's score (the methods' scales differ); pick a --method",
            param_hint="--fail-under",
        )
    heatmap_format = HeatmapFormat.NONE
    if heatmap is not None:
        _check_output(heatmap, "--heatmap", set(HEATMAP_SUFFIXES))
        heatmap_format = HEATMAP_SUFFIXES[heatmap.suffix.lower()]
    try:
        with (
            Client(url, api_key=api_key, timeout=timeout) as client,
            err.status(f"Comparing with {method}..."),
        ):
            answer: CompareResult | CompareAllResult = (
                client.compare_all(
                    image_a,
                    image_b,
                    align=align,
                    heatmap_format=heatmap_format,
                    screenshot=screenshot,
                )
                if many
                else client.compare(
                    image_a,
                    image_b,
                    method,
                    align=align,
                    heatmap_format=heatmap_format,
                    screenshot=screenshot,
                )
            )
    except ISCError as error:
        raise _fail(error) from error
    results = answer.results if isinstance(answer, CompareAllResult) else [answer]
    if json_output:
        sys.stdout.write(answer.model_dump_json(indent=2) + "\n")
    elif isinstance(answer, CompareAllResult):
        _print_all(answer)
    else:
        _print_result(answer)
    if heatmap is not None:
        for result, path in zip(
            results, _heatmap_paths(heatmap, results, many).values(), strict=True
        ):
            if result.heatmap is None:
                err.print(f"isc: {result.method.value} drew no heatmap; {path} not written")
                continue
            _save_data_url(result.heatmap, path)
            err.print(f"heatmap saved to {path}", markup=False)
    checked = [r.screenshot for r in results if r.screenshot is not None]
    if diff_image is not None:
        _save_diff_image(checked, diff_image)
    failed = [check for check in checked if check.passed is False]
    for check in failed:
        err.print(f"isc: screenshot check failed: {check.summary}", markup=False)
    if fail_under is not None and isinstance(answer, CompareResult) and answer.score < fail_under:
        err.print(f"isc: score {answer.score:.4f} is below --fail-under {fail_under}")
        raise typer.Exit(EXIT_BELOW_THRESHOLD)
    if failed:
        raise typer.Exit(EXIT_BELOW_THRESHOLD)


@app.command()
def methods(
    json_output: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: KeyOption = None,
    timeout: TimeoutOption = 10.0,
) -> None:
    """List the methods, whether each can run now, and the upload limits."""
    try:
        with Client(url, api_key=api_key, timeout=timeout) as client:
            listing = client.methods()
    except ISCError as error:
        raise _fail(error) from error
    if json_output:
        sys.stdout.write(listing.model_dump_json(indent=2) + "\n")
        return
    table = Table("method", "family", "state", "calibrated", "description")
    for each in listing.methods:
        table.add_row(
            each.name.value,
            each.family.value,
            each.state.value + (f" ({each.reason})" if each.reason else ""),
            "yes" if each.calibrated else "no",
            each.description,
        )
    out.print(table)


@app.command()
def health(
    json_output: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: KeyOption = None,
    timeout: TimeoutOption = 10.0,
) -> None:
    """The gateway's and the worker's state."""
    try:
        with Client(url, api_key=api_key, timeout=timeout) as client:
            report = client.health()
    except ISCError as error:
        raise _fail(error) from error
    if json_output:
        sys.stdout.write(report.model_dump_json(indent=2) + "\n")
        return
    out.print(f"status [bold]{report.status}[/], worker {report.worker.value}")
    if report.models_loaded:
        out.print("models loaded: " + ", ".join(m.value for m in report.models_loaded))
    for name, reason in report.models_unavailable.items():
        out.print(f"{name} unavailable: {reason}", markup=False)


IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".avif", ".heic", ".heif"}
)
BATCH_FILES = 16
"""Files per request when indexing a folder (well under the service's default limit of 64)."""
PARALLEL_REQUESTS = 4
"""Requests in flight at once while indexing (and fetching thumbnails): enough to keep the
worker's batching busy while the next files upload, few enough to stay under the service's
in-flight limit (a 429 past it would be retried, but costs a wait)."""

CollectionOption = Annotated[
    str, typer.Option("--collection", "-c", help="The collection's name.", show_default=False)
]
MethodOption = Annotated[
    str,
    typer.Option("--method", "-m", help="The CNN that embeds the images (a new collection)."),
]
RecursiveOption = Annotated[
    bool, typer.Option("--recursive", "-r", help="Also index the folder's sub-folders.")
]
FolderArgument = Annotated[
    Path, typer.Argument(exists=True, file_okay=False, readable=True, show_default=False)
]


def _images_in(folder: Path, recursive: bool) -> tuple[list[Path], int]:
    """The folder's image files by name, sorted, and how many other files were skipped."""
    found = sorted(p for p in (folder.rglob("*") if recursive else folder.iterdir()) if p.is_file())
    images = [p for p in found if p.suffix.lower() in IMAGE_SUFFIXES]
    return images, len(found) - len(images)


class ImageRateColumn(ProgressColumn):
    """Images per second (rich's ``TransferSpeedColumn`` counts bytes)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        rate = "?" if speed is None else f"{speed:.1f}"
        return Text(f"{rate} images/s", style="progress.data.speed")


def _progress() -> Progress:
    """Count, rate and time left, on stderr (stdout stays for the answer)."""
    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        ImageRateColumn(),
        TimeRemainingColumn(),
        console=err,
    )


Item = TypeVar("Item")
Answer = TypeVar("Answer")


def _in_parallel(
    call: Callable[[Item], Answer], items: Iterable[Item], done: Callable[[Item], None]
) -> list[Answer]:
    """``call`` on every item, ``PARALLEL_REQUESTS`` at a time (``httpx.Client`` is safe to share
    between threads), ``done`` after each; the answers in the items' order, whatever order they
    came back in. The first failure cancels the calls not yet started and is raised."""

    def run(item: Item) -> Answer:
        answer = call(item)
        done(item)
        return answer

    with ThreadPoolExecutor(PARALLEL_REQUESTS, thread_name_prefix="isc") as pool:
        futures: list[Future[Answer]] = [pool.submit(run, item) for item in items]
        try:
            return [future.result() for future in futures]
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _content_key(path: Path) -> bytes:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "blake2b").digest()


def _index(
    client: Client, collection: str, method: str, folder: Path, recursive: bool
) -> AddImagesResult:
    """Add every image of ``folder`` in batches, several at once, creating the collection when
    it is missing; what is indexed already (same content) is skipped by the service, so a rerun
    resumes. A file with the same bytes as an earlier one is sent after every other batch: in
    two batches in flight together the service could not tell that one of them is already
    there, and the counts would vary from run to run."""
    try:
        client.collection(collection)
    except APIError as error:
        if error.code != ErrorCode.COLLECTION_NOT_FOUND:
            raise
        client.create_collection(collection, method)
    images, skipped = _images_in(folder, recursive)
    if skipped:
        err.print(f"skipped {skipped} files that are not images (by their name)")
    first: dict[bytes, Path] = {}
    repeats = {path for path in images if first.setdefault(_content_key(path), path) is not path}
    waves = [[p for p in images if p not in repeats], [p for p in images if p in repeats]]
    outcomes: dict[Path, AddedImage] = {}
    with _progress() as progress:
        task = progress.add_task(f"indexing into {collection}", total=len(images))
        for wave in waves:
            batches = [
                wave[start : start + BATCH_FILES] for start in range(0, len(wave), BATCH_FILES)
            ]
            answers = _in_parallel(
                lambda batch: client.add(
                    collection, list(batch), [_name(p, folder) for p in batch]
                ),
                batches,
                lambda batch: progress.advance(task, len(batch)),
            )
            for batch, answer in zip(batches, answers, strict=True):
                outcomes.update(zip(batch, answer.images, strict=True))
    # Each file under the name given here: multipart encoding changes some (" becomes %22).
    ordered = [
        outcomes[path].model_copy(update={"file_name": _name(path, folder)}) for path in images
    ]
    for added in ordered:
        if added.error:
            err.print(f"refused {added.file_name}: {added.message}", markup=False)
    return AddImagesResult(
        collection=collection,
        indexed=sum(o.status is AddStatus.INDEXED for o in ordered),
        already_present=sum(o.status is AddStatus.ALREADY_PRESENT for o in ordered),
        refused=sum(o.status is AddStatus.REFUSED for o in ordered),
        images=ordered,
    )


def _name(path: Path, folder: Path) -> str:
    """A file's name in the collection: its path under the folder, so that files of the same
    name in sub-folders stay apart."""
    return path.relative_to(folder).as_posix()


@app.command()
def index(
    folder: FolderArgument,
    collection: CollectionOption,
    method: MethodOption = MethodName.MOBILENET_V2.value,
    recursive: RecursiveOption = False,
    json_output: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: KeyOption = None,
    timeout: TimeoutOption = DEFAULT_TIMEOUT_S,
) -> None:
    """Add the images of FOLDER to a collection (created when missing; a rerun resumes)."""
    try:
        with Client(url, api_key=api_key, timeout=timeout) as client:
            total = _index(client, collection, method, folder, recursive)
    except ISCError as error:
        raise _fail(error) from error
    if json_output:
        sys.stdout.write(total.model_dump_json(indent=2) + "\n")
        return
    out.print(
        f"{collection}: {total.indexed} indexed, {total.already_present} already present, "
        f"{total.refused} refused"
    )


@app.command()
def search(
    image: ImagePath,
    collection: CollectionOption,
    k: Annotated[int, typer.Option("-k", min=1, help="How many hits.")] = 10,
    json_output: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: KeyOption = None,
    timeout: TimeoutOption = DEFAULT_TIMEOUT_S,
) -> None:
    """The K images of a collection most similar to IMAGE, most similar first."""
    try:
        with Client(url, api_key=api_key, timeout=timeout) as client:
            found = client.search(collection, image, k)
    except ISCError as error:
        raise _fail(error) from error
    if json_output:
        sys.stdout.write(found.model_dump_json(indent=2) + "\n")
        return
    table = Table("score", "verdict", "file", "id")
    for hit in found.hits:
        table.add_row(f"{hit.score:.4f}", hit.verdict.value, hit.image.file_name, hit.image.id)
    out.print(table)


def _file_groups(found: DuplicatesResult, indexed: AddImagesResult) -> list[FileGroup]:
    """The groups as (file, id) lists: every file of this run under each image id (files with
    the same bytes are one image to the service, so exact copies join their group, or make one
    of their own), then the other members by their stored name."""
    files: dict[str, list[str]] = {}
    for added in indexed.images:
        if added.id is not None:
            files.setdefault(added.id, []).append(added.file_name)
    stored = {image.id: image.file_name for pair in found.pairs for image in (pair.a, pair.b)}
    groups = [
        [(name, i) for i in group for name in files.get(i, [stored[i]])] for group in found.groups
    ]
    grouped = {i for group in found.groups for i in group}
    groups += [
        [(name, i) for name in names]
        for i, names in files.items()
        if len(names) > 1 and i not in grouped
    ]
    return groups


def _print_duplicates(found: DuplicatesResult, groups: list[FileGroup]) -> None:
    out.print(
        f"{len(groups)} groups of duplicates ({len(found.pairs)} pairs at cosine >= "
        f"{found.threshold:.3f}, {found.threshold_source}; files with the same bytes join too)"
    )
    for number, group in enumerate(groups, 1):
        out.print(f"group {number}: " + ", ".join(name for name, _ in group), markup=False)


@app.command()
def dedup(
    folder: FolderArgument,
    collection: Annotated[
        str | None,
        typer.Option(
            "--collection", "-c", help="Keep the index in this collection (default: temporary)."
        ),
    ] = None,
    method: MethodOption = MethodName.MOBILENET_V2.value,
    threshold: Annotated[
        float | None,
        typer.Option(
            "--threshold", help="Lowest cosine of a pair (default: the CNN's calibrated one)."
        ),
    ] = None,
    recursive: RecursiveOption = False,
    report: Annotated[
        Path | None,
        typer.Option(
            "--report",
            dir_okay=False,
            help="Also write the groups to this file: .json (the service's answer), .csv "
            "(group, file, id: one row per file; files with the same bytes share an id) or "
            ".html (one self-contained page: each group's thumbnails, names and scores).",
        ),
    ] = None,
    json_output: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: KeyOption = None,
    timeout: TimeoutOption = DEFAULT_TIMEOUT_S,
) -> None:
    """Find the groups of near-duplicate images in FOLDER, through a collection."""
    if report is not None:
        _check_output(report, "--report", set(FORMATS))
    with_images = report is not None and report_format(report).needs_images
    name = collection or f"isc-dedup-{secrets.token_hex(4)}"
    try:
        with Client(url, api_key=api_key, timeout=timeout) as client:
            try:
                indexed = _index(client, name, method, folder, recursive)
                found = client.duplicates(name, threshold)
                groups = _file_groups(found, indexed)
                images = _grouped_images(client, name, groups) if with_images else {}
            finally:
                if collection is None:
                    client.delete_collection(name)
    except ISCError as error:
        raise _fail(error) from error
    if report is not None:
        write_report(DedupReport(folder, found, groups, images), report)
        err.print(f"report saved to {report}", markup=False)
    if json_output:
        sys.stdout.write(found.model_dump_json(indent=2) + "\n")
        return
    _print_duplicates(found, groups)


def _grouped_images(
    client: Client, collection: str, groups: list[FileGroup]
) -> dict[str, CollectionImage]:
    """What the collection keeps of each grouped image, thumbnail included (duplicate pairs
    leave it out), fetched several at once: before a temporary collection is deleted."""
    ids = list(dict.fromkeys(image_id for group in groups for _, image_id in group))
    with _progress() as progress:
        task = progress.add_task("fetching thumbnails", total=len(ids))
        fetched = _in_parallel(
            lambda image_id: client.image(collection, image_id),
            ids,
            lambda _: progress.advance(task),
        )
    return dict(zip(ids, fetched, strict=True))


def main() -> None:
    """The ``isc`` entry point."""
    app()
