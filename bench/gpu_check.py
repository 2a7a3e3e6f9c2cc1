"""The GPU check: one go, at most about 4 minutes, bench lines for what a GPU changes.

    python -m bench.gpu_check

* With TensorFlow and a GPU: lessons 1 and 3 in fast mode on the stand-ins, under the mixed
  precision setup() chooses for the GPU, then bench/gpu_throughput.py.
* With Keras on JAX and a GPU (no TensorFlow needed): VGG16 fine-tuning steps on random batches at
  224 px in float32 and in mixed_bfloat16 (images/s and the speed-up), and lesson 1's check of
  vgg16_by_hand against Keras's VGG16 under mixed precision, the old way and in a float32 scope.
* With no GPU it says so and exits 0. It downloads nothing.

A GPU box without internet that has JAX (with numpy, h5py, ml-dtypes, rich, absl-py and
packaging, as JAX images do) lacks only Keras and two small packages. Carry their wheels, about
3 MB, with the repo:

    pip download --no-deps --only-binary=:all: --python-version 3.12 \\
        --platform manylinux_2_17_x86_64 -d wheels keras namex optree
    # on the GPU box, in the repo:
    pip install --no-index --no-deps --target /tmp/keras-deps wheels/*.whl
    PYTHONPATH=/tmp/keras-deps python -m bench.gpu_check

Without TensorFlow the script picks Keras's JAX backend itself (KERAS_BACKEND=jax).
"""
import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.benchline import bench_line

ROOT = Path(__file__).resolve().parents[1]

BUDGET_S = 230         # the whole check, so it ends within 4 minutes
SIZE = (224, 224)
BATCH = 32
STEPS = 10             # timed fine-tuning steps per precision on JAX, after warm-up
# Fast mode on the stand-ins: the parameters the notebook tests use.
LESSONS = {"lesson1": {"DATA": "standin", "EPOCHS": 1},
           "lesson3": {"DATA": "standin", "EPOCHS": 2, "AUG_EPOCHS": 1,
                       "ENSEMBLE_EPOCHS": 1, "N_ENSEMBLE": 2}}
START = time.monotonic()


def left():
    """Seconds left of the check's budget."""
    return BUDGET_S - (time.monotonic() - START)


def has(module):
    """Whether a package is installed, without importing it."""
    return importlib.util.find_spec(module) is not None


def tf_gpus():
    """GPUs TensorFlow sees, asked in a child process so this one stays free of TensorFlow."""
    code = "from utils.env import gpus; print(len(gpus()))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    return int(out.stdout.strip() or 0) if out.returncode == 0 else 0


def jax_gpus():
    """GPUs JAX sees (none when JAX is missing or has no GPU plugin)."""
    try:
        import jax
        return jax.devices("gpu")
    except Exception:  # RuntimeError: no GPU backend; ImportError: no JAX
        return []


def run_lessons():
    """Lessons 1 and 3 in fast mode with the GPU's mixed precision: wall time and policy."""
    from utils.runner import policy_in_force, run_lesson
    out_dir = Path(os.environ.get("DL1_BUILD", ROOT / "build")) / "gpu_check"
    for name, params in LESSONS.items():
        if left() < 60:
            bench_line(f"{name} fast mode on a GPU, s", None, "<=", 120, note="(out of time)")
            continue
        start = time.monotonic()
        try:
            ipynb, _ = run_lesson(name, params, out_dir)
            seconds, policy = time.monotonic() - start, policy_in_force(ipynb)
        except Exception as err:  # the notebook in build/ shows the failing cell
            print(f"{name} FAILED: {str(err)[-500:]}")
            seconds, policy = None, "failed"
        bench_line(f"{name} fast mode on a GPU under {policy}, s", seconds, "<=", 120, "{:.0f}")


def run_throughput():
    """bench/gpu_throughput.py as it is, in the time left."""
    if left() < 60:
        bench_line("vgg16 fine-tune img/s mixed vs float32", None, ">=", 1.0, note="(out of time)")
        return
    subprocess.run([sys.executable, "-m", "bench.gpu_throughput"], cwd=ROOT,
                   timeout=max(60, int(left())))


def jax_checks(size=SIZE, batch=BATCH, steps=STEPS, gap_size=SIZE):
    """On Keras's JAX backend: fine-tuning speed by precision, and lesson 1's check."""
    import keras

    from bench.gpu_throughput import finetune_rate
    from utils.models.vgg16 import by_hand_gap
    print(f"keras {keras.__version__} on {keras.backend.backend()}, {jax_gpus() or 'no GPU'}")
    f32 = finetune_rate("float32", size, batch, steps)
    bf16 = finetune_rate("mixed_bfloat16", size, batch, steps)
    print(f"VGG16 fine-tuning at {size[0]} px, batch {batch}: float32 {f32:.0f} img/s, "
          f"mixed_bfloat16 {bf16:.0f} img/s")
    bench_line("vgg16 fine-tune img/s mixed_bfloat16 vs float32 (jax)", bf16 / f32, ">=", 1.0,
               "{:.2f}x", "{}x")
    for policy in ("mixed_bfloat16", "mixed_float16"):
        if left() < 45:  # four VGG16s to build and compile
            bench_line(f"lesson 1 by-hand vs reference gap under {policy} (jax)", None, "<=",
                       1e-5, note="(out of time)")
            continue
        with_policy = by_hand_gap(gap_size, policy)[0]  # the old cell: built under the GPU's
        in_scope = by_hand_gap(gap_size, "float32")[0]  # the lesson's: one float32 scope
        # The old way must differ (the fault is reproduced) and the float32 scope must agree.
        bench_line(f"lesson 1 by-hand vs reference gap, built under {policy} (jax)",
                   with_policy, ">", 1e-5, "{:.1e}")
        bench_line(f"lesson 1 by-hand vs reference gap, float32 scope under {policy} (jax)",
                   in_scope, "<=", 1e-5, "{:.1e}")


def main():
    """Run what this machine can: the TensorFlow part, the JAX part, or nothing."""
    tensorflow = has("tensorflow") and os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow"
    if tensorflow and tf_gpus():
        run_lessons()
        run_throughput()
    elif has("jax") and has("keras") and jax_gpus():
        os.environ["KERAS_BACKEND"] = "jax"  # read when Keras is first imported, just below
        jax_checks()
    else:
        found = ", ".join(m for m in ("tensorflow", "jax", "keras") if has(m)) or "none"
        print(f"gpu_check: no GPU on this machine (installed: {found}); run it on a GPU box. "
              "Nothing measured.")
        return 0
    print(f"gpu_check: done in {time.monotonic() - START:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
