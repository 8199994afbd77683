"""One HTTP status per error code, whoever raises it: our code or the framework."""

from __future__ import annotations

from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient

from shared.errors import ERROR_STATUS, ErrorCode, ServiceError
from shared.http_errors import install_error_handlers


def test_every_code_has_one_status() -> None:
    assert set(ERROR_STATUS) == set(ErrorCode)
    for code in ErrorCode:
        assert ServiceError(code, "message").status_code == ERROR_STATUS[code]


def _app_raising(status: int) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/raise")
    async def raise_it() -> None:
        raise HTTPException(status_code=status, detail="from the framework")

    return TestClient(app)


def test_framework_errors_get_the_code_of_their_status() -> None:
    for status, code in ((400, "malformed_request"), (413, "file_too_large"), (404, "not_found")):
        response = _app_raising(status).post("/raise")
        assert response.status_code == status
        assert response.json()["error"]["code"] == code


def test_a_framework_status_without_a_code_keeps_code_and_status_consistent() -> None:
    for raised in (409, 418, 502):
        response = _app_raising(raised).post("/raise")
        code = ErrorCode(response.json()["error"]["code"])
        assert response.status_code == ERROR_STATUS[code]
        assert (response.status_code >= 500) == (raised >= 500)
