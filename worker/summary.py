"""One plain-language reading of all methods on a pair, explaining where they disagree."""

from __future__ import annotations

from collections import Counter

from shared.methods import METHOD_INFO, MethodFamily, MethodName
from shared.schemas import CombinedVerdict, CompareResult, Verdict
from worker.combined import drivers

PIXEL_FAMILIES = (MethodFamily.STRUCTURAL, MethodFamily.PIXEL, MethodFamily.HASH)
ORDER = (
    Verdict.NEAR_DUPLICATE,
    Verdict.SAME_SUBJECT,
    Verdict.RELATED,
    Verdict.DIFFERENT,
)


def _consensus(results: list[CompareResult]) -> tuple[Verdict | None, list[str]]:
    """The most common calibrated verdict (ties: the more alike) and who gave it."""
    calibrated = [r for r in results if r.calibrated and r.verdict is not Verdict.UNCALIBRATED]
    if not calibrated:
        return None, []
    counts = Counter(r.verdict for r in calibrated)
    top = max(counts.values())
    verdict = next(v for v in ORDER if counts.get(v) == top)
    names = [METHOD_INFO[r.method].title for r in calibrated if r.verdict is verdict]
    return verdict, names


def _titles(results: list[CompareResult]) -> str:
    return ", ".join(METHOD_INFO[r.method].title for r in results)


def combined_sentence(combined: CombinedVerdict) -> str:
    """The first sentence: the combined verdict and the methods that drove it most."""
    if not combined.calibrated:
        return (
            "Combined verdict: uncalibrated (no combined model was fitted for the methods "
            "that gave a calibrated score here)."
        )
    titles = [METHOD_INFO[MethodName(name)].title for name in drivers(combined)]
    share = combined.probabilities.get(combined.verdict.value)
    certainty = f", probability {share:.0%}" if share is not None else ""
    return (
        f"Combined verdict: {combined.verdict.value}{certainty}, driven most by "
        f"{' and '.join(titles)}."
    )


def summarize(
    results: list[CompareResult],
    unavailable: dict[str, str],
    combined: CombinedVerdict,
    relation: str = "",
) -> str:
    """What all the methods together say about the pair: what B is (``relation``, e.g. "B is
    a 70 % crop of A"), the combined verdict, then where the pixel and content methods agree
    or disagree."""
    if not results:
        return "No method could compare these images: " + "; ".join(unavailable.values())
    if any(r.verdict is Verdict.IDENTICAL for r in results):
        return "The two images are identical, pixel for pixel: every method agrees."
    reading = _reading(results, unavailable)
    if relation:
        # What was done to B is known; the edits guessed at below would mislead.
        reading = reading.replace(" (blur, compression, noise or edits)", "")
    head = f"{relation} " if relation else ""
    return head + combined_sentence(combined) + " " + reading


def _reading(results: list[CompareResult], unavailable: dict[str, str]) -> str:
    """Where the pixel and content methods agree or disagree, and who could not say."""
    pixel_results = [r for r in results if r.family in PIXEL_FAMILIES]
    semantic_results = [r for r in results if r.family is MethodFamily.SEMANTIC]
    pixels, pixel_voters = _consensus(pixel_results)
    content, content_voters = _consensus(semantic_results)

    if pixels is Verdict.NEAR_DUPLICATE:
        sentence = "The same picture: the pixel methods call B a near-duplicate of A"
        sentence += (
            ", and the CNNs agree it shows the same thing."
            if content in (Verdict.NEAR_DUPLICATE, Verdict.SAME_SUBJECT)
            else "."
        )
    elif pixels is Verdict.SAME_SUBJECT:
        sentence = (
            "The same picture or scene, visibly altered: its structure is still recognisable "
            "(blur, compression, noise or edits)."
        )
    elif pixels is Verdict.DIFFERENT and content in (Verdict.NEAR_DUPLICATE, Verdict.SAME_SUBJECT):
        sentence = (
            "Structurally different but semantically the same subject: likely two photos of one "
            "scene or subject, or one picture heavily reframed. The pixel methods see different "
            "pictures; the CNNs see the same kind of content."
        )
    elif pixels is Verdict.DIFFERENT and content is Verdict.RELATED:
        sentence = (
            "Different pictures of related things: the pixels do not match, and the CNNs see "
            "content of the same broad kind, but not the same subject."
        )
    elif pixels is Verdict.DIFFERENT and content is Verdict.DIFFERENT:
        sentence = "Different images: neither the pixels nor the content match."
    elif pixels is Verdict.DIFFERENT:
        sentence = (
            "Different pictures at the pixel level; no calibrated CNN could say whether they "
            "show the same subject."
        )
    else:
        sentence = "No calibrated pixel method ran, so whether this is the same picture is open."
        if content is not None:
            sentence += f" The CNNs' reading: '{content.value}'."

    notes = [sentence]
    dissent = [
        r
        for r in pixel_results
        if r.calibrated and pixels is not None and r.verdict not in (pixels, Verdict.UNCALIBRATED)
    ]
    if dissent:
        notes.append(
            "Not every pixel method agrees: "
            + "; ".join(f"{METHOD_INFO[r.method].title} says '{r.verdict.value}'" for r in dissent)
            + " (each is blind to different things, see its explanation)."
        )
    if pixel_voters or content_voters:
        voters = [f"pixels: {', '.join(pixel_voters)}"] if pixel_voters else []
        voters += [f"content: {', '.join(content_voters)}"] if content_voters else []
        notes.append(f"Based on {'; '.join(voters)}.")
    uncalibrated = [r for r in results if r.verdict is Verdict.UNCALIBRATED]
    if uncalibrated:
        notes.append(f"Without a calibrated verdict: {_titles(uncalibrated)}.")
    if unavailable:
        notes.append(f"Not run: {', '.join(unavailable)}.")
    return " ".join(notes)
