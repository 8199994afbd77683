"""The contract of embeddings and collections: what the worker's embed route answers and what the
gateway's collection routes take and give. Kept apart from ``schemas`` (the pairwise contract)
because a collection is a different kind of resource: named, stored, and addressed by id."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field, field_validator

from shared.errors import ErrorInfo
from shared.methods import METHOD_INFO, MethodFamily, MethodName
from shared.schemas import Verdict

COLLECTION_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
"""Lower-case letters, digits, '-' and '_', at most 63 characters: safe as a folder name and as a
Qdrant collection name, and the same on every operating system."""

IMAGE_ID_PATTERN = r"^[0-9a-f]{32}$"
"""An image id is the BLAKE2b-128 hash of the file's bytes, as 32 hex digits."""


def embeddable_methods() -> list[MethodName]:
    """The methods that give one vector per image: the CNNs."""
    return [name for name, info in METHOD_INFO.items() if info.family is MethodFamily.SEMANTIC]


class VerdictBound(BaseModel):
    """The lowest score of one verdict."""

    verdict: Verdict
    score: float


class EmbeddingModel(BaseModel):
    """A CNN as an embedder: what its vectors are and which weights made them."""

    method: MethodName = Field(description="The CNN.", examples=["mobilenet_v2"])
    dimensions: int = Field(description="Length of each vector.", examples=[1280])
    weights_key: str | None = Field(
        None,
        description="Fingerprint of the weights the vectors come from; vectors of other weights "
        "are not comparable with these.",
    )
    near_duplicate_threshold: float | None = Field(
        None,
        description="The calibrated cosine from which two images are near-duplicates for these "
        "weights; null when these weights were not calibrated.",
        examples=[0.9],
    )
    verdict_bounds: list[VerdictBound] = Field(
        default_factory=list,
        description="The calibrated lowest score of each verdict but the last, most alike "
        "first; empty when these weights were not calibrated.",
    )
    lowest_verdict: Verdict = Field(
        Verdict.UNCALIBRATED, description="The verdict below every bound."
    )

    def verdict(self, score: float) -> Verdict:
        """The calibrated verdict of a cosine between two of these vectors."""
        if not self.verdict_bounds:
            return Verdict.UNCALIBRATED
        for bound in self.verdict_bounds:
            if score >= bound.score:
                return bound.verdict
        return self.lowest_verdict


class Embedding(EmbeddingModel):
    """One image's canonical embedding (unit length), as the worker computed it."""

    vector: list[float] = Field(description="The unit-length embedding.")
    width: int = Field(description="Decoded width in pixels, after EXIF rotation.")
    height: int = Field(description="Decoded height in pixels, after EXIF rotation.")
    thumbnail: str | None = Field(
        None, description="JPEG data URL, longest side at most 256 px, when asked for."
    )


class EmbeddingOutcome(BaseModel):
    """One file of several sent at once: its embedding, or why it has none."""

    embedding: Embedding | None = None
    error: ErrorInfo | None = None


class EmbeddingBatch(BaseModel):
    """The worker's answer to several files sent at once: one outcome per file, in order."""

    outcomes: list[EmbeddingOutcome]


class CollectionCreate(BaseModel):
    """A new, empty collection."""

    name: str = Field(
        pattern=COLLECTION_NAME_PATTERN,
        description="Lower-case letters, digits, '-' and '_', 1-63 characters, starting with a "
        "letter or digit.",
        examples=["products"],
    )
    method: MethodName = Field(
        MethodName.MOBILENET_V2,
        description="The CNN whose embeddings index the images (vgg16, resnet50 or mobilenet_v2).",
    )
    thumbnails: bool = Field(
        True,
        description="Keep a thumbnail of each image (JPEG, longest side at most 256 px), shown "
        "with search hits; false: nothing of the picture itself is stored.",
    )

    @field_validator("method")
    @classmethod
    def _embeddable(cls, method: MethodName) -> MethodName:
        if method not in embeddable_methods():
            allowed = ", ".join(embeddable_methods())
            raise ValueError(f"{method} gives no embedding; a collection needs one of {allowed}")
        return method


class CollectionInfo(BaseModel):
    """A collection and what it holds."""

    name: str = Field(examples=["products"])
    method: MethodName = Field(description="The CNN that embeds its images.")
    images: int = Field(description="How many images it holds.", examples=[120])
    dimensions: int = Field(description="Length of each stored vector.", examples=[1280])
    weights_key: str | None = Field(
        None, description="Fingerprint of the weights its vectors came from."
    )
    thumbnails: bool = Field(True, description="Whether it keeps a thumbnail of each image.")


class CollectionList(BaseModel):
    """Every collection, by name."""

    collections: list[CollectionInfo]


class AddStatus(StrEnum):
    """What became of one file sent to a collection."""

    INDEXED = "indexed"
    ALREADY_PRESENT = "already_present"
    REFUSED = "refused"


class AddedImage(BaseModel):
    """One file's outcome; a refused file never stops the others."""

    file_name: str = Field(description="The name the file was sent with.", examples=["a.jpg"])
    status: AddStatus
    id: str | None = Field(
        None,
        description="The image's id (content hash); null when refused.",
        examples=["3f2a9c0e4b1d7a6f5e8c2b1a0d9e8f7c"],
    )
    error: str | None = Field(
        None, description="Why it was refused (an error code)", examples=["corrupt_image"]
    )
    message: str | None = Field(None, description="Why it was refused, in words.")


class AddImagesResult(BaseModel):
    """The outcome of each file, in the order sent."""

    collection: str
    indexed: int = Field(description="Files added now.")
    already_present: int = Field(description="Files whose content was already there.")
    refused: int = Field(description="Files refused (see each one's error).")
    images: list[AddedImage]


class CollectionImage(BaseModel):
    """One stored image: what is kept of it (never the file itself)."""

    id: str = Field(description="Content hash (BLAKE2b-128, hex).")
    file_name: str = Field(description="The name it was first added with.")
    width: int
    height: int
    bytes: int = Field(description="Size of the file that was added.")
    thumbnail: str | None = Field(
        None,
        description="JPEG data URL (longest side at most 256 px) when the collection keeps "
        "thumbnails; null in duplicate pairs (fetch one image for it).",
    )
    exact_copies: list[str] = Field(
        default_factory=list,
        description="Other file names the same bytes were sent under (byte-identical copies: "
        "an image is stored once per content hash, so they share this id and vector).",
        examples=[["IMG_0001 (copy).jpg"]],
    )


class PixelCheck(BaseModel):
    """One pixel method's comparison of the query's thumbnail with a hit's stored thumbnail."""

    score: float = Field(
        description="The method's score on the two thumbnails (SSIM: mean SSIM; pHash: "
        "1 - Hamming distance / 64).",
        examples=[0.93],
    )
    verdict: Verdict = Field(
        description="The method's calibrated verdict for that score (calibrated on full-size "
        "photos: read it as a check on the CNN's, not as a full-resolution comparison)."
    )
    verdict_label: str = Field(
        description="The verdict in the method's words.", examples=["same picture"]
    )
    calibrated: bool = Field(description="Whether the verdict comes from calibrated thresholds.")
    metrics: dict[str, float] = Field(
        default_factory=dict,
        description="The method's own numbers (pHash: phash_distance, the bits that differ).",
        examples=[{"phash_distance": 2.0}],
    )


class HitVerification(BaseModel):
    """``verify=true``: the pixel methods' second opinion on a hit, from the thumbnails."""

    ssim: PixelCheck = Field(description="SSIM (aligned as by default) of the two thumbnails.")
    phash: PixelCheck = Field(description="The perceptual hashes of the two thumbnails.")


class SearchHit(BaseModel):
    """An image of the collection and how alike it is to the query."""

    image: CollectionImage
    score: float = Field(description="Cosine of the two embeddings (1: same embedding).")
    verdict: Verdict = Field(
        description="The CNN's calibrated verdict for the score, as a pairwise comparison "
        "would give it (identical when the bytes are the same; uncalibrated without "
        "thresholds)."
    )
    verified: HitVerification | None = Field(
        None,
        description="With verify=true, for the top hits (at most 10): SSIM and pHash of the "
        "query's thumbnail (made as the stored ones: longest side 256 px, JPEG) against this "
        "hit's stored thumbnail, computed by the worker. Null without verify, below the top "
        "hits, and for an image stored without a thumbnail.",
    )


class SearchResult(BaseModel):
    """The k most similar images, most similar first."""

    collection: str
    method: MethodName
    hits: list[SearchHit]


class DuplicatePair(BaseModel):
    """Two images of the collection at or above the threshold. Their bytes always differ: an
    image is stored once per content hash, so byte-identical files are one image (see its
    ``exact_copies`` and the result's ``file_groups``)."""

    a: CollectionImage
    b: CollectionImage
    score: float = Field(description="Cosine of their embeddings.")


class DuplicateGroup(BaseModel):
    """A group of duplicates with every file name its images were sent under."""

    ids: list[str] = Field(description="The images (content hashes) of the group.")
    file_names: list[str] = Field(
        description="Every file name of its images, byte-identical copies included."
    )
    byte_identical: bool = Field(
        description="True: every file of the group has the same bytes (one image, sent under "
        "several names); false: near-duplicates by the CNN, whose members' bytes differ."
    )
    exact_copies: list[list[str]] = Field(
        default_factory=list,
        description="The sets of its file names that are byte-identical (the same content "
        "hash), one per image sent under more than one name.",
        examples=[[["a.jpg", "a (copy).jpg"]]],
    )


class DuplicatesResult(BaseModel):
    """Every pair at or above the threshold, and the groups they join into."""

    collection: str
    method: MethodName
    threshold: float = Field(description="The cosine used.")
    threshold_source: str = Field(
        description="'calibrated' (the CNN's near-duplicate threshold) or 'request'."
    )
    pairs: list[DuplicatePair] = Field(description="Most similar first.")
    groups: list[list[str]] = Field(
        description="Image ids joined by the pairs (connected groups of two or more), largest "
        "first."
    )
    file_groups: list[DuplicateGroup] = Field(
        default_factory=list,
        description="The groups with their file names, exact copies flagged: first the "
        "near-duplicate groups (in the order of groups), then each image sent under several "
        "names that is in none of them (byte_identical: the same bytes under other names).",
    )
    truncated: bool = Field(
        False,
        description="More pairs were at or above the threshold than max_pairs: only the most "
        "similar are listed (and grouped).",
    )
