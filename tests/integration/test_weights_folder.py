"""A weights folder that does not exist is named in the worker's log at start-up, and only
there: the API says which file is missing and what to do, never a server path."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.paths import WEIGHTS, WHERE_TO_PUT_IT
from tests.support.service import Service, running_service


def test_a_missing_weights_folder_is_named_in_the_log_not_in_the_api(
    log_dir: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-weights-folder"
    with running_service(
        log_dir, "missing-weights-folder", weights_dir=str(missing), cnn_methods="mobilenet_v2"
    ) as service:
        with service.client() as client:
            methods = client.get("/api/v1/methods").text
            health = client.get("/health").text
        log = service.log_path.read_text(errors="replace")
    warning = next(
        (line for line in log.splitlines() if "ISC_WEIGHTS_DIR" in line and str(missing) in line),
        None,
    )
    assert warning is not None, log[-3000:]
    assert "WARNING" in warning and "does not exist" in warning
    assert log.count("does not exist") == 1  # once, however many networks look there
    for answer in (methods, health):
        assert "no-such-weights-folder" not in answer and str(tmp_path) not in answer
    assert "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5" in methods


def test_an_existing_weights_folder_gets_no_warning(service: Service) -> None:
    """The suite's main service, pointed at the shared weights folder."""
    if not WEIGHTS.is_dir():
        pytest.skip(WHERE_TO_PUT_IT)
    assert "ISC_WEIGHTS_DIR" not in service.log_path.read_text(errors="replace")
