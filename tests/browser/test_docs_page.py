"""/docs, the API's own page, in headless Chromium: it must work with no network but loopback."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

from tests.support.paths import PHOTOS, require
from tests.support.service import Service

COMPARE = "#operations-compare-compare_api_v1_compare_post"


@pytest.fixture
def offline(page: Page) -> Iterator[list[str]]:
    """Every request for another host than the service's is refused and recorded, as on a
    machine without internet access; the test asserts that none was made."""
    outside: list[str] = []

    def only_loopback(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_loopback)
    yield outside
    assert outside == []


def test_docs_render_every_operation_offline(
    page: Page, service: Service, offline: list[str]
) -> None:
    schema = httpx.get(service.base_url + "/openapi.json", timeout=10).json()
    page.goto(service.base_url + "/docs")
    operations = page.locator(".opblock")
    expect(operations.first).to_be_visible(timeout=30_000)
    operation_ids = {
        operation["operationId"]
        for verbs in schema["paths"].values()
        for operation in verbs.values()
    }
    shown = {block.get_attribute("id").split("-", 2)[2] for block in operations.all()}
    assert shown == operation_ids
    for info in ("Tells how alike two images are", "mobilenet_v2", "phash"):
        expect(page.locator(".information-container")).to_contain_text(info)


def test_try_it_out_compares_with_align_left_unset(
    page: Page, service: Service, offline: list[str]
) -> None:
    page.goto(service.base_url + "/docs")
    operation = page.locator(COMPARE)
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    field = operation.locator("tr[data-property-name=align] select")
    expect(field).to_have_value("")  # "--": the method decides
    operation.locator("tr[data-property-name=image_a] input[type=file]").set_input_files(
        str(require(PHOTOS / "cat.png"))
    )
    operation.locator("tr[data-property-name=image_b] input[type=file]").set_input_files(
        str(require(PHOTOS / "cat_2.png"))
    )
    operation.locator("tr[data-property-name=method] select").select_option("ssim")
    sent: list[dict[str, str]] = []

    def record(route: Route) -> None:
        sent.append(_form_fields(route.request.post_data_buffer or b""))
        route.continue_()

    page.route("**/api/v1/compare", record)
    operation.get_by_role("button", name="Execute").click()
    status = operation.locator(".live-responses-table tr.response .response-col_status")
    expect(status).to_have_text("200", timeout=60_000)
    assert len(sent) == 1 and sent[0]["method"] == "ssim"
    # Swagger sends an optional field left at "--" as an empty value, which reads as unset.
    assert sent[0].get("align", "") == ""


def _form_fields(body: bytes) -> dict[str, str]:
    """The text fields of a multipart body (file parts are left out)."""
    fields = {}
    boundary = body.split(b"\r\n", 1)[0]
    for part in body.split(boundary)[1:-1]:
        head, _, value = part.strip(b"\r\n").partition(b"\r\n\r\n")
        if b"filename=" not in head:
            name = head.split(b'name="', 1)[1].split(b'"', 1)[0].decode()
            fields[name] = value.decode()
    return fields
