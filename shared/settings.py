"""One settings object for the gateway and the worker, read from ``ISC_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.schemas import HeatmapFormat

PrecisionSetting = Literal["auto", "float32", "bfloat16", "float16"]


class Settings(BaseSettings):
    """Every knob of the service in one place; the README lists them with their defaults."""

    model_config = SettingsConfigDict(env_prefix="ISC_", env_file=None, extra="ignore")

    # Gateway
    host: str = Field("127.0.0.1", description="Address the gateway listens on.")
    port: int = Field(8000, description="Port the gateway listens on.")
    max_upload_bytes: int = Field(
        20 * 1024 * 1024, description="Largest accepted file, per image, in bytes (413 above)."
    )
    max_image_pixels: int = Field(
        40_000_000,
        description="Most pixels an image is decoded to (the memory bound of one image): a "
        "larger one (e.g. a 48 MP phone photo) is decoded at reduced scale to fit, a JPEG by "
        "libjpeg itself at 1/2, 1/4 or 1/8 scale, other formats whole and then reduced, one at a "
        "time; the result's image info keeps the original size.",
    )
    max_declared_pixels: int = Field(
        250_000_000,
        description="Largest accepted image, width x height, as its header declares it (413 "
        "above, before a pixel is decoded: the decompression-bomb guard). Above what camera "
        "sensors make (about 200 MP for the largest in phones).",
    )

    max_inflight: int = Field(
        32,
        description="Comparisons the gateway forwards at once; more get 429 with Retry-After "
        "(backpressure instead of an unbounded queue).",
    )
    upload_timeout_s: float = Field(
        60.0,
        gt=0,
        description="Longest a client may take to send a comparison's body once the gateway "
        "admitted it (408 above): an admitted upload holds an in-flight slot, so a client that "
        "sends slowly or stalls must not hold it for ever.",
    )
    retry_after_s: int = Field(1, description="Retry-After sent with 429 and 503 answers.")
    shutdown_grace_s: float = Field(
        30.0,
        description="On SIGTERM, how long in-flight requests may still finish before the "
        "gateway and worker stop.",
    )
    cors_origins: str = Field(
        "",
        description="Comma-separated origins allowed to call the API from a browser (CORS); "
        "empty: CORS off (the page is served from the same origin and needs none).",
    )
    api_key: str | None = Field(
        None,
        description="When set, API routes require this key in the X-API-Key header "
        "(the page asks for it); unset: open.",
    )

    # Worker placement: embedded (spawned by the gateway) unless a URL is given.
    worker_url: str | None = Field(
        None,
        description="URL of an external worker (e.g. http://worker:8001). "
        "Unset: the gateway starts and supervises its own worker process.",
    )
    worker_host: str = Field("127.0.0.1", description="Address the worker listens on.")
    worker_port: int = Field(
        0,
        description="Port the worker listens on; 0 picks a free port (embedded mode). With "
        "several local workers, the next ones take the ports after it.",
    )
    worker_start_timeout_s: float = Field(
        300.0, description="How long the gateway waits for a spawned worker to answer."
    )
    worker_timeout_s: float = Field(
        120.0, description="Longest a single comparison may take in the worker (504 above)."
    )
    worker_connect_timeout_s: float = Field(3.0, description="Connect timeout to the worker.")
    worker_threads: int = Field(
        8,
        description="Comparisons the worker computes at once (the rest wait, bounded by "
        "max_inflight).",
    )
    pixel_threads: int | None = Field(
        None,
        ge=1,
        description="Comparisons without a CNN (SSIM, MS-SSIM, pixel, pHash) the worker computes "
        "at once in its threads (pixel_processes=0); unset: one per usable core (more only "
        "contend for the cores).",
    )
    pixel_processes: int | None = Field(
        None,
        ge=0,
        description="Child processes of the worker that compute comparisons without a CNN "
        "(SSIM, MS-SSIM, pixel, pHash) beside its GIL; unset: two per usable core (one core: "
        "none); 0: none, the worker's threads compute them (pixel_threads at once).",
    )
    opencv_threads: int = Field(
        1,
        ge=0,
        description="OpenCV's own threads per call in the worker; 1: requests run side by side "
        "instead (12 % less CPU per SSIM request); 0: OpenCV's default (all cores).",
    )
    worker_restart_backoff_s: float = Field(
        1.0, description="First delay before restarting a dead worker; doubles up to 30 s."
    )
    # Several workers behind the gateway (api.worker_pool).
    local_workers: int = Field(
        1,
        ge=1,
        description="Worker processes the gateway starts and supervises itself when no external "
        "worker is given; the cores (and worker_threads) are split between them.",
    )
    worker_urls: str = Field(
        "",
        description="Comma-separated URLs of external workers (with or besides worker_url); "
        "each request goes to the ready one with the fewest requests in flight.",
    )
    worker_dns: str = Field(
        "",
        description="host:port of a DNS name that resolves to every worker (e.g. a Kubernetes "
        "headless Service); re-resolved every worker_dns_refresh_s, each address one worker.",
    )
    worker_dns_refresh_s: float = Field(
        10.0, gt=0, description="How often worker_dns is resolved again."
    )

    # Models
    weights_dir: Path | None = Field(
        None,
        description="Folder holding Keras ImageNet no-top weight files (Keras file names). "
        "Unset: Keras's own cache, ~/.keras/models.",
    )
    allow_weight_download: bool = Field(
        True,
        description="Let Keras download missing ImageNet weights (needs internet access).",
    )
    cnn_methods: str = Field(
        "vgg16,resnet50,mobilenet_v2",
        description="Comma-separated CNNs the worker loads at start-up.",
    )
    cnn_random_init: bool = Field(
        False,
        description="TESTS ONLY: build CNNs whose weights are missing with a fixed random "
        "initialisation. Their results are marked weights='random-init'.",
    )
    cnn_random_seed: int = Field(1234, description="Seed for cnn_random_init.")
    cnn_precision: PrecisionSetting = Field(
        "auto",
        description="CNN arithmetic for every CNN: auto (each network measured on this machine "
        "after start-up, in the background, in float32 and bfloat16, or float16 on a GPU; the "
        "faster one whose embeddings and verdicts agree is used), float32, bfloat16 (mixed "
        "precision: faster only on some CPUs and networks, scores differ slightly) or float16 "
        "(mixed precision for GPUs).",
    )
    cnn_precision_per_model: dict[str, PrecisionSetting] = Field(
        default_factory=dict,
        description="Per-CNN precision overriding cnn_precision, as JSON, e.g. "
        '{"vgg16": "bfloat16", "mobilenet_v2": "float32"}.',
    )
    cnn_tuning_file: Path | None = Field(
        Path.home() / ".cache" / "image-similarity-checker" / "cnn-tuning.json",
        description="Where the precision and batch-size measurements are kept, keyed by CPU, "
        "TensorFlow version, network, weights and input, so that a restart on the same machine "
        "reuses them instead of measuring again; empty: measure at every start.",
    )
    batch_max_size: int | None = Field(
        None,
        ge=1,
        description="Most images one CNN forward pass gathers from concurrent requests; unset: "
        "per network, the batch size that gave the most images per second when measured on "
        "this machine (16 until measured, or when the precision is set explicitly and nothing "
        "was measured).",
    )
    batch_max_wait_ms: float = Field(
        5.0, ge=0, description="Longest a request waits for others to share its CNN forward pass."
    )
    embedding_cache_bytes: int = Field(
        256 * 1024 * 1024,
        description="Memory for cached CNN feature maps of images seen before (0: off).",
    )
    result_cache_bytes: int = Field(
        64 * 1024 * 1024,
        description="Memory for cached results of repeated identical requests (0: off).",
    )
    cnn_canvas_pixels: int = Field(
        224 * 224, description="Approximate input area (pixels) each image is resized to."
    )

    pixel_jnd: float = Field(
        2.3,
        description="Just-noticeable colour difference (CIEDE2000) above which the pixel method "
        "counts a pixel as changed (2.3: Sharma, Digital Color Imaging Handbook, 2003).",
    )

    # Output
    heatmap_max_side: int = Field(
        768, description="Longest side of the returned heatmaps, in pixels."
    )
    heatmap_format: HeatmapFormat = Field(
        HeatmapFormat.JPEG,
        description="Heatmap encoding when a request does not choose: jpeg (small and fast) or "
        "png (lossless, about four times larger and six times slower to encode).",
    )

    # Collections (api/collections): the vector store lives beside the gateway.
    collections_dir: Path = Field(
        Path("data"),
        description="Where the embedded Qdrant store keeps the collections on disk, relative to "
        "the working directory (used when qdrant_url is unset; one gateway process at a time).",
    )
    qdrant_url: str | None = Field(
        None,
        description="URL of a Qdrant server or cluster (e.g. http://qdrant:6333); unset: "
        "Qdrant's embedded local mode in collections_dir.",
    )
    qdrant_api_key: str | None = Field(None, description="API key of that Qdrant server.")
    collection_max_files: int = Field(
        64, ge=1, description="Most files one request may add to a collection (413 above)."
    )
    collection_max_k: int = Field(
        100, ge=1, description="Most hits one collection search may ask for (k)."
    )

    web_dir: Path | None = Field(
        None, description="Folder of the web page; unset: the project's web/ folder."
    )

    log_level: str = Field("info", description="Log level of both processes.")

    def cors_origin_list(self) -> list[str]:
        """The configured CORS origins."""
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]

    def worker_url_list(self) -> list[str]:
        """The external workers' URLs given one by one (worker_url, then worker_urls)."""
        urls = [self.worker_url or "", *self.worker_urls.split(",")]
        return [url.strip().rstrip("/") for url in urls if url.strip()]

    def worker_body_bytes(self) -> int:
        """The largest body the worker reads: two files at the upload limit (a pair; a
        collection's add is sent in as many bodies as it takes)."""
        return 2 * self.max_upload_bytes

    def cnn_method_names(self) -> list[str]:
        """The configured CNNs, in the order given."""
        return [name.strip() for name in self.cnn_methods.split(",") if name.strip()]

    @field_validator("cnn_tuning_file", mode="before")
    @classmethod
    def _empty_means_none(cls, value: object) -> object:
        return None if value == "" else value

    def precision_for(self, cnn: str) -> PrecisionSetting:
        """The precision setting of one CNN: its own entry, else the common one."""
        return self.cnn_precision_per_model.get(cnn, self.cnn_precision)


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
