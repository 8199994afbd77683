"""The worker's answer reaches the client byte for byte, with only the gateway's total_ms
written into the placeholder the worker left, and the times in a Server-Timing header."""

from __future__ import annotations

import json
import logging
import re

import pytest

from api.worker_answer import WorkerAnswer
from shared.schemas import CompareAllResult, CompareResult
from tests.unit.api.conftest import Gateway, compare_all_result, compare_result, post_pair


def _without_total(body: bytes) -> bytes:
    """The body with the top-level total_ms back to the worker's placeholder."""
    head, _, tail = body.rpartition(b'"total_ms": ')
    number = re.match(rb"[0-9.]+", tail)
    assert number, tail[:20]
    return head + b'"total_ms": null' + tail[number.end() :]


@pytest.mark.parametrize("method", ["ssim", "all"])
def test_the_worker_answer_is_passed_through_with_total_ms_written_in(
    gateway: Gateway, method: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="isc.access")
    response = post_pair(gateway, method)
    assert response.status_code == 200, response.text
    (worker_body,) = gateway.worker.answers
    # Untouched: the worker's own spacing survives, which a parse and re-serialise would lose.
    assert _without_total(response.content) == worker_body
    assert response.headers["content-length"] == str(len(response.content))
    body = response.json()
    worker_ms = body["timings"]["worker_ms"]
    assert body["timings"]["total_ms"] > 0
    if method == "all":  # the per-method results keep their placeholder
        assert [r["timings"]["total_ms"] for r in body["results"]] == [None, None]
    timing = response.headers["server-timing"]
    gateway_part, worker_part = timing.split(", ")
    assert gateway_part.startswith("gateway;dur=")
    assert float(gateway_part.split(";")[1][4:]) == pytest.approx(body["timings"]["total_ms"])
    assert worker_part.startswith(f"worker;dur={worker_ms:.3f}")
    line = next(
        r.getMessage() for r in caplog.records if '"route":"/api/v1/compare"' in r.getMessage()
    )
    assert json.loads(line)["worker_ms"] == worker_ms


@pytest.mark.parametrize(
    "result", [compare_result("pixel", worker_ms=33.25), compare_all_result(worker_ms=71.5)]
)
def test_the_tail_of_the_real_workers_json_is_found_and_the_head_is_not_copied(
    result: CompareResult | CompareAllResult,
) -> None:
    body = result.model_dump_json().encode()  # exactly what the worker sends
    answer = WorkerAnswer.from_body(body)
    assert answer.worker_ms == result.timings.worker_ms
    head, tail = answer.chunks(12.5)
    assert isinstance(head, memoryview) and head.obj is body  # a view, no copy
    assert len(tail) < 400
    patched = json.loads(bytes(head) + tail)
    assert patched["timings"]["total_ms"] == 12.5
    patched["timings"]["total_ms"] = None
    assert patched == json.loads(body)


def test_an_answer_without_the_placeholder_is_passed_on_as_it_is() -> None:
    body = compare_result("ssim").model_dump_json().replace('"total_ms":null', '"total_ms":5.0')
    answer = WorkerAnswer.from_body(body.encode())
    assert answer.worker_ms is None and answer.chunks(1.0) == [body.encode()]
