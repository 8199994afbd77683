"""The container files, read as text (no Docker engine here): one install, no root, and
healthchecks that wait for readiness rather than for a process that merely answers."""

from __future__ import annotations

import re

from tests.support.paths import REPO

DOCKERFILE = (REPO / "Dockerfile").read_text()
COMPOSE = (REPO / "docker-compose.yml").read_text()


def _instructions(text: str) -> list[str]:
    """Dockerfile instructions, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", text)
    return [line.strip() for line in joined.splitlines() if line.strip() and line[0] != "#"]


def _final_stage() -> list[str]:
    instructions = _instructions(DOCKERFILE)
    last_from = max(i for i, line in enumerate(instructions) if line.startswith("FROM "))
    return instructions[last_from:]


def _service(name: str) -> str:
    """One service's block of docker-compose.yml."""
    match = re.search(rf"^  {name}:\n((?:    .*\n|\n)*)", COMPOSE, re.MULTILINE)
    assert match, f"service {name} not found"
    return match.group(1)


def test_the_image_installs_the_package_once_and_holds_no_second_copy_of_the_sources() -> None:
    installs = [line for line in _instructions(DOCKERFILE) if "pip install" in line]
    assert len(installs) == 1, installs
    assert "--constraint" in installs[0]
    for line in _final_stage():
        if line.startswith("COPY") and "--from" not in line:
            assert not re.search(r"\b(api|worker|shared)\b", line), line


def test_the_image_runs_as_a_user_that_owns_the_keras_cache() -> None:
    users = [line.split()[1] for line in _final_stage() if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0"), users
    home = re.search(r"HOME=(\S+)", DOCKERFILE)
    assert home, "HOME is not set"
    assert f"mkdir -p {home.group(1)}/.keras/models" in DOCKERFILE
    assert f"chown -R {users[-1]}:{users[-1]} {home.group(1)}" in DOCKERFILE
    assert f"keras-models:{home.group(1)}/.keras/models" in _service("worker")


def test_healthchecks_wait_for_readiness() -> None:
    healthchecks = [line for line in _final_stage() if line.startswith("HEALTHCHECK")]
    assert len(healthchecks) == 1 and "/health/ready" in healthchecks[0]
    assert "/v1/health/ready" in _service("worker").split("healthcheck:")[1]
    assert "/health/ready" in _service("gateway").split("healthcheck:")[1]
