"""Benchmark: memory of lesson 7's FCN training on real-size features streamed from disk.

Run by `make bench`, or `python -m bench.bench_lesson7` from the repo root. It writes synthetic
conv features of the real 360x640 photos to a temporary folder, chunk by chunk (never whole in
memory): ResNet50 cut at `conv5_block3_out` gives 12 x 20 x 2,048 float32 a photo, 1.9 MiB, and
2,100 photos make 4.1 GB, the order of Fisheries' 6 GB. Then, in a fresh Python process, it trains
lesson 7's fully convolutional head (`utils.lessons.lesson7.fcn_head`) for one epoch over all of
them through `utils.outofcore.ArrayBatches`, as the lesson does, and samples the process's
anonymous resident memory (RssAnon: what the process holds itself, not the file pages the kernel
maps and can drop) while it trains. The peak growth above the level just before `fit`, divided by
the features' size, must stay at or below 0.25. For contrast it reports the same growth when the
memory-mapped array goes to `fit` directly, on the first 1 GB (information only: Keras copies it).
Always exits 0.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.benchline import bench_line
from utils.arrays import ArrayWriter
from utils.memory import PeakSampler, rss_anon

ROOT = Path(__file__).resolve().parents[1]

SHAPE = (12, 20, 2048)  # conv5_block3_out of ResNet50 at 360x640
N_PHOTOS, CHUNK, BATCH, CLASSES = 2100, 50, 32, 8
N_CONTRAST = 512  # photos for the direct-memmap contrast: 1 GB
TARGET = 0.25


def write_features(path, n, seed=0):
    """n rows of ReLU-like float32 features, written CHUNK rows at a time."""
    rng = np.random.default_rng(seed)
    with ArrayWriter(path) as w:
        for start in range(0, n, CHUNK):
            rows = rng.standard_normal((min(CHUNK, n - start), *SHAPE), np.float32)
            w.append(np.maximum(rows, 0, out=rows))


def child(path, mode):
    """Train lesson 7's FCN head on the features at `path`; prints growth and size as JSON."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from utils.env import native_logs_silenced
    with native_logs_silenced():
        import keras
    from utils.arrays import load_array
    from utils.lessons.lesson7 import fcn_head
    from utils.outofcore import ArrayBatches
    keras.utils.set_random_seed(0)
    x = load_array(path, mmap=True)
    if mode == "direct":
        x = x[:N_CONTRAST]
    y = np.eye(CLASSES, dtype="float32")[np.arange(len(x)) % CLASSES]
    fcn = fcn_head(SHAPE, CLASSES)
    warm = ArrayBatches(x[:2 * BATCH], y[:2 * BATCH], batch_size=BATCH)
    fcn.fit(warm, epochs=1, verbose=0)  # build and trace outside the measure
    data = ArrayBatches(x, y, batch_size=BATCH) if mode == "stream" else None
    before = rss_anon()
    start = time.perf_counter()
    with PeakSampler() as peak:
        if mode == "stream":
            fcn.fit(data, epochs=1, verbose=0)  # the lesson's way
        else:
            fcn.fit(x, y, batch_size=BATCH, epochs=1, steps_per_epoch=4, verbose=0)
    print(json.dumps({"growth": peak.peak - before, "size": int(x.nbytes), "rows": len(x),
                      "seconds": time.perf_counter() - start}))


def measure(path, mode):
    """Run one child process and return its JSON result."""
    out = subprocess.run([sys.executable, "-m", "bench.bench_lesson7", "--child", str(path), mode],
                         capture_output=True, text=True, cwd=ROOT, check=False)
    if out.returncode:
        raise RuntimeError(f"child failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    if not Path("/proc/self/status").exists():
        bench_line("lesson 7 FCN training memory growth vs features size", None, "<=", TARGET,
                   note="(needs Linux's /proc to read RssAnon)")
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="bench_lesson7_"))
    try:
        start = time.perf_counter()
        write_features(tmp / "trn_large.bc", N_PHOTOS)
        written = time.perf_counter() - start
        streamed = measure(tmp / "trn_large.bc", "stream")
        bench_line("lesson 7 FCN training memory growth vs features size",
                   streamed["growth"] / streamed["size"], "<=", TARGET, "{:.3f}x", "{}x")
        print(f"{streamed['rows']:,} photos of {SHAPE} float32 features, {streamed['size'] / 1e9:.2f}"
              f" GB written in {written:.0f} s; one epoch streamed in {streamed['seconds']:.0f} s, "
              f"anonymous memory +{streamed['growth'] / 2**20:.0f} MiB")
        direct = measure(tmp / "trn_large.bc", "direct")
        print(f"for contrast, the memmap handed to fit directly ({direct['size'] / 1e9:.2f} GB, 4 "
              f"steps): anonymous memory +{direct['growth'] / 2**20:.0f} MiB = "
              f"{direct['growth'] / direct['size']:.2f}x the features: Keras copies them")
    except (OSError, RuntimeError) as err:
        bench_line("lesson 7 FCN training memory growth vs features size", None, "<=", TARGET,
                   note=f"({err})")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
        sys.exit(0)
    sys.exit(main())
