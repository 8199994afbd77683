"""This checkout's throughput against an earlier revision of the service, in the same run.

A goal such as "not slower than today" is about the code, not about a figure written down on
another day: these machines drift by tens of percent between runs, so a throughput measured
in an earlier session says little about whether the code got slower. This runs both, side by
side on the same machine: the revision is checked out into a temporary git worktree and started
with this virtual environment (it must hold that revision's dependencies, which an older
revision's usually are), and the two services take turns at the same load (``bench.run``'s
throughput run: distinct pairs from 16 clients, so that no cache answers), alternating which
goes first in each round, each side's rounds pooled.

    python bench/against_revision.py 3b8314c --method mobilenet_v2
    make bench-revision REV=3b8314c METHOD=mobilenet_v2
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.run import (  # noqa: E402
    WEIGHTS,
    ImageFactory,
    base_photos,
    make_inputs,
    measured_precisions,
    pooled,
    throughput,
)
from tests.support.service import Service, running_service  # noqa: E402

WARM_REQUESTS = 16


@contextlib.contextmanager
def worktree(revision: str) -> Iterator[Path]:
    """``revision`` checked out in a temporary folder, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="isc-revision-")) / "checkout"
    subprocess.run(
        ["git", "worktree", "add", "--detach", "--quiet", str(folder), revision],
        cwd=REPO,
        check=True,
    )
    try:
        yield folder
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(folder)], cwd=REPO, check=False)


def compare_url(service: Service) -> str:
    return service.base_url + "/api/v1/compare"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("revision", help="the earlier revision (a commit, tag or branch)")
    parser.add_argument("--method", default="mobilenet_v2")
    parser.add_argument("--rounds", type=int, default=3, help="runs per side, alternating")
    parser.add_argument("--requests", type=int, default=96, help="requests per run")
    args = parser.parse_args()
    settings = {"weights_dir": str(WEIGHTS), "cnn_random_init": "true", "log_level": "warning"}
    log_dir = Path(tempfile.mkdtemp(prefix="isc-bench-revision-"))
    factory = ImageFactory(base_photos())
    with (
        worktree(args.revision) as checkout,
        running_service(log_dir, "earlier", cwd=checkout, **settings) as earlier,
        running_service(log_dir, "now", **settings) as now,
    ):
        # This checkout measures its networks' precision after start-up; the runs meet its
        # choice, as a user's requests would.
        choice = measured_precisions(now.base_url).get(args.method)
        sides = {"this checkout": now, args.revision: earlier}
        for service in sides.values():
            pairs = make_inputs(factory, WARM_REQUESTS)
            throughput(compare_url(service), "method", args.method, pairs, ("image_a", "image_b"))
        runs: dict[str, list[dict]] = {name: [] for name in sides}
        for round_number in range(args.rounds):
            order = list(sides) if round_number % 2 == 0 else list(reversed(sides))
            for name in order:
                pairs = make_inputs(factory, args.requests)
                url = compare_url(sides[name])
                runs[name].append(
                    throughput(url, "method", args.method, pairs, ("image_a", "image_b"))
                )
    results = {name: pooled(side_runs) for name, side_runs in runs.items()}
    print(f"{args.method} at 16 clients, distinct 1024x768 pairs, {args.rounds} runs each:")
    if choice is not None:
        print(f"  this checkout runs it in {choice['precision']} ({choice['chosen_by']})")
    for name, result in results.items():
        print(f"  {name}: {result['requests_per_s']:.2f} req/s (runs {result['runs']})")
    ratio = results["this checkout"]["requests_per_s"] / results[args.revision]["requests_per_s"]
    print(f"  this checkout / {args.revision}: {ratio:.2f}x")


if __name__ == "__main__":
    main()
