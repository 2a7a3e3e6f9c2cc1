"""Getting a notebook ready, and saying what this machine has.

`setup()` is the one call at the top of every lesson: it fixes the random seeds, detects where
the notebook runs (Colab, Kaggle Notebooks, a GPU box, a laptop) and warns about anything missing
without ever stopping the lesson. `doctor()` prints the same facts on one screen for `make doctor`.
"""
import contextlib
import os
import shutil
import sys
import warnings
from types import SimpleNamespace

from utils.paths import data_dir
from utils.versions import package_version

# Packages whose versions decide whether course code runs; printed by doctor().
KEY_PACKAGES = ("keras", "tensorflow", "numpy", "pandas", "pillow", "matplotlib",
                "scikit-learn", "kaggle", "bcolz-zipline", "papermill")
# Notebook tooling for workstations (requirements-notebooks.txt): Colab and Kaggle run the notebooks
# in their own Jupyter, so doctor() does not count it as missing there.
NOTEBOOK_TOOLS = ("papermill",)
# The Kaggle competitions the lessons use, so doctor() can say which are on disk.
COMPETITIONS = ("dogs-vs-cats-redux-kernels-edition", "state-farm-distracted-driver-detection",
                "the-nature-conservancy-fisheries-monitoring")


@contextlib.contextmanager
def native_logs_silenced():
    """Hide what C++ libraries print straight to stderr (TensorFlow's start-up log) meanwhile."""
    # TensorFlow 2.21 logs CUDA probes and CPU features through absl before TF_CPP_MIN_LOG_LEVEL
    # is read; in a notebook those lines land in the lecture notes. Python errors still raise.
    try:
        saved = os.dup(2)
    except OSError:  # no real stderr to silence
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def platform():
    """Where this notebook runs: 'colab', 'kaggle' or 'local'; all lessons."""
    if "COLAB_RELEASE_TAG" in os.environ or "google.colab" in sys.modules:
        return "colab"
    if "KAGGLE_KERNEL_RUN_TYPE" in os.environ or "KAGGLE_URL_BASE" in os.environ:
        return "kaggle"
    return "local"


def gpus():
    """Names of the GPUs TensorFlow can see (empty on a CPU machine); all lessons."""
    with native_logs_silenced():
        import tensorflow as tf  # TensorFlow loads only when a function needs it: importing utils.env stays light
        return [d.name for d in tf.config.list_physical_devices("GPU")]


def precision_policy(compute_capability):
    """The mixed-precision policy a GPU of this compute capability runs fastest; all lessons."""
    if compute_capability is None:
        return "float32"
    if tuple(compute_capability) >= (8, 0):  # Ampere and newer have bfloat16 tensor cores
        return "mixed_bfloat16"
    if tuple(compute_capability) >= (7, 0):  # Volta and Turing: float16 tensor cores only
        return "mixed_float16"
    return "float32"


# The policies a user may force with DL1_PRECISION, e.g. to try on a CPU what a GPU will run.
POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")


def forced_policy():
    """The policy named by DL1_PRECISION, or None when it is unset; all lessons."""
    name = os.environ.get("DL1_PRECISION", "").strip()
    if not name:
        return None
    if name not in POLICIES:
        raise ValueError(f"DL1_PRECISION={name!r} is not a precision policy: use one of "
                         f"{', '.join(POLICIES)}, or unset it to let the GPU decide.")
    return name


def _prepare_gpus(mixed_precision):
    """Let GPU memory grow as needed; returns the policy the first GPU runs fastest."""
    import tensorflow as tf  # TensorFlow loads only when a function needs it
    devices = tf.config.list_physical_devices("GPU")
    for gpu in devices:
        try:  # must happen before the GPU is first used; a re-run of setup() finds it done
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:
            pass
    if not (devices and mixed_precision):
        return "float32"
    details = tf.config.experimental.get_device_details(devices[0])
    return precision_policy(details.get("compute_capability"))


def _choose_policy(has_gpus, mixed_precision):
    """Set the global policy (DL1_PRECISION first, else the GPU's); returns the one in force."""
    import keras  # Keras loads only when a function needs it
    gpu_policy = _prepare_gpus(mixed_precision) if has_gpus else None  # memory growth too
    chosen = forced_policy() or gpu_policy
    if chosen is not None:
        keras.mixed_precision.set_global_policy(chosen)
    # Read back what Keras really uses, not what we meant: a policy set before setup() counts.
    return keras.mixed_precision.global_policy().name


@contextlib.contextmanager
def precision_scope(policy="float32"):
    """Build models under `policy` meanwhile, then restore the global one; lesson 1, tests."""
    import keras  # Keras loads only when a function needs it
    saved = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(policy)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(saved)


_STRATEGY = None


def use_strategy(chosen):
    """Make every model the kit builds use this tf.distribute strategy; all lessons."""
    global _STRATEGY
    _STRATEGY = chosen
    return chosen


class OneDevice:
    """What the models ask of a strategy on Keras's JAX or torch backend: one device, no scope."""
    num_replicas_in_sync = 1

    def scope(self):
        """Nothing to enter: the backend places the model itself."""
        return contextlib.nullcontext()


def strategy():
    """MirroredStrategy over every GPU when there are several, else the default one; all lessons."""
    import keras  # Keras loads only when a function needs it
    if keras.backend.backend() != "tensorflow":  # tf.distribute serves TensorFlow only
        return OneDevice()
    import tensorflow as tf  # TensorFlow loads only when a function needs it
    if _STRATEGY is None and len(tf.config.list_logical_devices("GPU")) > 1:
        use_strategy(tf.distribute.MirroredStrategy())
    return _STRATEGY or tf.distribute.get_strategy()


def setup(seed=0, quiet=False, mixed_precision=True):
    """Seed every generator, detect the platform and GPUs, and warn about gaps; all lessons.

    The precision policy is DL1_PRECISION's when set (any machine), else the fastest one for
    the GPU (float32 on a CPU); the line printed and `info.policy` name the policy in force.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # as the lessons' first cell: TF's C++ log stays out
    with native_logs_silenced():
        import keras  # Keras and TensorFlow load only when setup() runs
        import tensorflow as tf
    tf.get_logger().setLevel("ERROR")  # retracing notices are for library authors, not learners
    keras.utils.set_random_seed(seed)
    info = SimpleNamespace(platform=platform(), gpus=_gpus_quietly(), seed=seed,
                           keras=keras.__version__, backend=keras.backend.backend())
    info.policy = _choose_policy(bool(info.gpus), mixed_precision)
    info.replicas = strategy().num_replicas_in_sync if info.gpus else 1
    if not info.gpus:
        _warn(quiet, "No GPU found: the lessons run on the CPU, fine for the stand-in data, "
                     "slow for the real datasets.")
    # bcolz-zipline is optional (old course arrays only; no wheels for Python 3.13): not warned.
    if package_version("kaggle") is None:
        _warn(quiet, "Package kaggle is missing: pip install -r requirements-lessons.txt")
    if not quiet:
        where = (f"{len(info.gpus)} GPU(s), {info.replicas} replica(s)"
                 if info.gpus else "CPU only")
        print(f"dl1-kit: keras {info.keras} ({info.backend}), {where}, "
              f"precision {info.policy}, platform {info.platform}, seed {seed}")
    return info


def _gpus_quietly():
    """GPU list, or an empty list when TensorFlow itself cannot start."""
    try:
        return gpus()
    except Exception as err:  # a broken CUDA install must not stop a lesson
        warnings.warn(f"Could not ask TensorFlow for GPUs: {err}")
        return []


def _warn(quiet, message):
    """Warn once, unless the caller asked for silence."""
    if not quiet:
        warnings.warn(message, stacklevel=3)


def doctor():
    """Print versions, backend, GPUs, Kaggle credentials, datasets and free disk; make doctor."""
    # utils.kaggle loads pandas, which setup() never needs
    from utils.kaggle.api import NO_CREDENTIALS, TOKEN_HOWTO, credentials_problem
    print(f"python         {sys.version.split()[0]}  ({sys.executable})")
    hosted = platform() != "local"
    for name in KEY_PACKAGES:
        absent = ("not installed (optional)" if name == "bcolz-zipline" else
                  "not needed on a hosted runtime" if hosted and name in NOTEBOOK_TOOLS else
                  "MISSING")
        print(f"{name:<15}{package_version(name) or absent}")
    info = setup(quiet=True)
    print(f"backend        {info.backend}")
    print(f"platform       {info.platform}")
    print(f"GPUs           {', '.join(info.gpus) or 'none (CPU only)'}")
    if info.platform == "local":  # Colab and Kaggle run their own Jupyter
        from utils.jupyter_config import summary as jupyter_summary  # Jupyter's settings only for the doctor
        print(f"jupyter        {jupyter_summary()}")
    problem = credentials_problem()  # the same check the Kaggle calls make
    state = ("present" if problem is None else
             "MISSING" if problem == NO_CREDENTIALS else f"BROKEN: {problem}")
    print(f"kaggle         credentials {state}")
    if problem is not None:
        print(TOKEN_HOWTO)
    root = data_dir()
    for comp in COMPETITIONS:
        here = (root / comp).exists()
        print(f"data           {comp}: {'present' if here else 'absent'}")
    free = shutil.disk_usage(root if root.exists() else root.parent).free / 2**30
    print(f"disk           {free:.1f} GiB free under {root}")
    return info
