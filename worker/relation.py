"""How B relates to A, in one structured answer: the turn or mirror undone before every method
(``worker.orientation``) and the registration a method applied (``worker.alignment``)."""

from __future__ import annotations

from shared.schemas import AlignmentInfo, Relation
from worker.orientation import Orientation


def relation_of(
    orientation: Orientation | None, alignment: AlignmentInfo | None
) -> Relation | None:
    """The relation to report, or None when B was compared as it came."""
    turned = orientation is not None and orientation.changed
    registered = alignment is not None and alignment.applied
    if not turned and not registered:
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
    scale = coverage = None
    if registered and alignment is not None:
        found_by.append("registration")
        rotation += alignment.rotation_deg or 0.0
        scale, coverage = alignment.scale, alignment.coverage_percent
        notes.append(_registered(alignment))
    rotation = (rotation + 180.0) % 360.0 - 180.0
    return Relation(
        rotation_deg=round(rotation if rotation != -180.0 else 180.0, 2),
        mirrored=bool(turned and orientation is not None and orientation.mirrored),
        scale=scale,
        crop_coverage_percent=coverage,
        found_by=found_by,
        note="; ".join(notes),
    )


def _registered(alignment: AlignmentInfo) -> str:
    parts = []
    if alignment.scale is not None and abs(alignment.scale - 1.0) >= 0.01:
        parts.append(f"B shows A's content at {alignment.scale:.2f}x its size")
    if alignment.rotation_deg is not None and abs(alignment.rotation_deg) >= 0.5:
        parts.append(f"turned by {alignment.rotation_deg:.1f} degrees")
    if alignment.coverage_percent is not None and alignment.coverage_percent < 99.5:
        parts.append(f"B covers {alignment.coverage_percent:.0f} % of A (a crop or a shift)")
    return "registered: " + (", ".join(parts) if parts else "a small shift")
