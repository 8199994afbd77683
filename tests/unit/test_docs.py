"""The documentation (README, API description, /docs, package metadata) stays true to the code."""

from __future__ import annotations

import re
import tomllib

from fastapi.testclient import TestClient

from api.app import create_app
from shared.methods import ALL_METHODS, METHOD_INFO, MethodFamily
from shared.settings import Settings
from tests.support.paths import REPO


def test_readme_documents_every_setting() -> None:
    readme = (REPO / "README.md").read_text()
    for name in Settings.model_fields:
        assert f"`ISC_{name.upper()}`" in readme, f"ISC_{name.upper()} is not in the README"


def test_ci_runs_exactly_the_readme_test_command() -> None:
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    assert "make test" in readme
    assert ci.strip().splitlines()[-1] == "make test"


def test_the_api_description_lists_every_method_of_the_registry() -> None:
    description = create_app().openapi()["info"]["description"]
    for info in METHOD_INFO.values():
        assert f"**{info.name}** ({info.title}, {info.family}): {info.description}" in description
    assert f"**{ALL_METHODS}**" in description


def test_the_form_fields_name_every_method_and_each_align_default() -> None:
    schemas = create_app().openapi()["components"]["schemas"]
    fields = schemas["Body_compare_api_v1_compare_post"]["properties"]
    legacy = schemas["Body_compare_legacy_compare_post"]["properties"]
    aligned_default = fields["align"]["description"].split("Default: on for ")[1].split(", off")[0]
    for info in METHOD_INFO.values():
        assert re.search(rf"\b{info.name}\b", fields["method"]["description"]), info.name
        assert re.search(rf"\b{info.name}\b", legacy["model"]["description"]), info.name
        assert (info.name.value in aligned_default.split(", ")) == info.aligns_by_default
    assert ALL_METHODS in fields["method"]["description"]


def test_the_package_description_names_every_method_family() -> None:
    description = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["description"]
    for family in MethodFamily:
        assert family.value in description, f"{family} is missing from {description!r}"


def test_the_docs_page_loads_everything_from_the_service_itself() -> None:
    client = TestClient(create_app())  # no lifespan: the page needs no worker
    page = client.get("/docs")
    assert page.status_code == 200
    urls = re.findall(r"""(?:src|href)="([^"]*)"|url: '([^']*)'""", page.text)
    urls = [src or url for src, url in urls]
    assert len(urls) == 4  # script, style, icon and the OpenAPI document
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
        assert client.get(url).status_code == 200, url
    script = next(url for url in urls if url.endswith(".js"))
    assert "SwaggerUIBundle" in client.get(script).text
    assert client.get("/redoc").status_code == 404  # ReDoc would need a CDN
