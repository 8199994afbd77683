"""The ``isc`` command run as a subprocess (the installed entry point) against the real
service on real photos: output, JSON, heatmap file and the exit codes a CI pipeline acts on."""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PIL import Image

from shared.schemas import CompareAllResult, CompareResult
from tests.support.paths import PHOTOS, require
from tests.support.service import Service, free_port

ISC = Path(sys.executable).parent / "isc"


def isc(*args: str | Path, url: str | None = None, **env: str) -> subprocess.CompletedProcess:
    """Run ``isc`` with ``--url`` (when given) appended, ISC_* variables from ``env``."""
    assert ISC.exists(), f"{ISC} missing: make test installs the client (pip install -e ./client)"
    environment = {k: v for k, v in os.environ.items() if k not in ("ISC_URL", "ISC_API_KEY")}
    command = [str(ISC), *map(str, args), *(["--url", url] if url else [])]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=120,
        env={**environment, "COLUMNS": "200", **env},
        check=False,
    )


@pytest.fixture(scope="module")
def cats() -> tuple[Path, Path]:
    return require(PHOTOS / "cat.png"), require(PHOTOS / "cat_2.png")


def test_compare_prints_score_verdict_and_explanation(service: Service, cats) -> None:
    done = isc("compare", *cats, "--method", "SSIM", url=service.base_url)
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0]
    assert first.startswith("ssim  score 0.") and "%" in first
    assert len(done.stdout) > 200  # the explanation follows


def test_json_parses_into_the_schema_and_fail_under_sets_exit_1(service: Service, cats) -> None:
    done = isc("compare", *cats, "--method", "ms_ssim", "--json", url=service.base_url)
    assert done.returncode == 0, done.stderr
    result = CompareResult.model_validate_json(done.stdout)
    assert result.method.value == "ms_ssim" and result.heatmap is None  # numbers only
    score = result.score
    below = isc(
        "compare",
        *cats,
        "-m",
        "ms_ssim",
        "--fail-under",
        f"{score + 0.01:.4f}",
        url=service.base_url,
    )
    at = isc("compare", *cats, "-m", "ms_ssim", "--fail-under", str(score), url=service.base_url)
    assert below.returncode == 1 and "below --fail-under" in below.stderr
    assert at.returncode == 0, at.stderr


def test_method_all_as_json_and_as_a_table(service: Service, cats) -> None:
    done = isc("compare", *cats, "--method", "all", "--json", url=service.base_url)
    assert done.returncode == 0, done.stderr
    result = CompareAllResult.model_validate_json(done.stdout)
    table = isc("compare", *cats, "--method", "all", url=service.base_url)
    assert table.returncode == 0, table.stderr
    assert table.stdout.startswith(result.summary[:40])
    for each in result.results:
        assert f"{each.score:.4f}" in table.stdout


def test_heatmap_is_written_as_a_real_image(service: Service, cats, tmp_path: Path) -> None:
    out = tmp_path / "diff.png"
    done = isc("compare", *cats, "-m", "pixel", "--heatmap", out, "--json", url=service.base_url)
    assert done.returncode == 0, done.stderr
    result = CompareResult.model_validate_json(done.stdout)
    with Image.open(out) as heatmap:
        assert heatmap.format == "PNG"
        assert heatmap.size == (result.image_a.width, result.image_a.height)
    jpeg = tmp_path / "diff.jpg"
    assert isc("compare", *cats, "--heatmap", jpeg, url=service.base_url).returncode == 0
    with Image.open(jpeg) as heatmap:
        assert heatmap.format == "JPEG"


def test_url_from_the_environment_methods_and_health(service: Service) -> None:
    methods = isc("methods", "--json", ISC_URL=service.base_url)
    health = isc("health", ISC_URL=service.base_url)
    assert methods.returncode == 0 and '"ssim"' in methods.stdout
    assert health.returncode == 0 and health.stdout.startswith("status ok, worker ready")


def test_unreachable_or_refusing_service_exits_3(service: Service, cats, tmp_path: Path) -> None:
    nowhere = isc("compare", *cats, url=f"http://127.0.0.1:{free_port()}")
    assert nowhere.returncode == 3 and "no answer from" in nowhere.stderr
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    refused = isc("compare", cats[0], text, url=service.base_url)
    assert refused.returncode == 3 and "the service refused (4" in refused.stderr


def test_another_server_at_the_address_exits_3(cats, tmp_path: Path) -> None:
    """A real HTTP server that is not the service: 200 with a web page, 404, 501."""
    (tmp_path / "health").write_text("<html>not the service</html>")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}"
        page, missing, refused = (
            isc("health", url=url),
            isc("methods", url=url),
            isc("compare", *cats, url=url),
        )
        server.shutdown()
    assert page.returncode == 3 and "is the address that of the service?" in page.stderr
    assert missing.returncode == 3 and "refused (404" in missing.stderr
    assert refused.returncode == 3 and "refused (501" in refused.stderr


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory, cats) -> tuple[Path, Path]:
    """A lossless photo and the same with a 12x10 red box painted at (100, 50): a screenshot
    and its regression, pixel for pixel known."""
    folder = tmp_path_factory.mktemp("screenshots")
    with Image.open(cats[0]) as image:
        before = image.convert("RGB")
    after = before.copy()
    after.paste((230, 20, 20), (100, 50, 112, 60))
    before.save(folder / "before.png")
    after.save(folder / "after.png")
    return folder / "before.png", folder / "after.png"


def test_screenshot_check_fails_with_exit_1_and_writes_the_diff(
    service: Service, screenshots, tmp_path: Path
) -> None:
    diff = tmp_path / "diff.png"
    done = isc(
        "compare", *screenshots, "-m", "pixel", "--max-changed-pixels", "0",
        "--diff", diff, "--json", url=service.base_url,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "screenshot check failed: 1 region changed" in done.stderr
    check = CompareResult.model_validate_json(done.stdout).screenshot
    assert check is not None and check.passed is False and check.region_count == 1
    box = check.regions[0]
    assert (box.x, box.y, box.width, box.height) == (100, 50, 12, 10)
    with Image.open(diff) as image, Image.open(screenshots[0]) as before:
        assert image.format == "PNG" and image.size == before.size


def test_screenshot_check_passes_with_the_change_ignored(service: Service, screenshots) -> None:
    done = isc(
        "compare", *screenshots, "-m", "pixel", "--max-changed-pixels", "0",
        "--ignore", "96,46,20,20", url=service.base_url,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "screenshot check passed: 0 changed pixels" in done.stdout


def test_usage_errors_exit_2(service: Service, cats, tmp_path: Path) -> None:
    usages = [
        ("compare", *cats, "--method", "sift"),
        ("compare", cats[0], tmp_path / "missing.png"),
        ("compare", *cats, "--method", "all", "--fail-under", "0.5"),
        ("compare", *cats, "--heatmap", tmp_path / "out.gif"),
        ("compare", *cats, "--heatmap", tmp_path / "no-such-folder" / "out.png"),
        ("compare", cats[0]),
        ("compare", *cats, "-m", "pixel", "--ignore-regions", "1,2,3"),
        ("compare", *cats, "-m", "ssim", "--max-changed-pixels", "0"),
        ("compare", *cats, "-m", "pixel", "--diff-image", tmp_path / "diff.jpg"),
    ]
    for args in usages:
        done = isc(*args, url=service.base_url)
        assert done.returncode == 2, (args, done.stdout, done.stderr)


def test_dedup_report_must_be_json_csv_or_html(tmp_path: Path) -> None:
    """Refused before anything is indexed (no service listens at the address: reaching for it
    would exit 3): a usage error that names the formats it takes."""
    nobody = f"http://127.0.0.1:{free_port()}"
    pdf = isc("dedup", tmp_path, "--report", tmp_path / "groups.pdf", url=nobody)
    assert pdf.returncode == 2, (pdf.stdout, pdf.stderr)
    assert "the file must end in .csv or .htm or .html or .json" in pdf.stderr
    assert not (tmp_path / "groups.pdf").exists()
    missing = isc("dedup", tmp_path, "--report", tmp_path / "nowhere" / "report.html", url=nobody)
    assert missing.returncode == 2 and "does not exist" in missing.stderr, missing.stderr
