"""How B relates to A, in one structured answer: the turn or mirror undone before every method
(``worker.orientation``) and the registration a method applied (``worker.alignment``)."""

from __future__ import annotations

from shared.schemas import AlignmentInfo, Relation
from worker.orientation import Orientation


def relation_of(
    orientation: Orientation | None,
    alignment: AlignmentInfo | None,
    greyscale: str | None = None,
    transparency: str | None = None,
    sizes: tuple[tuple[int, int], tuple[int, int]] | None = None,
) -> Relation | None:
    """The relation to report, or None when B was compared as it came and nothing about it
    differs from A but its content. ``sizes``: ((A's width, height), (B's, turned back))."""
    turned = orientation is not None and orientation.changed
    registered = alignment is not None and alignment.applied
    resized = sizes is not None and sizes[0] != sizes[1]
    if not (turned or registered or greyscale or transparency or resized):
        return None
    rotation = float(orientation.rotation_deg) if orientation is not None and turned else 0.0
    found_by: list = []
    notes = []
    if turned and orientation is not None:
        found_by.append("orientation")
        notes.append(
            f"{orientation.describe()} (turned back exactly before comparing; "
            f"{orientation.bits} of 64 hash bits differ that way, {orientation.bits_as_given} "
            f"as given)"
        )
    scale = coverage = scale_xy = None
    if registered and alignment is not None:
        found_by.append("registration")
        rotation += alignment.rotation_deg or 0.0
        scale, coverage, scale_xy = alignment.scale, alignment.coverage_percent, alignment.scale_xy
        notes.append(_registered(alignment))
    if greyscale is not None:
        which = "B" if greyscale == "b" else "A"
        notes.append(f"{which} is in greyscale (colour not compared by the pixel methods)")
    if transparency is not None:
        notes.append(TRANSPARENCY_NOTES[transparency])
    if resized and sizes is not None and not registered:
        (aw, ah), (bw, bh) = sizes
        notes.append(f"B is {bw}x{bh}, A {aw}x{ah}")
    rotation = (rotation + 180.0) % 360.0 - 180.0
    return Relation(
        rotation_deg=round(rotation if rotation != -180.0 else 180.0, 2),
        mirrored=bool(turned and orientation is not None and orientation.mirrored),
        greyscale="a" if greyscale == "a" else "b" if greyscale == "b" else None,
        transparency=transparency,
        sizes_differ=resized,
        scale=scale,
        crop_coverage_percent=coverage,
        scale_xy=scale_xy,
        found_by=found_by,
        note="; ".join(notes),
    )


TRANSPARENCY_NOTES = {
    "removed": "B is opaque where A is transparent (flattened over a background)",
    "added": "B has transparency where A is opaque",
    "changed": "their transparency differs",
}


def _registered(alignment: AlignmentInfo) -> str:
    if alignment.scale_xy is not None:
        sx, sy = alignment.scale_xy
        return (
            f"B is A resized with its aspect ratio changed (width x{sx:.2f}, height x{sy:.2f}), "
            f"compared unsquashed"
        )
    parts = []
    if alignment.scale is not None and abs(alignment.scale - 1.0) >= 0.01:
        parts.append(f"B shows A's content at {alignment.scale:.2f}x its size")
    if alignment.rotation_deg is not None and abs(alignment.rotation_deg) >= 0.5:
        parts.append(f"turned by {alignment.rotation_deg:.1f} degrees")
    if alignment.coverage_percent is not None and alignment.coverage_percent < 99.5:
        parts.append(f"B covers {alignment.coverage_percent:.0f} % of A (a crop or a shift)")
    return "registered: " + (", ".join(parts) if parts else "a small shift")


def relation_sentence(relation: Relation | None, width_b: int, height_b: int) -> str:
    """The relation as the first words of a summary: what B is, before how alike it is."""
    if relation is None:
        return ""
    parts = []
    if relation.scale_xy is not None:
        parts.append(f"A resized to {width_b}x{height_b}, its aspect ratio changed")
    elif relation.crop_coverage_percent is not None and relation.crop_coverage_percent < 99.5:
        parts.append(f"a crop of A showing {relation.crop_coverage_percent:.0f} % of its area")
    elif relation.scale is not None and abs(relation.scale - 1.0) >= 0.02:
        parts.append(f"A at {relation.scale:.2f}x its size")
    turn = round(relation.rotation_deg)
    if abs(turn) >= 1:
        direction = "counter-clockwise" if turn > 0 else "clockwise"
        parts.append(f"turned {abs(turn)} degrees {direction}")
    if relation.mirrored:
        parts.append("mirrored")
    if relation.greyscale == "b":
        parts.append("in greyscale")
    if relation.transparency == "removed":
        parts.append("with its transparency flattened")
    elif relation.transparency == "added":
        parts.append("with transparency added")
    if not parts:
        return ""
    subject = "B is " if parts[0].startswith(("a ", "A ")) else "B is A "
    return subject + ", ".join(parts) + "."
