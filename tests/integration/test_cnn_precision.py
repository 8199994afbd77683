"""Each CNN's precision, measured on this machine after start-up, is reported by the worker's
method list and the gateway's health, and is what the results say they ran in."""

from __future__ import annotations

import time

from tests.support.paths import photo
from tests.support.service import Service

MEASURING_TIMEOUT_S = 300


def _precisions(service: Service) -> dict[str, dict]:
    with service.client() as client:
        methods = client.get("/api/v1/methods").json()["methods"]
    return {m["name"]: m["precision"] for m in methods if m["precision"] is not None}


def _measured(service: Service) -> dict[str, dict]:
    deadline = time.monotonic() + MEASURING_TIMEOUT_S
    while True:
        precisions = _precisions(service)
        if precisions and all(p["chosen_by"] != "pending" for p in precisions.values()):
            return precisions
        assert time.monotonic() < deadline, f"still measuring: {precisions}"
        time.sleep(1)


def test_every_loaded_cnn_reports_its_measured_precision(service: Service) -> None:
    precisions = _measured(service)
    health = service.health()
    assert set(precisions) == set(health["models_loaded"])
    assert health["models_precision"] == precisions
    for name, report in precisions.items():
        assert report["chosen_by"] in ("measurement", "fallback"), (name, report)
        assert report["precision"] in ("float32", "bfloat16")
        assert report["batch_size"] in (1, 2, 4, 8, 16)
        if report["chosen_by"] == "measurement":
            assert report["speedup"] > 0 and report["note"]
        if report["precision"] == "bfloat16":  # only ever when it agreed and was faster
            assert report["min_cosine"] >= 0.999 and report["verdicts_unchanged"]
            assert report["speedup"] >= 1.0
    a, b = photo("dog_1.png"), photo("dog_2.png")
    with service.client() as client:
        for name, report in precisions.items():
            result = client.post(
                "/api/v1/compare",
                files={"image_a": ("a.png", a), "image_b": ("b.png", b)},
                data={"method": name},
            ).json()
            assert result["precision"] == report["precision"], (name, result.get("error"))
