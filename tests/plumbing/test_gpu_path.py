"""The GPU fast path: precision by device, and several replicas (simulated with two CPUs)."""
import os
import subprocess
import sys
import textwrap

import pytest

from utils.env import precision_policy
from utils.paths import ROOT


@pytest.mark.parametrize("capability, policy", [
    (None, "float32"), ((6, 1), "float32"), ((7, 0), "mixed_float16"), ((7, 5), "mixed_float16"),
    ((8, 0), "mixed_bfloat16"), ((9, 0), "mixed_bfloat16")])
def test_precision_policy_follows_the_gpu(capability, policy):
    assert precision_policy(capability) == policy


MIRRORED = textwrap.dedent("""
    import numpy as np, tensorflow as tf, keras
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from utils import env
    from utils.models import Vgg16
    from PIL import Image
    import tempfile, pathlib
    env.use_strategy(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
    folder = pathlib.Path(tempfile.mkdtemp())
    for c in ("cats", "dogs"):
        (folder / c).mkdir()
        for i in range(8):
            Image.fromarray(np.full((40, 40, 3), 60 * (c == "dogs") + i, "uint8")).save(folder / c / f"{i}.png")
    vgg = Vgg16(weights=None, size=(32, 32))
    batches = vgg.get_batches(folder, batch_size=4)
    vgg.finetune(batches)
    history = vgg.fit(batches, batches, nb_epoch=1, verbose=0)
    print("replicas", env.strategy().num_replicas_in_sync)
    print("global_batch", batches.batch_size)
    print("head_dtype", vgg.model.layers[-1].dtype_policy.compute_dtype)
    print("loss_finite", bool(np.isfinite(history.history["loss"][-1])))
""")


def test_vgg16_trains_under_mirrored_strategy_on_two_devices():
    out = subprocess.run([sys.executable, "-c", MIRRORED], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    facts = dict(line.split() for line in out.stdout.splitlines() if line.count(" ") == 1)
    assert facts["replicas"] == "2"
    assert facts["global_batch"] == "8"  # 4 per replica, two replicas
    assert facts["head_dtype"] == "float32"
    assert facts["loss_finite"] == "True"


def test_mixed_precision_model_keeps_softmax_in_float32(float32_policy):
    """Built under mixed_bfloat16 in this process; the fixture restores the policy afterwards."""
    import keras

    from utils.models import Vgg16
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    vgg = Vgg16(weights=None, size=(32, 32))
    base = [vgg.model.layers[1].compute_dtype, vgg.model.layers[-1].compute_dtype, vgg.model.output.dtype]
    vgg.ft(2)
    tuned = [vgg.model.layers[-1].compute_dtype, vgg.model.output.dtype]
    assert [str(d) for d in base] == ["bfloat16", "float32", "float32"]
    assert [str(d) for d in tuned] == ["float32", "float32"]


def test_gpu_bench_says_so_and_passes_without_a_gpu():
    out = subprocess.run([sys.executable, "-m", "bench.gpu_throughput"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, "CUDA_VISIBLE_DEVICES": "-1"})
    assert out.returncode == 0
    assert "no GPU on this machine" in out.stdout


def test_gpu_check_says_so_and_exits_0_without_a_gpu():
    out = subprocess.run([sys.executable, "-m", "bench.gpu_check"], cwd=ROOT, capture_output=True,
                         text=True, timeout=180, env={**os.environ, "CUDA_VISIBLE_DEVICES": "-1"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert "gpu_check: no GPU on this machine" in out.stdout
    assert "bench:" not in out.stdout  # nothing measured, so no figure pretends to be one


def module_level_imports(path):
    """Modules a file imports when it is imported (not those imported inside functions)."""
    import ast
    found = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)  # and each name, which may be a module of that package
            found += [f"{node.module}.{a.name}" for a in node.names]
    return found


def test_model_modules_import_with_keras_alone():
    """No module utils/models loads, itself or through other utils modules, imports TensorFlow or
    Pillow: on a GPU box with only Keras and JAX they must import (bench/gpu_check.py runs them there)."""
    todo = [f"utils.models.{p.stem}" for p in (ROOT / "utils/models").glob("*.py")]
    seen, offenders = set(), []
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = ROOT / (name.replace(".", "/") + ".py")
        path = path if path.exists() else path.with_suffix("") / "__init__.py"
        if not path.exists():  # a name imported from a module, not a module
            continue
        for module in module_level_imports(path):
            if module.split(".")[0] in ("tensorflow", "PIL"):
                offenders.append(f"{name} imports {module}")
            elif module.startswith("utils"):
                todo.append(module)
    assert not offenders, f"imports at module level that a Keras-and-JAX box lacks: {offenders}"
    assert "utils.images" not in seen  # the tf.data pipeline loads only when batches are read
    assert "utils.standins.imagenet" not in seen  # the stand-ins' drawing (Pillow) only to draw
