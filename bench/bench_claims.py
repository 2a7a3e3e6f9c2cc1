"""Benchmark: how many of the lessons' claimed effects the stand-ins show on the bench's seeds,
and each row's power: the chance, estimated from those seeds' gains, that the tests' rule finds it.

Run by `make bench`, or `python -m bench.bench_claims` from the repo root. Each row of
`utils/claims`, those known not to hold on the stand-ins (MISSES) included, is measured on
BENCH_SEEDS and printed with its figures, mean gain and margin; then one line counts the rows
that hold, and one line per asserted row gives its estimated power against POWER_TARGET (a row
below it may fail the tests on other numerics: another Python, numpy or TensorFlow build).
Always exits 0.
"""
import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
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
    failing = [f"{r.claim.key} (margin {r.margin:+.4f})" for r in results if not r.holds]
    n = len(results)
    bench_line("lessons' claimed effects shown on stand-ins", sum(r.holds for r in results),
               ">=", n, fmt="{} of " + str(n), target_fmt="{} of " + str(n),
               note=("failing: " + "; ".join(failing)) if failing else "")
    asserted = claims.claims()
    for r in results:
        if r.claim in asserted:
            bench_line(f"power of the tests' rule for {r.claim.key} (estimated on seeds "
                       f"{', '.join(map(str, r.seeds))})", r.power(), ">=", claims.POWER_TARGET,
                       fmt="{:.3f}")


if __name__ == "__main__":
    main()
