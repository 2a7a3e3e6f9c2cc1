"""The notes hold none of TensorFlow's start-up log: the lessons quiet it themselves, before it loads.

TensorFlow 2.18 to 2.21 print their CUDA probes and CPU notes through absl before they read
TF_CPP_MIN_LOG_LEVEL, so the first cell's setting alone does not hide them: TensorFlow must first
load inside utils' silencing (`from utils import *` or `setup()`). These checks hold in any Jupyter
kernel, not only under utils/runner.py.
"""
import ast
import re
import subprocess
import sys

import nbformat
import pytest

from utils.runner import NBS

NOTEBOOKS = sorted(NBS.glob("lesson*.ipynb"))
# What TensorFlow, absl and CUDA print while TensorFlow starts (2.18 prints some at error level).
STARTUP_LOG = re.compile(r"^[IWEF]\d{4} |absl::InitializeLog|cpu_feature_guard|cudart_stub|"
                         r"rebuild TensorFlow|Unable to register cu(DNN|FFT|BLAS) factory|"
                         r"oneDNN custom operations", re.M)
# utils modules that load without TensorFlow (checked below), so a notebook may import them first.
LIGHT = {"utils.env", "utils.paths"}
HEAVY_ROOTS = {"keras", "tensorflow", "tf_keras", "jax", "torch"}


def code_cells(path):
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def quiets_the_log_level(source):
    """Whether the cell does os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", ...)."""
    return any(isinstance(n, ast.Call) and ast.unparse(n.func) == "os.environ.setdefault"
               and n.args and isinstance(n.args[0], ast.Constant) and n.args[0].value == "TF_CPP_MIN_LOG_LEVEL"
               for n in ast.walk(ast.parse(source)))


def starts_tensorflow(stmt):
    """'silenced' when the statement starts TensorFlow inside utils' silencing, 'loud' when it may
    load TensorFlow unsilenced, None when it loads nothing heavy."""
    if isinstance(stmt, ast.ImportFrom) and stmt.module == "utils" and any(a.name == "*" for a in stmt.names):
        return "silenced"  # utils.__getattr__ loads every course name inside native_logs_silenced
    calls = [ast.unparse(n.func) for n in ast.walk(stmt) if isinstance(n, ast.Call)]
    if any(name in ("setup", "utils.env.setup") for name in calls):
        return "silenced"  # setup() imports Keras and TensorFlow inside native_logs_silenced
    if isinstance(stmt, ast.Import):
        modules = [a.name for a in stmt.names]
    elif isinstance(stmt, ast.ImportFrom):
        modules = [stmt.module or ""] + ([f"utils.{a.name}" for a in stmt.names] if stmt.module == "utils" else [])
    else:
        return None
    for module in modules:
        if module.split(".")[0] in HEAVY_ROOTS:
            return "loud"
        if module.startswith("utils.") and module not in LIGHT:
            return "loud"
    return None


def first_tensorflow_start(sources):
    """(cell number, statement, 'silenced' or 'loud') where the cells first may load TensorFlow."""
    for number, source in enumerate(sources):
        for stmt in ast.parse(source).body:
            how = starts_tensorflow(stmt)
            if how:
                return number, ast.unparse(stmt), how
    return None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_lesson_quiets_tensorflow_before_it_loads(path):
    cells = code_cells(path)
    assert quiets_the_log_level(cells[0].source), f"{path.name}: the first cell sets no TF_CPP_MIN_LOG_LEVEL"
    assert "TF_CPP_MIN_LOG_LEVEL" not in "".join(c.source for c in cells[1:])  # once, in the first cell
    start = first_tensorflow_start([c.source for c in cells[1:]])
    assert start is not None, f"{path.name}: no cell loads TensorFlow?"
    number, stmt, how = start
    assert how == "silenced", (f"{path.name}: code cell {number + 2} loads TensorFlow with `{stmt}` before "
                               "`from utils import *` or setup(): its start-up log lands in the notes")


@pytest.mark.parametrize("sources, how", [
    (["import json\nimport keras\nfrom utils import *"], "loud"),
    (["import numpy as np", "import tensorflow as tf\ninfo = setup()"], "loud"),
    (["from utils.datasets import dogscats\nfrom utils import *"], "loud"),
    (["from utils import models\nfrom utils import *"], "loud"),
    (["from utils.env import precision_scope, setup\nfrom utils import paths\ninfo = setup()\nimport keras"],
     "silenced"),
    (["import json", "from utils import *  # first\nimport keras"], "silenced"),
])
def test_the_order_check_tells_a_loud_start_from_a_silenced_one(sources, how):
    assert first_tensorflow_start(sources)[2] == how


def test_the_modules_a_lesson_may_import_first_load_no_tensorflow():
    code = ("import sys\nimport " + ", ".join(sorted(LIGHT)) +
            "\nheavy = sorted(m for m in sys.modules if m.split('.')[0] in ('keras', 'tensorflow'))\n"
            "assert not heavy, heavy")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_a_lesson_s_first_cells_print_no_tensorflow_start_up_log(monkeypatch):
    """Lesson 1 up to setup(), in a Jupyter kernel as a learner's own: nothing set TF_CPP_MIN_LOG_LEVEL."""
    from nbclient import NotebookClient
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)  # the kernel inherits this environment
    monkeypatch.delenv("DL1_PRECISION", raising=False)
    nb = nbformat.read(NBS / "lesson1.ipynb", as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code"]
    last = next(i for i, c in enumerate(cells) if re.search(r"^info = setup\(\)", c.source, re.M))
    nb.cells = cells[: last + 1]  # the kit found, the parameters, the imports and setup()
    NotebookClient(nb, kernel_name="python3", timeout=600,
                   resources={"metadata": {"path": str(NBS)}}).execute()
    streams = [(o.name, o.text) for c in nb.cells for o in c.outputs if o.output_type == "stream"]
    text = "".join(t for _, t in streams)
    assert "dl1-kit: keras" in text and "(tensorflow)" in text, streams  # setup() ran on TensorFlow
    assert not STARTUP_LOG.search(text), text
    if "CPU only" in text:  # our own warnings stay: stderr is not thrown away wholesale
        assert any(name == "stderr" and "No GPU found" in t for name, t in streams), streams
