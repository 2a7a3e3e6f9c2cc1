"""Benchmark: how many of the lessons' claimed effects the stand-ins show, on seeds 2 and 3.

Run by `make bench`, or `python bench/bench_claims.py` from the repo root. Each row of
`utils/claims`, those known not to hold on the stand-ins (MISSES) included, is measured on the
bench's seeds with its negative control, printed with its figures and margin, and counted.
Always exits 0.
"""
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# Stand-ins are written to scratch space, as in the tests, so the bench never touches data/.
os.environ.setdefault("DL1_DATA", tempfile.mkdtemp(prefix="dl1-bench-claims-"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from bench.benchline import bench_line  # noqa: E402
from utils import claims  # noqa: E402


def main():
    results = []
    for claim in claims.claims(misses=True):
        result = claims.measure(claim, claims.BENCH_SEEDS)
        print(result.line(), flush=True)
        results.append(result)
    failing = [f"{r.claim.key} (margin {r.margin:+.4f}" + (
        f", control {r.control_margin:+.4f})" if r.control else ")")
        for r in results if not r.holds]
    n = len(results)
    bench_line("lessons' claimed effects shown on stand-ins", sum(r.holds for r in results),
               ">=", n, fmt="{} of " + str(n), target_fmt="{} of " + str(n),
               note=("failing: " + "; ".join(failing)) if failing else "")


if __name__ == "__main__":
    main()
