"""The ``ignore_regions`` request field: rectangles of image A that a screenshot check skips.

One form field, ``"x,y,w,h;x,y,w,h"``, works alike from curl (``-F ignore_regions=...``),
Swagger's form and a query string; the gateway checks it (a clear 422 before the upload travels
on) and the worker parses the same text again into hashable tuples for its options.
"""

from __future__ import annotations

MAX_IGNORE_REGIONS = 100
"""More rectangles than this is a mistake in the client, not a page with 100 clocks."""

Rectangle = tuple[int, int, int, int]
"""x, y, width, height in image A's pixels (x, y: top-left corner)."""


def parse_ignore_regions(text: str | None) -> tuple[Rectangle, ...]:
    """``"x,y,w,h;x,y,w,h"`` -> rectangles; ``ValueError`` with a message a person can act on.

    Whitespace is allowed around numbers and separators; an empty text means no rectangle. A
    rectangle may reach past A's edges (it is clipped there), but it needs a positive size and
    a corner at x, y >= 0.
    """
    if text is None or not text.strip():
        return ()
    rectangles: list[Rectangle] = []
    for index, part in enumerate(text.split(";"), start=1):
        if not part.strip():
            continue
        fields = [field.strip() for field in part.split(",")]
        if len(fields) != 4:
            raise ValueError(
                f"ignore_regions: rectangle {index} ('{part.strip()}') must be four integers "
                f"x,y,w,h (rectangles separated by ';', e.g. '10,20,300,40;0,0,1920,64')."
            )
        try:
            x, y, width, height = (int(field) for field in fields)
        except ValueError:
            raise ValueError(
                f"ignore_regions: rectangle {index} ('{part.strip()}') must be whole numbers "
                f"x,y,w,h in image A's pixels."
            ) from None
        if x < 0 or y < 0 or width <= 0 or height <= 0:
            raise ValueError(
                f"ignore_regions: rectangle {index} ('{part.strip()}') needs x, y >= 0 and a "
                f"width and height above 0."
            )
        rectangles.append((x, y, width, height))
    if len(rectangles) > MAX_IGNORE_REGIONS:
        raise ValueError(
            f"ignore_regions: {len(rectangles)} rectangles, at most {MAX_IGNORE_REGIONS} allowed."
        )
    return tuple(rectangles)


def format_ignore_regions(rectangles: tuple[Rectangle, ...]) -> str:
    """The field's text for ``rectangles`` (the gateway forwards it to the worker so)."""
    return ";".join(",".join(str(value) for value in rectangle) for rectangle in rectangles)
