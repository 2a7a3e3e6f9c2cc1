"""Benchmark: how long the two lanes of tests take, as a newcomer meets them.

In a fresh clone of HEAD (committed work only), with pip's cache off so every package is fetched and
installed as on a new machine, it times README's `make test` (the virtual env included), then
`make check` in the same clone (its venv now made). Targets, on 2 cores: `make test` at most 900 s,
`make check` at most 180 s. A failing run is a MISS with its last lines shown.

Run by `make bench-suite`, or `python -m bench.suite` from the repo root; it is apart from
`make bench`, whose 30 minutes it would take half of. Always exits 0.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.benchline import bench_line

ROOT = Path(__file__).resolve().parents[1]
TEST_TARGET_S, CHECK_TARGET_S = 900, 180


def timed_make(target, clone, env):
    """Seconds `make target` took in clone, or None when it failed (its tail is printed)."""
    start = time.perf_counter()
    run = subprocess.run(["make", target], cwd=clone, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if run.returncode != 0:
        # pytest's summary of what failed ends stdout; pip's build warnings can fill stderr's end
        print(f"bench-suite: make {target} failed (exit {run.returncode}):",
              *run.stdout.splitlines()[-30:], "(standard error, its end:)",
              *run.stderr.splitlines()[-10:], sep="\n  ")
        return None
    return seconds


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.suite",
                                     description="Time make test and make check in a fresh clone.")
    parser.add_argument("--repo", default=str(ROOT), help="the repository to clone (default: this one)")
    repo = parser.parse_args(argv).repo
    env = {**os.environ, "PIP_NO_CACHE_DIR": "1"}
    env.pop("VIRTUAL_ENV", None)  # the clone makes and uses its own .venv
    with tempfile.TemporaryDirectory(prefix="dl1-kit-suite-") as scratch:
        clone = Path(scratch) / "dl1-kit"
        subprocess.run(["git", "clone", "--quiet", repo, str(clone)], check=True)
        test_s = timed_make("test", clone, env)
        check_s = timed_make("check", clone, env) if test_s is not None else None
    bench_line("make test, fresh clone, venv included (s)", test_s, "<=", TEST_TARGET_S, "{:.0f}")
    bench_line("make check (s)", check_s, "<=", CHECK_TARGET_S, "{:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
