"""The API's own documentation: its description, and a Swagger UI page that works offline.

The service is meant for machines without internet access, where FastAPI's default ``/docs``
(Swagger UI from a public CDN) is a blank page; here the page's scripts and styles come from
the ``swagger-ui-bundle-v2`` package and are served by the service itself.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from shared.methods import ALL_METHODS, METHOD_INFO

DOCS_URL = "/docs"
ASSETS_URL = "/docs-assets"
TITLE = "Image Similarity Checker"

# Swagger UI's own defaults would fetch a validator badge from a public host; nothing here may.
SWAGGER_UI_PARAMETERS = {"validatorUrl": None}


def api_description() -> str:
    """The text at the top of the docs; the method list is the registry's, so it stays whole."""
    methods = "\n".join(
        f"* **{info.name}** ({info.title}, {info.family}): {info.description}"
        for info in METHOD_INFO.values()
    )
    return f"""
Tells how alike two images are, where they differ, and why.

Methods, for the `method` field of `POST /api/v1/compare` (`GET /api/v1/methods` says which
can run now):

{methods}
* **{ALL_METHODS}**: every available method on the pair at once, with a summary of where they
  agree and where they disagree.

Every error has the body `{{"error": {{"code", "message", "detail"}}}}`.
"""


def install_docs(app: FastAPI) -> None:
    """Serve Swagger UI at ``/docs`` with its assets under ``/docs-assets``, all from here."""
    app.mount(ASSETS_URL, StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{TITLE} - API documentation",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon-32x32.png",
            swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
        )
