"""Benchmark for GPU boxes: VGG16 fine-tuning speed in float32 and mixed precision, and the
JPEG decode+resize rate of the input pipeline alone (the most the model could ever be fed).

Run on a GPU machine after `setup/install-gpu.sh`: `python -m bench.gpu_throughput` (about two
minutes). On a machine without a GPU it says so and exits 0.
"""
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from bench.benchline import bench_line  # noqa: E402

SIZE = (224, 224)
BATCH = 64
STEPS = 30          # timed training steps per precision, after warm-up
N_JPEGS = 1024


def write_jpegs(folder, n=N_JPEGS, seed=0):
    """Photo-sized random JPEGs in two class folders, like Kaggle's dogs and cats."""
    from PIL import Image
    rng = np.random.default_rng(seed)
    for i in range(n):
        cls = folder / ("cats", "dogs")[i % 2]
        cls.mkdir(parents=True, exist_ok=True)
        h, w = rng.integers(300, 500, 2)
        small = rng.integers(0, 255, (h // 8, w // 8, 3), dtype=np.uint8)
        Image.fromarray(small).resize((w, h)).save(cls / f"{i}.jpg", quality=90)


def pipeline_rate(folder):
    """Images per second that get_batches decodes and resizes, with no model attached."""
    from utils.images import get_batches
    batches = get_batches(folder, batch_size=BATCH, target_size=SIZE)
    for _ in batches:  # warm the file cache and tf.data's threads
        pass
    start = time.perf_counter()
    n = sum(int(x.shape[0]) for x, _ in batches)
    return n / (time.perf_counter() - start)


def finetune_rate(policy, size=SIZE, batch=BATCH, steps=STEPS):
    """Images per second of VGG16 fine-tuning steps (frozen base, new head) under `policy`."""
    import keras

    from utils.env import precision_scope
    from utils.models import Vgg16
    with precision_scope(policy):  # on any backend: bench/gpu_check.py runs it on JAX too
        vgg = Vgg16(weights=None, size=size)
        vgg.ft(2)
    x = np.random.default_rng(0).uniform(0, 255, (batch, *size, 3)).astype("float32")
    y = keras.utils.to_categorical(np.arange(batch) % 2, 2)
    for _ in range(3):  # compile and warm up
        vgg.model.train_on_batch(x, y)
    start = time.perf_counter()
    for _ in range(steps):
        vgg.model.train_on_batch(x, y)
    float(np.asarray(vgg.model.train_on_batch(x, y)[0]))  # wait for the GPU to finish
    return batch * (steps + 1) / (time.perf_counter() - start)


def main():
    from utils.env import gpus, precision_policy, setup
    found = gpus()
    if not found:
        print("gpu_throughput: no GPU on this machine; run it on a GPU box. Nothing measured.")
        return 0
    info = setup(quiet=True)
    import tensorflow as tf
    details = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0])
    mixed = precision_policy(details.get("compute_capability"))
    with tempfile.TemporaryDirectory() as tmp:
        write_jpegs(Path(tmp))
        feed = pipeline_rate(Path(tmp))
    f32 = finetune_rate("float32")
    fast = finetune_rate(mixed) if mixed != "float32" else f32
    print(f"GPU {details.get('device_name', found[0])}, {len(found)} visible, "
          f"{info.replicas} replica(s); batch {BATCH} at {SIZE[0]}px")
    print(f"VGG16 fine-tuning: float32 {f32:.0f} img/s, {mixed} {fast:.0f} img/s; "
          f"input pipeline alone (decode+resize) {feed:.0f} img/s")
    bench_line(f"vgg16 fine-tune img/s {mixed} vs float32", fast / f32, ">=", 1.0, "{:.2f}x",
               "{}x")
    bench_line("input pipeline img/s vs fastest fine-tune img/s", feed / max(fast, f32), ">=", 1.0,
               "{:.2f}x", "{}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
