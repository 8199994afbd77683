"""The embedding study (``make embedding-study``) runs end to end on a small subset, and the
service uses the recipe its full run chose."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support.paths import MOBILENET_V2_WEIGHTS, PHOTOS, REPO, SHARED, require
from worker.methods.cnn.embedding import CANONICAL
from worker.methods.cnn.features import POOLINGS

FLOWERS = SHARED / "eval" / "flowers-dev"
BASELINE = "plain-224 / avg"


def test_the_study_runs_on_a_subset_and_reports_every_candidate(tmp_path) -> None:
    out, tables = tmp_path / "study.json", tmp_path / "study.md"
    command = [
        sys.executable,
        str(REPO / "tools" / "embedding_study.py"),
        "--flowers",
        str(require(FLOWERS)),
        "--photos",
        str(require(PHOTOS)),
        "--weights",
        str(require(MOBILENET_V2_WEIGHTS).parent),
        "--species",
        "4",
        "--per-species",
        "4",
        "--bootstrap",
        "200",
        "--out",
        str(out),
        "--markdown",
        str(tables),
    ]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-3000:]
    document = json.loads(out.read_text())
    assert document["sets"]["flowers-dev"] == {"images": 16, "queries": 16}
    assert document["sets"]["photos"]["queries"] == 9  # cat x3, dog x2, hot dog x4
    # The networks without weights here are named as skipped, not silently left out.
    assert set(document["results"]) | set(document["skipped"]) == {
        "mobilenet_v2",
        "vgg16",
        "resnet50",
    }
    result = document["results"]["mobilenet_v2"]
    rows = {row["candidate"]: row for row in result["rows"]}
    assert BASELINE in rows
    assert len(rows) == len({row["preparation"] for row in rows.values()}) * len(POOLINGS)
    baseline = rows[BASELINE]
    assert baseline["forward_passes"] == 1
    assert baseline["flowers-dev"]["map_vs_baseline"] == 0.0
    for row in rows.values():
        for name in ("flowers-dev", "photos"):
            scores = row[name]
            assert 0.0 < scores["map"] <= 1.0 and 0.0 <= scores["p_at_9"] <= 1.0
            low, high = scores["map_vs_baseline_95"]
            assert low <= scores["map_vs_baseline"] <= high
    chosen = [row for row in rows.values() if row["chosen"]]
    assert len(chosen) == 1 and chosen[0]["candidate"] == result["chosen"]
    assert chosen[0]["forward_passes"] <= result["max_forward_passes"] == 1
    assert isinstance(result["goal_reached"], bool)
    table = tables.read_text()
    assert "| candidate | passes |" in table and f"{BASELINE} (baseline)" in table
    assert f"**{result['chosen']}**" in table


def test_the_service_uses_the_recipe_the_full_study_chose() -> None:
    document = json.loads((REPO / "docs" / "embedding_study.json").read_text())
    chosen = document["results"]["mobilenet_v2"]["chosen"]
    assert chosen == f"{CANONICAL.preparation.label} / {CANONICAL.pooling}"
    assert document["service_uses"] == chosen
    assert document["sets"]["flowers-dev"] == {"images": 160, "queries": 160}
