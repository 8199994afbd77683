"""The README stays true to the code it describes."""

from __future__ import annotations

from shared.settings import Settings
from tests.support.paths import REPO


def test_readme_documents_every_setting() -> None:
    readme = (REPO / "README.md").read_text()
    for name in Settings.model_fields:
        assert f"`ISC_{name.upper()}`" in readme, f"ISC_{name.upper()} is not in the README"


def test_ci_runs_exactly_the_readme_test_command() -> None:
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    assert "make test" in readme
    assert ci.strip().splitlines()[-1] == "make test"
