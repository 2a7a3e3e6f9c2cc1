"""Benchmark: utils.images.get_batches against a bare tf.data loop and the legacy generator.

Run by `make bench`, or `python bench/bench_images.py` from the repo root. It writes 1,600
seeded JPEGs shaped like Kaggle's dogs-vs-cats photos (about 400x350 px, sizes varied, smooth
shapes under grain so they weigh 20-40 KB and decode like photos) into `train/cats` and
`train/dogs` of a temporary folder, then times one full pass at 224x224, batch 64, labels
included and no augmentation, for each of:

  get_batches   utils.images.get_batches(train, shuffle=True), iterated to the end;
  bare tf.data  from_tensor_slices((paths, one-hot labels)) -> map(read_file, decode_jpeg,
                resize, AUTOTUNE) -> batch(64) -> prefetch(AUTOTUNE), iterated to the end;
  legacy        ImageDataGenerator().flow_from_directory(train, (224, 224), batch_size=64)
                from tensorflow.keras.preprocessing.image, len(iterator) batches.

Each is built once, outside the timing (get_batches' build screens every file for corruption
up front; its time is reported on its own line), warmed up by one untimed pass, then timed best
of REPEATS passes, interleaved with the order flipped each round. Every way reads the same
files from the same warm page cache, at the same size and batch, each with its own default
resize (bilinear for tf.data, nearest for the legacy generator, its cheaper one). The targets:
get_batches at least 0.9x the bare loop's images/second, and at least 10x the legacy one's.
An informative line (not a target) compares get_batches(augment=True) with the legacy generator
under the course's augmentation over the first AUG_BATCHES batches, best of AUG_REPEATS after a
one-batch warm-up. Always exits 0; a miss prints MISS.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow loads

import contextlib
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


@contextlib.contextmanager
def quiet_stderr():
    """Send file descriptor 2 to /dev/null for a while: TF 2.21 logs a few lines through absl
    that TF_CPP_MIN_LOG_LEVEL does not stop (oneDNN, no CUDA drivers, cuInit) as it starts."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


with quiet_stderr():
    import tensorflow as tf
    import keras  # noqa: F401  (loaded here so its import chatter is silenced too)
    tf.constant(0)  # starts the runtime, which logs a failed cuInit on machines without a GPU

from utils.images import get_batches  # noqa: E402

N_IMAGES = 1600  # 25 full batches of 64, split evenly between two classes
SIZE = (224, 224)
BATCH = 64
REPEATS = 4  # the machine may be shared: more rounds give each way a quiet one
AUG_REPEATS = 2
AUG_BATCHES = 4
TARGETS = {"bare tf.data": 0.9, "legacy ImageDataGenerator": 10}
COURSE_AUGMENTATION = dict(rotation_range=10, width_shift_range=0.1, height_shift_range=0.1,
                           zoom_range=0.1, horizontal_flip=True)


def write_images(root, n=N_IMAGES, classes=("cats", "dogs"), seed=0):
    """Seeded photo-like JPEGs in class subfolders: bicubic blobs plus grain, varied sizes."""
    rng = np.random.default_rng(seed)
    grain = rng.normal(0, 1, (600, 600, 3)).astype(np.float32)
    for i in range(n):
        folder = root / classes[i % len(classes)]
        folder.mkdir(parents=True, exist_ok=True)
        w, h = int(rng.integers(300, 501)), int(rng.integers(250, 451))
        cells = rng.integers(0, 256, (int(rng.integers(4, 12)), int(rng.integers(4, 12)), 3),
                             dtype=np.uint8)
        img = np.asarray(Image.fromarray(cells).resize((w, h), Image.BICUBIC), np.float32)
        x, y = int(rng.integers(0, 600 - w + 1)), int(rng.integers(0, 600 - h + 1))
        img += grain[y:y + h, x:x + w] * float(rng.uniform(6, 16))
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(
            folder / f"{classes[i % len(classes)][:-1]}.{i}.jpg", quality=int(rng.integers(70, 91)))


def bare_dataset(train):
    """The plainest tf.data pipeline over the same files, with the same one-hot labels."""
    class_names = sorted(d.name for d in train.iterdir() if d.is_dir())
    paths = sorted(str(p) for p in train.glob("*/*.jpg"))
    labels = np.eye(len(class_names), dtype="float32")[
        [class_names.index(Path(p).parent.name) for p in paths]]

    def load(path, label):
        img = tf.io.decode_jpeg(tf.io.read_file(path), channels=3)
        return tf.image.resize(img, SIZE), label

    return (tf.data.Dataset.from_tensor_slices((paths, labels))
            .map(load, num_parallel_calls=tf.data.AUTOTUNE)
            .batch(BATCH)
            .prefetch(tf.data.AUTOTUNE))


def legacy_generator():
    """The legacy ImageDataGenerator class, or None and the reason it cannot be imported."""
    try:
        from tensorflow.keras.preprocessing.image import ImageDataGenerator
        return ImageDataGenerator, None
    except Exception as tf_error:  # noqa: BLE001 - any failure means the path is unavailable
        try:
            from tf_keras.preprocessing.image import ImageDataGenerator
            return ImageDataGenerator, None
        except Exception as tfk_error:  # noqa: BLE001
            return None, (f"tensorflow.keras.preprocessing.image: {tf_error!r}; "
                          f"tf_keras: {tfk_error!r}")


def legacy_iterator(generator_class, train, **augmentation):
    """flow_from_directory over the same folder, quietly (it prints a count of images)."""
    with contextlib.redirect_stdout(open(os.devnull, "w")):
        return generator_class(**augmentation).flow_from_directory(
            str(train), target_size=SIZE, batch_size=BATCH, class_mode="categorical", seed=0)


def pass_tf(ds, batches=None):
    """One full pass over a tf.data dataset (or its first `batches`); the images seen."""
    seen = 0
    for x, _ in (ds if batches is None else ds.take(batches)):
        seen += int(x.shape[0])
    return seen


def pass_legacy(it, batches=None):
    """One epoch of a legacy iterator (or its first `batches`); the images seen."""
    seen = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(len(it) if batches is None else batches):
            x, _ = next(it)
            seen += len(x)
    return seen


def best_rates(passes, warmups=None, repeats=REPEATS):
    """Best images/second of each pass function over `repeats` rounds, after a warm-up each.

    The warm-up is the pass itself unless `warmups` gives a shorter one. Calls are interleaved
    and their order flips every round, so none always runs first or last. Each call returns
    how many images it produced, which must be the same every round.
    """
    for fn in warmups or passes:  # page cache, tf.data threads, graph tracing
        fn()
    counts = [None] * len(passes)
    rates = [[] for _ in passes]
    for round_ in range(repeats):
        order = list(range(len(passes)))
        if round_ % 2:
            order.reverse()
        for i in order:
            start = time.perf_counter()
            seen = passes[i]()
            rates[i].append(seen / (time.perf_counter() - start))
            assert counts[i] in (None, seen), (seen, counts[i])
            counts[i] = seen
    return [max(r) for r in rates], counts


def report(ours, theirs, baseline):
    """Print one `bench:` line: get_batches' images/second over the baseline's."""
    target = TARGETS[baseline]
    if theirs is None:
        print(f"bench: get_batches img/s vs {baseline} = n/a (target >= {target}x) MISS "
              f"(legacy generator unavailable)")
        return
    ratio = ours / theirs
    verdict = "PASS" if ratio >= target else "MISS"
    print(f"bench: get_batches img/s vs {baseline} = {ratio:.2f}x (target >= {target}x) {verdict}")


def main():
    tmp = Path(tempfile.mkdtemp(prefix="bench_images_"))
    try:
        train = tmp / "train"
        start = time.perf_counter()
        write_images(train)
        t_write = time.perf_counter() - start
        megabytes = sum(p.stat().st_size for p in train.rglob("*.jpg")) / 2**20

        start = time.perf_counter()
        batches = get_batches(train, shuffle=True, batch_size=BATCH, target_size=SIZE)
        t_build = time.perf_counter() - start
        assert batches.samples == N_IMAGES, batches.samples
        bare = bare_dataset(train)
        generator_class, why = legacy_generator()
        if generator_class is None:
            print(f"Legacy ImageDataGenerator path unavailable, its measure is a MISS: {why}")
            passes = [lambda: pass_tf(batches), lambda: pass_tf(bare)]
        else:
            legacy = legacy_iterator(generator_class, train)
            assert legacy.samples == N_IMAGES, legacy.samples
            passes = [lambda: pass_tf(batches), lambda: pass_tf(bare), lambda: pass_legacy(legacy)]

        rates, counts = best_rates(passes)
        assert all(c == N_IMAGES for c in counts), counts
        r_ours, r_bare = rates[0], rates[1]
        r_legacy = rates[2] if len(rates) > 2 else None
        report(r_ours, r_bare, "bare tf.data")
        report(r_ours, r_legacy, "legacy ImageDataGenerator")
        legacy_text = f"{r_legacy:.0f}" if r_legacy is not None else "n/a"
        print(f"{N_IMAGES} JPEGs ({megabytes / N_IMAGES * 1024:.0f} KB mean, written in "
              f"{t_write:.1f} s) to {SIZE[0]}x{SIZE[1]}, batch {BATCH}, warm cache, best of "
              f"{REPEATS} passes, {os.cpu_count()} CPUs: get_batches {r_ours:.0f} img/s, "
              f"bare tf.data {r_bare:.0f} img/s, legacy ImageDataGenerator {legacy_text} img/s; "
              f"get_batches build (file screening + listing, not in its img/s) {t_build:.2f} s")

        if generator_class is not None:
            aug = get_batches(train, augment=True, shuffle=True, batch_size=BATCH,
                              target_size=SIZE, screen=False)
            legacy_aug = legacy_iterator(generator_class, train, **COURSE_AUGMENTATION)
            (r_aug, r_legacy_aug), _ = best_rates(
                [lambda: pass_tf(aug, AUG_BATCHES), lambda: pass_legacy(legacy_aug, AUG_BATCHES)],
                [lambda: pass_tf(aug, 1), lambda: pass_legacy(legacy_aug, 1)], AUG_REPEATS)
            print(f"with augmentation (informative; first {AUG_BATCHES} batches, best of "
                  f"{AUG_REPEATS}): "
                  f"get_batches(augment=True) {r_aug:.0f} img/s, legacy ImageDataGenerator "
                  f"(course args) {r_legacy_aug:.0f} img/s = {r_aug / r_legacy_aug:.1f}x")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
