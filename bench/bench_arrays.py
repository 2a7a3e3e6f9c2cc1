"""Benchmark: utils.arrays save_array / load_array against np.save / np.load (and bcolz).

Run by `make bench`, or `python -m bench.bench_arrays` from the repo root. It writes 200 MB of
ReLU-like float32 features (shaped like VGG conv output) to a temporary folder and times each
way best of 3. The target is at least half of NumPy's speed. Always exits 0; a miss prints MISS.
"""
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.benchline import bench_line
from utils.arrays import load_array, save_array

ROOT = Path(__file__).resolve().parents[1]

TARGET = 0.5
REPEATS = 3


def best_times(fns, befores=None):
    """Best wall time of each fn over REPEATS rounds; befores[i] runs untimed ahead of fns[i].

    The calls are interleaved and their order flips every round, so neither side always
    runs first (on a cold allocator) or last (behind the other's dirty pages).
    """
    times = [[] for _ in fns]
    for round_ in range(REPEATS):
        order = list(range(len(fns)))
        if round_ % 2:
            order.reverse()
        for i in order:
            if befores:
                befores[i]()
            start = time.perf_counter()
            fns[i]()
            times[i].append(time.perf_counter() - start)
    return [min(t) for t in times]


def remove(path):
    """Delete a file or folder if present, so every save writes a fresh file."""
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def size_on_disk(path):
    """Bytes used by a file, or by all files under a folder."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def report(name, ours, theirs, baseline):
    """Print one `bench:` line: NumPy's time over ours, so above 1 means we are faster."""
    bench_line(f"{name} speed vs {baseline}", theirs / ours, ">=", TARGET, "{:.2f}x", "{}x")


def main():
    rng = np.random.default_rng(0)
    n = 200 * 2**20 // (512 * 7 * 7 * 4)  # rows of VGG conv features in 200 MB
    feats = np.maximum(rng.standard_normal((n, 512, 7, 7), dtype=np.float32), 0)
    tmp = Path(tempfile.mkdtemp(prefix="bench_arrays_"))
    try:
        npy, ours, bc = tmp / "np.npy", tmp / "ours.bc", tmp / "bcolz.bc"
        # Saves first, each into a freshly deleted name, so neither pays for truncating an old
        # file; then loads, when both files exist and sit equally in the page cache.
        t_np_save, t_save = best_times([lambda: np.save(npy, feats),
                                        lambda: save_array(ours, feats)],
                                       [lambda: remove(npy), lambda: remove(ours)])
        t_np_load, t_load = best_times([lambda: np.load(npy), lambda: load_array(ours)])
        assert np.array_equal(load_array(ours), feats)

        try:
            import bcolz  # reference only: the old course's format with its default lz4
        except ImportError:  # optional, no wheels for Python 3.13: compare with NumPy only
            bcolz = None
        if bcolz is not None:
            [t_bc_save] = best_times([lambda: bcolz.carray(feats, rootdir=str(bc),
                                                           mode="w").flush()],
                                     [lambda: remove(bc)])
            [t_bc_load] = best_times([lambda: bcolz.open(str(bc), mode="r")[:]])

        report("save_array", t_save, t_np_save, "np.save")
        report("load_array", t_load, t_np_load, "np.load")
        raw = size_on_disk(npy)
        print(f"{feats.nbytes / 2**20:.0f} MB float32 {feats.shape}, "
              f"{np.count_nonzero(feats) / feats.size:.0%} nonzero, best of {REPEATS}: "
              f"np.save {t_np_save:.3f} s, save_array {t_save:.3f} s, "
              f"np.load {t_np_load:.3f} s, load_array {t_load:.3f} s; on disk: "
              f".npy {raw / 2**20:.0f} MB, save_array {size_on_disk(ours) / 2**20:.0f} MB")
        if bcolz is not None:
            print(f"bcolz lz4 save {t_bc_save:.3f} s, load {t_bc_load:.3f} s, "
                  f"{size_on_disk(bc) / 2**20:.0f} MB on disk ({size_on_disk(bc) / raw:.0%} of raw)")
        else:
            print("bcolz is not installed (optional): no comparison with the old course's format")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
