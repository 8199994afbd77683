"""The in-flight limit: a comparison takes its slot before its body is read and keeps it until
its answer is sent; the one over the limit gets 429 at once, from the headers alone."""

from __future__ import annotations

import asyncio

import httpx

from tests.support.checks import assert_error
from tests.unit.api.conftest import (
    build_gateway,
    call_asgi,
    compare_result,
    http_scope,
    metrics_text,
    post_pair,
    run_coroutine,
)

MULTIPART = {"Content-Type": "multipart/form-data; boundary=x", "Content-Length": "300000"}


def test_a_slow_upload_holds_the_slot_and_the_next_comparison_gets_429_unread() -> None:
    gateway = build_gateway(max_inflight=1, retry_after_s=3)
    admission = gateway.app.state.admission

    async def scenario() -> None:
        uploading = asyncio.Event()
        hang_up = asyncio.Event()

        async def slow_client() -> dict:
            uploading.set()
            await hang_up.wait()
            return {"type": "http.disconnect"}

        first = asyncio.create_task(
            call_asgi(gateway.app, http_scope("/api/v1/compare", MULTIPART), slow_client)
        )
        await asyncio.wait_for(uploading.wait(), 5)
        assert admission.inflight == 1  # taken before a body byte arrived
        for path in ("/api/v1/compare", "/compare"):
            refused = await call_asgi(gateway.app, http_scope(path, MULTIPART))
            assert refused.status == 429 and not refused.body_read, refused
            assert refused.headers["retry-after"] == "3"
            assert b'"too_many_requests"' in refused.body
        # Other routes are not comparisons: they never wait for a slot.
        methods = await call_asgi(gateway.app, http_scope("/api/v1/methods", {}, "GET"))
        assert methods.status == 200
        hang_up.set()  # the slow client goes away: its slot comes back
        await first

    run_coroutine(scenario())
    assert admission.inflight == 0
    metrics = metrics_text(gateway)
    assert "isc_gateway_inflight_comparisons 0.0" in metrics
    assert 'isc_gateway_rejected_total{reason="queue_full"} 2.0' in metrics
    refused = 'isc_gateway_requests_total{method="-",route="%s",status="429"} 1.0'
    assert refused % "/api/v1/compare" in metrics and refused % "/compare" in metrics
    assert [r.url.path for r in gateway.worker.requests] == ["/v1/methods"]  # no comparison


def test_the_slot_is_held_until_the_answer_and_given_back_after_errors() -> None:
    gateway = build_gateway(max_inflight=1)
    seen: list[int] = []

    async def busy_worker(_: httpx.Request) -> httpx.Response:
        seen.append(gateway.app.state.admission.inflight)
        return httpx.Response(200, content=compare_result("ssim").model_dump_json().encode())

    gateway.worker.reply = busy_worker
    for _ in range(3):
        assert post_pair(gateway).status_code == 200
    assert seen == [1, 1, 1]
    assert_error(post_pair(gateway, b=b"not an image" * 10), 415, "unsupported_media_type")
    assert gateway.app.state.admission.inflight == 0

    async def broken_worker(_: httpx.Request) -> httpx.Response:
        raise RuntimeError("a bug, not a network failure")

    gateway.worker.reply = broken_worker
    assert_error(post_pair(gateway), 500, "internal_error")  # raised through the front door
    assert gateway.app.state.admission.inflight == 0
    gateway.worker.reply = busy_worker
    assert post_pair(gateway).status_code == 200  # the failed one gave its slot back


def test_an_upload_that_stalls_gets_408_and_its_slot_back() -> None:
    gateway = build_gateway(max_inflight=1, upload_timeout_s=0.3)
    admission = gateway.app.state.admission
    chunks = 0

    async def stalling_client() -> dict:
        nonlocal chunks
        chunks += 1
        if chunks == 1:
            return {"type": "http.request", "body": b"--x\r\n", "more_body": True}
        await asyncio.Event().wait()  # the rest never comes
        raise AssertionError("unreachable")

    answer = run_coroutine(
        call_asgi(gateway.app, http_scope("/api/v1/compare", MULTIPART), stalling_client)
    )
    assert answer.status == 408, answer
    assert b'"upload_timeout"' in answer.body and answer.headers["connection"] == "close"
    assert admission.inflight == 0
    assert post_pair(gateway).status_code == 200  # the slot is free again
    assert gateway.worker.requests[-1].url.path == "/v1/compare"
