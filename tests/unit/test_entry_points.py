"""The two entry points: ``--help`` prints every setting and exits without serving; a real start
configures the process before the app serves."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from starlette.formparsers import MultiPartParser

from shared.cli import format_default
from shared.settings import Settings
from tests.support.paths import REPO, in_ci
from tests.support.service import free_port

HELP_TIMEOUT_S = 30  # a server that started would still be running: the call times out


def _help_commands() -> list[list[str]]:
    commands = [[sys.executable, "-m", "api"], [sys.executable, "-m", "worker"]]
    scripts = Path(sys.executable).parent
    commands += [[str(scripts / name)] for name in ("isc-gateway", "isc-worker")]
    return commands


@pytest.mark.parametrize("command", _help_commands(), ids=lambda command: command[-1])
def test_help_lists_every_setting_and_exits_without_serving(command: list[str]) -> None:
    if not Path(command[0]).exists():
        # `make test` installs the package, scripts included: missing there, they are gone
        # from pyproject.toml, which must fail the run rather than skip the check.
        message = f"{command[0]} is not installed (pip install -e .)"
        if in_ci():
            pytest.fail(f"{message}; CI ran `make test`, which installs it", pytrace=False)
        pytest.skip(message)
    port = free_port()
    env = {**os.environ, "ISC_PORT": str(port), "ISC_WORKER_PORT": str(port)}
    done = subprocess.run(
        [*command, "--help"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=HELP_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stderr
    assert "Uvicorn running" not in done.stdout + done.stderr
    text = " ".join(done.stdout.split())  # descriptions are wrapped over lines
    for name, field in Settings.model_fields.items():
        assert f"ISC_{name.upper()}" in text
        assert " ".join((field.description or "").split()) in text, name
        default = field.default if field.default_factory is None else field.default_factory()
        assert f"(default: {format_default(default)})" in text, name


@pytest.mark.parametrize("package", ["api", "worker"])
def test_help_loads_no_model_code(package: str) -> None:
    probe = (
        "import runpy, sys\n"
        f"sys.argv = ['{package}', '--help']\n"
        "try:\n"
        f"    runpy.run_module('{package}', run_name='__main__')\n"
        "except SystemExit as exit:\n"
        "    assert exit.code in (0, None), exit.code\n"
        "loaded = sorted(m for m in ('tensorflow', 'keras') if m in sys.modules)\n"
        "print('LOADED', loaded)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=HELP_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stderr
    assert "LOADED []" in done.stdout


def test_gateway_start_configures_the_process_before_serving(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import api.__main__ as gateway_main
    from shared.settings import get_settings

    served: dict = {}
    monkeypatch.setattr(
        gateway_main.uvicorn,
        "run",
        lambda app, **options: served.update(
            spool=MultiPartParser.spool_max_size, pixels=Image.MAX_IMAGE_PIXELS, **options
        ),
    )
    monkeypatch.setenv("ISC_MAX_UPLOAD_BYTES", "7000000")
    monkeypatch.setenv("ISC_MAX_DECLARED_PIXELS", "7654321")
    monkeypatch.setattr(MultiPartParser, "spool_max_size", MultiPartParser.spool_max_size)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)
    get_settings.cache_clear()
    try:
        gateway_main.main([])
    finally:
        get_settings.cache_clear()
    assert served["spool"] > 7_000_000
    assert served["pixels"] == 7654321  # Pillow's guard at the declared-size limit
    assert served["port"] == 8000


def test_worker_start_configures_the_process_before_serving(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import worker.__main__ as worker_main
    from shared.settings import get_settings

    served: dict = {}
    monkeypatch.setattr(
        worker_main.uvicorn,
        "run",
        lambda app, **options: served.update(pixels=Image.MAX_IMAGE_PIXELS, **options),
    )
    monkeypatch.setenv("ISC_MAX_DECLARED_PIXELS", "7654321")
    monkeypatch.setenv("ISC_CNN_METHODS", "")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)
    get_settings.cache_clear()
    try:
        worker_main.main(["--port", "8123"])
    finally:
        get_settings.cache_clear()
    assert served["pixels"] == 7654321
    assert (served["host"], served["port"]) == ("127.0.0.1", 8123)
