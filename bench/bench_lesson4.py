"""Benchmark: peak memory of pseudo-label training when the unlabelled set grows four times.

Run by `make bench`, or `python -m bench.bench_lesson4` from the repo root. It writes precomputed
features to a temporary folder (4,000 labelled rows, 1,000 validation rows, and 25,000 or 100,000
unlabelled rows of 2,048 float32 each: 200 MB against 800 MB), then, each in a fresh Python process,
runs lesson 4's pseudo-labelling path on them: train a head on the labelled stream, pseudo-label
the unlabelled rows (leak check and predictions, chunk by chunk), and train one epoch on batches
mixing both (`MixIterator`, a Keras PyDataset on `ArrayBatches`). The peak resident memory (VmHWM) of the x4 run must
stay within +10% of the x1 run. For contrast it also reports the same work done the way the 2017
course did it, with every array loaded into memory (information only). Always exits 0.
"""
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from bench.benchline import bench_line
from utils.arrays import ArrayWriter

ROOT = Path(__file__).resolve().parents[1]

DIM, N_LABELLED, N_VALID, N_UNLABELLED = 2048, 4000, 1000, 25_000
TARGET = 0.10
CHUNK = 5000


def write_features(path, n, seed):
    """n rows of ReLU-like float32 features, written chunk by chunk (never all in memory)."""
    rng = np.random.default_rng(seed)
    with ArrayWriter(path) as w:
        for start in range(0, n, CHUNK):
            w.append(np.maximum(rng.standard_normal((min(CHUNK, n - start), DIM), np.float32), 0))


def peak_kib():
    """Peak resident memory of this process in KiB: VmHWM, or ru_maxrss where /proc is absent."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(folder, unlabelled, naive):
    """Lesson 4's pseudo-labelling path on features from disk; prints peak memory as JSON."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from utils.env import native_logs_silenced
    with native_logs_silenced():
        import keras
    from utils.arrays import load_array
    from utils.lessons.lesson4 import mix_with_pseudo
    from utils.outofcore import ArrayBatches
    from utils.pseudo import pseudo_label
    keras.utils.set_random_seed(0)
    folder = Path(folder)
    labels = np.eye(10, dtype="float32")[np.arange(N_LABELLED) % 10]
    val_y = np.eye(10, dtype="float32")[np.arange(N_VALID) % 10]
    head = keras.Sequential([keras.Input((DIM,)), keras.layers.BatchNormalization(momentum=0.9),
                             keras.layers.Dense(64, activation="relu"),
                             keras.layers.Dense(10, activation="softmax")])
    head.compile(optimizer="adam", loss="categorical_crossentropy")
    trn = folder / "train.bc"
    val = np.asarray(load_array(folder / "valid.bc"))
    unl = folder / unlabelled
    if naive:  # the course's way: everything in memory
        x, test = load_array(trn), load_array(unl)
        head.fit(x, labels, batch_size=64, epochs=1, verbose=0, validation_data=(val, val_y))
        pseudo = head.predict(test, batch_size=256, verbose=0)
        head.fit(np.concatenate([x, test]), np.concatenate([labels, pseudo]), batch_size=64,
                 epochs=1, verbose=0, validation_data=(val, val_y))
    else:
        head.fit(ArrayBatches(trn, labels, batch_size=64), epochs=1, verbose=0,
                 validation_data=(val, val_y))
        pseudo = pseudo_label(head, unl, validation=val)
        mix = mix_with_pseudo((trn, labels), unl, pseudo, batch_size=64, pseudo_share=0.25)
        head.fit(mix, epochs=1, verbose=0, validation_data=(val, val_y))
    print(json.dumps({"peak_kib": peak_kib(), "rows": int(len(pseudo))}))


def measure(folder, unlabelled, naive=False):
    """Run one child process; returns (peak MiB, unlabelled rows)."""
    out = subprocess.run([sys.executable, "-m", "bench.bench_lesson4", "--child", str(folder), unlabelled,
                          "naive" if naive else "stream"], capture_output=True, text=True,
                         cwd=ROOT, check=False)
    if out.returncode:
        raise RuntimeError(f"child failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["peak_kib"] / 1024, result["rows"]


def main():
    tmp = Path(tempfile.mkdtemp(prefix="bench_lesson4_"))
    try:
        write_features(tmp / "train.bc", N_LABELLED, 0)
        write_features(tmp / "valid.bc", N_VALID, 1)
        write_features(tmp / "test_x1.bc", N_UNLABELLED, 2)
        write_features(tmp / "test_x4.bc", 4 * N_UNLABELLED, 3)
        (mib1, n1), (mib4, n4) = measure(tmp, "test_x1.bc"), measure(tmp, "test_x4.bc")
        bench_line("pseudo-label peak RSS growth, unlabelled x4 vs x1", mib4 / mib1 - 1, "<=",
                   TARGET, "{:+.1%}", "+{:.0%}")
        size = DIM * 4 / 2**20
        print(f"streamed from disk: {n1:,} unlabelled rows ({n1 * size:.0f} MB) peak {mib1:.0f} MiB; "
              f"{n4:,} rows ({n4 * size:.0f} MB) peak {mib4:.0f} MiB")
        naive1, _ = measure(tmp, "test_x1.bc", naive=True)
        naive4, _ = measure(tmp, "test_x4.bc", naive=True)
        print(f"for contrast, all arrays in memory as in the 2017 course: x1 peak {naive1:.0f} MiB, "
              f"x4 peak {naive4:.0f} MiB ({naive4 / naive1 - 1:+.0%})")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], sys.argv[4] == "naive")
        sys.exit(0)
    sys.exit(main())
