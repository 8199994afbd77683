"""The files ``isc dedup --report`` writes: the service's answer (.json), one row per file
(.csv), or one self-contained page to look at (.html).

The page must open anywhere it is copied to (a CI artifact, an e-mail attachment), so it holds
everything it shows: the thumbnails are the service's JPEG data URLs, the style is inline, and
there is no script and no link to anything outside the file. Every name in it comes from a file
system, so each is escaped: a file may be called ``<b>&.jpg``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from pathlib import Path

from shared.collections import CollectionImage, DuplicatesResult

FileGroup = list[tuple[str, str]]
"""One group as (file name, image id) pairs; files with the same bytes share an id."""


@dataclass(frozen=True)
class DedupReport:
    """What one ``isc dedup`` run found, as the report formats need it."""

    folder: Path
    found: DuplicatesResult
    groups: list[FileGroup]
    images: Mapping[str, CollectionImage] = field(default_factory=dict)
    """What the service keeps of each grouped image (its thumbnail), fetched before a
    temporary collection is deleted; only the HTML report needs it."""


@dataclass(frozen=True)
class ReportFormat:
    """How to write one kind of report, and whether it needs the thumbnails (which cost one
    request per grouped image, so they are only fetched for a page)."""

    render: Callable[[DedupReport], str]
    needs_images: bool = False


def _json(report: DedupReport) -> str:
    return report.found.model_dump_json(indent=2) + "\n"


def _csv(report: DedupReport) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["group", "file", "id"])
    for number, group in enumerate(report.groups, 1):
        writer.writerows([number, name, image_id] for name, image_id in group)
    return buffer.getvalue()


STYLE = """
:root { color-scheme: light dark; --line: #8884; --muted: #777; --accent: #c2410c; }
body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; padding: 1.5rem; max-width: 72rem; }
h1 { font-size: 1.4rem; margin: 0 0 .25rem; }
.summary, .meta { color: var(--muted); margin: 0 0 1rem; }
.group { border: 1px solid var(--line); border-radius: 8px; padding: 1rem; margin: 0 0 1.25rem; }
.group h2 { font-size: 1.1rem; margin: 0 0 .75rem; }
.members { display: flex; flex-wrap: wrap; gap: 1rem; list-style: none; margin: 0; padding: 0; }
.member { width: 200px; }
.member figure { margin: 0; }
.member img, .no-thumbnail { display: block; width: 200px; height: 160px; object-fit: contain;
  background: #8881; border-radius: 4px; }
.no-thumbnail { display: flex; align-items: center; justify-content: center; color: var(--muted); }
figcaption { margin-top: .35rem; overflow-wrap: anywhere; }
.size { display: block; color: var(--muted); font-size: .85rem; }
.exact { display: inline-block; margin-top: .2rem; padding: 0 .4rem; border-radius: 4px;
  background: var(--accent); color: #fff; font-size: .8rem; }
.pairs { border-collapse: collapse; margin-top: 1rem; }
.pairs th, .pairs td { border-bottom: 1px solid var(--line); padding: .25rem .75rem .25rem 0;
  text-align: left; overflow-wrap: anywhere; }
.pairs .score { font-variant-numeric: tabular-nums; text-align: right; }
"""


def _thumbnail(name: str, image: CollectionImage | None) -> str:
    """The image's thumbnail inline, or a placeholder: only a data URL of an image may go in,
    so the page never fetches anything."""
    source = image.thumbnail if image is not None else None
    if source is None or not source.startswith("data:image/"):
        return '<div class="no-thumbnail">no thumbnail kept</div>'
    return f'<img src="{escape(source)}" alt="{escape(name)}" loading="eager">'


def _member(name: str, image_id: str, copies: list[str], image: CollectionImage | None) -> str:
    size = f"{image.width} &times; {image.height} px" if image is not None else ""
    others = [other for other in copies if other != name]
    exact = (
        f'<span class="exact" title="the same bytes as {escape(", ".join(others))}">'
        "exact copy</span>"
        if others
        else ""
    )
    return (
        f'<li class="member" data-id="{escape(image_id)}"><figure>'
        f"{_thumbnail(name, image)}"
        f'<figcaption><span class="name">{escape(name)}</span>'
        f'<span class="size">{size}</span>{exact}</figcaption></figure></li>'
    )


def _pair_rows(report: DedupReport, names: Mapping[str, list[str]]) -> list[str]:
    """The group's scores: every near-duplicate pair of its images (the service's cosine,
    most similar first), then each exact copy against the file it copies."""
    rows = [
        f'<tr class="pair"><td>{escape(names[pair.a.id][0])}</td>'
        f"<td>{escape(names[pair.b.id][0])}</td>"
        f'<td class="score">{pair.score:.4f}</td></tr>'
        for pair in report.found.pairs
        if pair.a.id in names and pair.b.id in names
    ]
    rows += [
        f'<tr class="pair exact-pair"><td>{escape(files[0])}</td><td>{escape(copy)}</td>'
        '<td class="score">same bytes</td></tr>'
        for files in names.values()
        for copy in files[1:]
    ]
    return rows


def _group(number: int, group: FileGroup, report: DedupReport) -> str:
    names: dict[str, list[str]] = {}
    for name, image_id in group:
        names.setdefault(image_id, []).append(name)
    kind = "exact copies" if len(names) == 1 else f"{len(names)} images"
    members = "".join(
        _member(name, image_id, names[image_id], report.images.get(image_id))
        for name, image_id in group
    )
    return (
        f'<section class="group" id="group-{number}" data-group="{number}">'
        f"<h2>Group {number} <small>· {len(group)} files, {kind}</small></h2>"
        f'<ul class="members">{members}</ul>'
        '<table class="pairs"><thead><tr><th>file</th><th>file</th>'
        '<th class="score">cosine</th></tr></thead>'
        f"<tbody>{''.join(_pair_rows(report, names))}</tbody></table></section>"
    )


def _html(report: DedupReport) -> str:
    found = report.found
    files = sum(len(group) for group in report.groups)
    truncated = " Only the most similar pairs were answered (truncated)." if found.truncated else ""
    summary = (
        f"{len(report.groups)} groups, {files} files: {len(found.pairs)} pairs at cosine ≥ "
        f"{found.threshold:.3f} ({escape(found.threshold_source)} threshold of "
        f"{escape(found.method.value)}); files with the same bytes are exact copies.{truncated}"
    )
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    groups = "".join(_group(n, group, report) for n, group in enumerate(report.groups, 1))
    body = groups or '<p class="empty">No duplicates found.</p>'
    title = f"Duplicates in {report.folder}"
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
        f'<h1>{escape(title)}</h1><p class="summary">{summary}</p>'
        f'<p class="meta">Written by isc dedup on {made}.</p>'
        f"{body}"
        "</body></html>\n"
    )


FORMATS: dict[str, ReportFormat] = {
    ".json": ReportFormat(_json),
    ".csv": ReportFormat(_csv),
    ".html": ReportFormat(_html, needs_images=True),
    ".htm": ReportFormat(_html, needs_images=True),
}
"""The report formats by file suffix (lower case)."""


def report_format(path: Path) -> ReportFormat:
    """The format a report path asks for (its suffix must be one of ``FORMATS``)."""
    return FORMATS[path.suffix.lower()]


def write_report(report: DedupReport, path: Path) -> None:
    """Write the report in the format of ``path``'s suffix, as UTF-8."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(report_format(path).render(report))
