"""Real processes on loopback, shared by the integration and browser tests: one gateway+worker
pair per configuration."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.support.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.support.paths import WEIGHTS, WHERE_TO_PUT_IT, in_ci, missing_data
from tests.support.service import Service, running_service

MAX_UPLOAD_BYTES = 3_000_000
MAX_IMAGE_PIXELS = 20_000_000


def pytest_sessionstart(session: pytest.Session) -> None:
    """Under CI, missing shared data stops the run before any test, with one clear message:
    otherwise the published-value checks would be skipped and the run would still look green."""
    missing = missing_data()
    if in_ci() and missing:
        listed = ", ".join(str(path) for path in missing)
        raise pytest.UsageError(f"CI is set and test data is missing ({listed}): {WHERE_TO_PUT_IT}")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the whole session: the page's tests and the screenshots.
    Playwright's sync API keeps an event loop running while it is open, so there is one."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("service-logs")


@pytest.fixture(scope="session")
def service(log_dir: Path) -> Iterator[Service]:
    """All four methods: MobileNetV2 with the shared ImageNet weights when present; CNNs without
    weights get the test-only random initialisation so that their path runs for real."""
    with running_service(
        log_dir,
        "main",
        weights_dir=str(WEIGHTS),
        cnn_random_init="true",
        max_upload_bytes=str(MAX_UPLOAD_BYTES),
        max_image_pixels=str(MAX_IMAGE_PIXELS),
    ) as running:
        running.wait_until_precisions_settle()  # CNN scores stable from the first test on
        yield running


@pytest.fixture(scope="module")
def service_without_weights(
    log_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """The production default when weights are missing: the CNN is listed but unavailable."""
    empty = tmp_path_factory.mktemp("no-weights")
    with running_service(
        log_dir, "no-weights", weights_dir=str(empty), cnn_methods="vgg16"
    ) as running:
        yield running


@pytest.fixture(scope="session")
def openapi_schema(service: Service):
    """The running service's own OpenAPI document, for schemathesis."""
    import schemathesis

    return schemathesis.openapi.from_url(service.base_url + "/openapi.json")
