"""Benchmark: utils.images.get_batches against a bare tf.data loop and the legacy generator.

Run by `make bench`, or `python -m bench.bench_images` from the repo root. It writes 1,600
seeded JPEGs shaped like Kaggle's dogs-vs-cats photos (about 400x350 px, sizes varied, smooth
shapes under grain so they weigh 20-40 KB and decode like photos) into `train/cats` and
`train/dogs` of a temporary folder, then times, at 224x224, batch 64, labels included:

  get_batches   utils.images.get_batches(train, shuffle=True), one full pass of its tf.data
                dataset, as the kit's models feed it to fit (`as_dataset`);
  bare tf.data  from_tensor_slices((paths, one-hot labels)) -> shuffle -> map(read_file, decode_jpeg,
                resize, AUTOTUNE) -> batch(64) -> prefetch(AUTOTUNE), one full pass;
  with the course's augmentation (turns of 10 degrees, shifts and zooms of 0.1, shear of 0.15
  radians, mirror images), over AUG_BATCHES batches:
  get_batches   get_batches(train, augment=RandomAffine with those settings);
  legacy        ImageDataGenerator(the same settings).flow_from_directory(train) from
                tensorflow.keras.preprocessing.image.

Each is built once, outside the timing (get_batches' build screens every file for corruption
up front; that time is reported on the informative line, not in its images/second), warmed up
once, then timed in rounds that interleave the ways and flip their order each round; each way's
figure is its MEDIAN round, so one quiet or one disturbed round moves nothing. The targets:
get_batches at least 0.9x the bare loop's images/second; with augmentation on both sides, at
least 2.5x the legacy generator's on 2 cores. (Like for like without augmentation, the legacy
generator is within about 1.2x of tf.data per core: what makes it slow for the course's users is
its augmentation, one image at a time in Python, against ours in one resampling pass per batch.)
An informative line gives the CPU time per image when fit takes the Batches object itself (a
Keras PyDataset, fed through one Python generator) against its dataset.
On a shared machine the rounds past MIN_ROUNDS stop at each budget; the lines say how many ran.
Always exits 0; a miss prints MISS.
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

T0 = time.perf_counter()  # the budgets count from here, TensorFlow's import included
ROOT = Path(__file__).resolve().parents[1]


from bench.benchline import bench_line  # noqa: E402
from utils.env import native_logs_silenced  # noqa: E402

with native_logs_silenced():
    import keras  # noqa: F401  (loaded here so its import chatter is silenced too)
    import tensorflow as tf
    tf.constant(0)  # starts the runtime, which logs a failed cuInit on machines without a GPU

from utils.images import get_batches  # noqa: E402

N_IMAGES = 1600  # 25 full batches of 64, split evenly between two classes
SIZE = (224, 224)
BATCH = 64
TF_REPEATS = 5  # rounds of the unaugmented passes (the median of an odd count is one round)
AUG_REPEATS = 3
AUG_BATCHES = 4
# Seconds from the start: past MAIN_BUDGET no further unaugmented round begins, past AUG_BUDGET
# no further augmented one (each keeps at least MIN_ROUNDS). This keeps the script near two
# minutes when other work shares the CPUs; the lines say what ran.
MIN_ROUNDS = 3
MAIN_BUDGET = 60
AUG_BUDGET = 110
TARGETS = {"bare tf.data": 0.9,
           "legacy ImageDataGenerator, both with the course's augmentation": 2.5}
SHEAR = 0.15  # radians, as the course's lessons 2-3 passed it to Keras 1 (Keras 2+ reads degrees)
COURSE_AUGMENTATION = dict(rotation_range=10, width_shift_range=0.1, height_shift_range=0.1,
                           shear_range=float(np.degrees(SHEAR)), zoom_range=0.1,
                           horizontal_flip=True)


def write_images(root, n=N_IMAGES, classes=("cats", "dogs"), seed=0):
    """Seeded photo-like JPEGs in class subfolders: bicubic blobs plus grain, varied sizes."""
    rng = np.random.default_rng(seed)
    grains = [np.round(rng.normal(0, sigma, (600, 600, 3))).astype(np.int16)
              for sigma in (6, 9, 12, 15)]
    for i in range(n):
        folder = root / classes[i % len(classes)]
        folder.mkdir(parents=True, exist_ok=True)
        w, h = int(rng.integers(300, 501)), int(rng.integers(250, 451))
        cells = rng.integers(0, 256, (int(rng.integers(4, 12)), int(rng.integers(4, 12)), 3),
                             dtype=np.uint8)
        img = np.asarray(Image.fromarray(cells).resize((w, h), Image.BICUBIC)).astype(np.int16)
        x, y = int(rng.integers(0, 600 - w + 1)), int(rng.integers(0, 600 - h + 1))
        img += grains[i % len(grains)][y:y + h, x:x + w]
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

    # Shuffled like get_batches(shuffle=True): training reads files in a new order each epoch.
    return (tf.data.Dataset.from_tensor_slices((paths, labels))
            .shuffle(8 * BATCH)
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
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
        return generator_class(**augmentation).flow_from_directory(
            str(train), target_size=SIZE, batch_size=BATCH, class_mode="categorical", seed=0)


def pass_tf(ds, batches=None):
    """One full pass over a tf.data dataset (or its first `batches`); the images seen."""
    seen = 0
    for x, _ in (ds if batches is None else ds.take(batches)):
        seen += int(x.shape[0])
    return seen


def pydataset_pass(batches):
    """A function making one pass over Batches as model.fit reads a PyDataset (Keras's adapter)."""
    from keras.src.trainers.data_adapters.py_dataset_adapter import PyDatasetAdapter
    adapter = PyDatasetAdapter(batches, shuffle=True)
    ds = adapter.get_tf_dataset()

    def one_pass():
        adapter.on_epoch_begin()
        seen = pass_tf(ds)
        adapter.on_epoch_end()
        return seen
    return one_pass


def pass_legacy(it, batches=None):
    """One epoch of a legacy iterator (or its first `batches`); the images seen."""
    seen = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(len(it) if batches is None else batches):
            x, _ = next(it)
            seen += len(x)
    return seen


def median_rates(passes, repeats, warmups=None, budget=None, min_rounds=MIN_ROUNDS):
    """Median images/second of each pass function, passes[i] timed up to repeats[i] times.

    Each runs once untimed first (or runs warmups[i] instead): page cache, tf.data threads,
    graph tracing. Calls are interleaved round by round and the order flips every round, so
    none always runs first or last. Past `budget` seconds from T0 no round after `min_rounds`
    begins. Each call returns how many images it produced, which must be the same every time.
    Returns the median rates, the image counts, how many times each way was timed, and each
    way's least CPU time per image in milliseconds (all threads of this process), a figure
    other work on the machine disturbs far less than wall time.
    """
    for fn in warmups or passes:
        fn()
    counts = [None] * len(passes)
    rates = [[] for _ in passes]
    cpu_ms = [[] for _ in passes]
    for round_ in range(max(repeats)):
        if round_ >= min_rounds and budget is not None and time.perf_counter() - T0 > budget:
            break
        order = [i for i in range(len(passes)) if round_ < repeats[i]]
        if round_ % 2:
            order.reverse()
        for i in order:
            start, start_cpu = time.perf_counter(), time.process_time()
            seen = passes[i]()
            rates[i].append(seen / (time.perf_counter() - start))
            cpu_ms[i].append((time.process_time() - start_cpu) * 1000 / seen)
            assert counts[i] in (None, seen), (seen, counts[i])
            counts[i] = seen
    return ([float(np.median(r)) for r in rates], counts, [len(r) for r in rates],
            [min(c) for c in cpu_ms])


def report(ours, theirs, baseline):
    """Print one `bench:` line: get_batches' images/second over the baseline's."""
    ratio = None if theirs is None else ours / theirs
    bench_line(f"get_batches img/s vs {baseline}", ratio, ">=", TARGETS[baseline], "{:.2f}x", "{}x",
               "" if theirs is not None else "(legacy generator unavailable)")


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
        rates, counts, timed, cpu_ms = median_rates(
            [lambda: pass_tf(batches.dataset), lambda: pass_tf(bare)], [TF_REPEATS, TF_REPEATS],
            budget=MAIN_BUDGET)
        assert all(c == N_IMAGES for c in counts), counts
        (r_ours, r_bare), n_main = rates, min(timed)
        report(r_ours, r_bare, "bare tf.data")
        print(f"{N_IMAGES} JPEGs ({megabytes / N_IMAGES * 1024:.0f} KB mean, written in "
              f"{t_write:.1f} s) to {SIZE[0]}x{SIZE[1]}, batch {BATCH}, warm cache, "
              f"{os.cpu_count()} CPUs: get_batches {r_ours:.0f} img/s, bare tf.data {r_bare:.0f} "
              f"img/s (medians of {n_main} interleaved rounds); get_batches build (file screening "
              f"+ listing, not in its img/s) {t_build:.2f} s; CPU time per image "
              f"{', '.join(f'{ms:.2f}' for ms in cpu_ms)} ms (same order)")

        generator_class, why = legacy_generator()
        if generator_class is None:
            print(f"Legacy ImageDataGenerator path unavailable, its measure is a MISS: {why}")
            report(r_ours, None, "legacy ImageDataGenerator, both with the course's augmentation")
            return 0
        from utils.lessons.lesson3 import default_augmentation
        augment = default_augmentation(rotation=10, shift=0.1, zoom=0.1, flip=True,
                                       shear=float(np.degrees(SHEAR)))
        aug = get_batches(train, augment=augment, shuffle=True, batch_size=BATCH,
                          target_size=SIZE, screen=False)
        legacy_aug = legacy_iterator(generator_class, train, **COURSE_AUGMENTATION)
        assert legacy_aug.samples == N_IMAGES, legacy_aug.samples
        # A fresh iterator each pass, start-up included: a running one would fill its prefetch
        # buffer while the legacy generator is timed, and hand those batches over for free.
        (r_aug, r_legacy_aug), _, timed, aug_ms = median_rates(
            [lambda: pass_tf(aug.dataset, AUG_BATCHES), lambda: pass_legacy(legacy_aug, AUG_BATCHES)],
            [AUG_REPEATS, AUG_REPEATS],
            [lambda: pass_tf(aug.dataset, 1), lambda: pass_legacy(legacy_aug, 1)], budget=AUG_BUDGET)
        report(r_aug, r_legacy_aug, "legacy ImageDataGenerator, both with the course's augmentation")
        print(f"with the course's augmentation ({AUG_BATCHES} batches of {BATCH}, medians of "
              f"{min(timed)} rounds): get_batches {r_aug:.0f} img/s, legacy ImageDataGenerator "
              f"{r_legacy_aug:.0f} img/s; CPU time per image {aug_ms[0]:.2f} and {aug_ms[1]:.2f} ms")
        _, _, _, (ms_py, ms_ds) = median_rates(
            [pydataset_pass(batches), lambda: pass_tf(batches.dataset)], [1, 1], min_rounds=1)
        print(f"fit(batches) itself, as a PyDataset: {ms_py:.2f} ms CPU per image against "
              f"{ms_ds:.2f} ms for fit(batches.dataset) ({ms_py / ms_ds - 1:+.0%}; informative)")
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0
        if load > (os.cpu_count() or 1) + 1:  # this script alone keeps about every CPU busy
            print(f"note: load average {load:.1f} on {os.cpu_count()} CPUs while timing; other "
                  f"work shared the CPUs, so these figures are noisy (rerun when it is idle)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
