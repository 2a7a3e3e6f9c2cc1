"""Lesson 2: SGD from scratch (gradients, convergence, divergence, animation) and the notebook."""
import json
import sys

import numpy as np
import pytest

from utils.runner import policy_in_force, run_lesson
from utils.scratch import sgd


def test_gradients_match_finite_differences():
    x, y = sgd.make_data(n=20, seed=1)
    a, b, eps = 0.7, -2.0, 1e-6
    d_a, d_b = sgd.gradients(a, b, x, y)
    num_a = (sgd.mse(sgd.lin(a + eps, b, x), y) - sgd.mse(sgd.lin(a - eps, b, x), y)) / (2 * eps)
    num_b = (sgd.mse(sgd.lin(a, b + eps, x), y) - sgd.mse(sgd.lin(a, b - eps, x), y)) / (2 * eps)
    assert d_a == pytest.approx(num_a, rel=1e-5)
    assert d_b == pytest.approx(num_b, rel=1e-5)


def test_sgd_step_lowers_the_loss():
    x, y = sgd.make_data(seed=2)
    before = sgd.mse(sgd.lin(-1, 1, x), y)
    a, b = sgd.sgd_step(-1, 1, x, y, lr=0.1)
    assert sgd.mse(sgd.lin(a, b, x), y) < before


def test_sgd_finds_the_least_squares_line():
    x, y = sgd.make_data(n=100, a=-2.0, b=5.0, noise=0.1, seed=3)
    hist = sgd.sgd(x, y, lr=0.2, epochs=200, batch_size=100)  # full batch: no noise at the end
    exact = sgd.closed_form(x, y)
    assert hist["a"][-1] == pytest.approx(exact[0], abs=0.02)
    assert hist["b"][-1] == pytest.approx(exact[1], abs=0.02)
    assert exact[0] == pytest.approx(-2.0, abs=0.1) and exact[1] == pytest.approx(5.0, abs=0.1)
    assert hist["loss"][-1] < hist["loss"][0] / 100
    assert len(hist["loss"]) == 201 and len(hist["a"]) == len(hist["b"]) == 201


def test_sgd_reports_divergence_and_bad_input():
    x, y = sgd.make_data(seed=4)
    with pytest.raises(FloatingPointError, match="smaller"):
        sgd.sgd(x, y, lr=5.0, epochs=20)
    with pytest.raises(ValueError):
        sgd.sgd(x, y[:-1])
    with pytest.raises(ValueError):
        sgd.sgd(x, y, lr=0)


def test_animation_renders_to_playable_html():
    x, y = sgd.make_data(n=20, seed=5)
    hist = sgd.sgd(x, y, epochs=2, batch_size=10)
    anim = sgd.animate(x, y, hist, frames=3)
    html = sgd.animation_html(anim)
    assert "<script" in html and html.count("data:image/png;base64") == 3


def test_scratch_sgd_does_not_import_tensorflow():
    import subprocess
    code = "import sys, utils.scratch.sgd; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=str(__import__("utils").__path__[0] + "/.."), check=True)
    assert out.stdout.strip() == "False"


def test_lesson2_runs_on_standin_and_each_step_is_as_good_as_the_last(tmp_path, monkeypatch):
    monkeypatch.setenv("DL1_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("DL1_PRECISION", "mixed_bfloat16")  # as a recent GPU runs it
    results = tmp_path / "results"
    ipynb, page = run_lesson("lesson2", {"DATA": "standin", "SGD_FRAMES": 6,
                                         "RESULTS": str(results)}, tmp_path / "build")
    assert policy_in_force(ipynb) == "mixed_bfloat16"  # setup() said so, in the notes
    s = json.loads((results / "summary.json").read_text())
    assert s["standin"] is True and s["weights"] is None
    assert s["sgd"]["last_loss"] < s["sgd"]["first_loss"] / 50
    assert abs(s["sgd"]["a"] - s["sgd"]["exact_a"]) < 0.3
    assert abs(s["keras_line"]["a"] - s["sgd"]["exact_a"]) < 0.1
    assert abs(s["keras_line"]["b"] - s["sgd"]["exact_b"]) < 0.1
    steps = list(s["steps"].values())
    assert len(steps) == 4
    assert steps[0]["val_accuracy"] > 0.8  # two balanced classes: chance is 0.5
    # The fine-tuning chain (steps 2-4) builds on its own weights: none may undo the last.
    for before, after in zip(steps[1:], steps[2:]):
        assert after["val_accuracy"] >= before["val_accuracy"], steps
        assert after["val_loss"] <= before["val_loss"], steps
    # The saved arrays are there, in the kit's format, and the features were streamed to disk.
    for name in ("train_preds.bc", "valid_preds.bc", "train_conv4.bc", "valid_conv4.bc"):
        assert (results / name / "array.npy").exists()
    text = page.read_text()
    assert "STAND-IN DATA" in text and "animation" in text.lower()
