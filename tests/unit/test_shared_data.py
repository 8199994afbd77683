"""Missing shared test data fails a CI run and is a skip with directions elsewhere.

Each case runs pytest itself, in a subprocess, on one published-SSIM test with ISC_SHARED_DIR
pointed at a folder without (all of) the data.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.paths import MOBILENET_V2_WEIGHTS, REPO

ONE_DATA_TEST = "tests/unit/test_ssim.py::test_reproduces_the_authors_published_einstein_values"


def _pytest(shared: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    env["ISC_SHARED_DIR"] = str(shared)
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", ONE_DATA_TEST],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_without_ci_missing_data_skips_and_says_where_to_put_it(tmp_path: Path) -> None:
    run = _pytest(tmp_path, ci=None)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "5 skipped" in run.stdout
    assert "ISC_SHARED_DIR" in run.stdout
    assert str(REPO.parent / "shared") in run.stdout


def test_under_ci_missing_data_stops_the_run_before_any_test(tmp_path: Path) -> None:
    run = _pytest(tmp_path, ci="true")
    assert run.returncode != 0
    output = run.stdout + run.stderr
    assert "CI is set and test data is missing" in output
    assert str(tmp_path / "eval" / "ssim-einstein") in output
    assert "ISC_SHARED_DIR" in output
    assert "passed" not in output and "skipped" not in output


def test_under_ci_a_missing_file_fails_its_test(tmp_path: Path) -> None:
    """The folders are there but a file one test reads is not: that test fails, not skips."""
    (tmp_path / "eval" / "ssim-einstein").mkdir(parents=True)
    (tmp_path / "eval" / "photos").mkdir()
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / MOBILENET_V2_WEIGHTS.name).touch()
    run = _pytest(tmp_path, ci="true")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "5 failed" in run.stdout
    assert "einstein.gif" in run.stdout
    assert "missing data fails the run" in run.stdout
