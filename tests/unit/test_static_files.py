"""The page's files are revalidated on every use, so an upgrade never mixes old and new modules."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.app import create_app
from tests.support.paths import REPO


def test_page_modules_must_be_revalidated_and_cost_a_304_when_unchanged() -> None:
    client = TestClient(create_app())  # no lifespan: no worker is needed for static files
    modules = sorted(path.name for path in (REPO / "web" / "js").glob("*.js"))
    assert modules, "the page's ES modules are missing"
    for path in ["/static/app.js", "/static/style.css", *(f"/static/js/{m}" for m in modules)]:
        first = client.get(path)
        assert first.status_code == 200, path
        assert first.headers["cache-control"] == "no-cache", path
        again = client.get(path, headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304, path
    assert client.get("/").headers["cache-control"] == "no-cache"
