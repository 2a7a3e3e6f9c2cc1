"""Lesson 2: SGD from scratch as the notes define it (utils.lessons.lesson2, generated from the
export cells: the loss, its gradients, the loop, the activations), its plumbing (utils.scratch.sgd),
the notes' own backprop cells, and the notebook."""
import json
import sys

import numpy as np
import pytest

from utils.lessons import lesson2
from utils.runner import policy_in_force, run_lesson
from utils.scratch import sgd


def test_gradients_match_finite_differences():
    x, y = sgd.make_data(n=20, seed=1)
    a, b, eps = 0.7, -2.0, 1e-6
    d_a, d_b = lesson2.gradients(a, b, x, y)
    mse, lin = lesson2.mse, lesson2.lin
    num_a = (mse(lin(a + eps, b, x), y) - mse(lin(a - eps, b, x), y)) / (2 * eps)
    num_b = (mse(lin(a, b + eps, x), y) - mse(lin(a, b - eps, x), y)) / (2 * eps)
    assert d_a == pytest.approx(num_a, rel=1e-5)
    assert d_b == pytest.approx(num_b, rel=1e-5)


def test_one_step_downhill_lowers_the_loss():
    x, y = sgd.make_data(seed=2)
    hist = lesson2.fit_line(x, y, a=-1.0, b=1.0, lr=0.1, epochs=1, batch_size=len(x))  # one step, all points
    assert len(hist["loss"]) == 2
    assert hist["loss"][1] < hist["loss"][0] == pytest.approx(lesson2.mse(lesson2.lin(-1, 1, x), y))


def test_fit_line_finds_the_least_squares_line():
    x, y = sgd.make_data(n=100, a=-2.0, b=5.0, noise=0.1, seed=3)
    hist = lesson2.fit_line(x, y, a=-1.0, b=1.0, lr=0.2, epochs=200, batch_size=100)  # full batch: no noise at the end
    exact = sgd.closed_form(x, y)
    assert hist["a"][-1] == pytest.approx(exact[0], abs=0.02)
    assert hist["b"][-1] == pytest.approx(exact[1], abs=0.02)
    assert exact[0] == pytest.approx(-2.0, abs=0.1) and exact[1] == pytest.approx(5.0, abs=0.1)
    assert hist["loss"][-1] < hist["loss"][0] / 100
    assert len(hist["loss"]) == 201 and len(hist["a"]) == len(hist["b"]) == 201


def test_fit_line_takes_batch_size_points_a_step_in_a_new_order_each_pass():
    """37 points in batches of 10: four steps a pass, the last of 7 points; a seed, one order."""
    x, y = sgd.make_data(n=37, seed=6)
    hist = lesson2.fit_line(x, y, a=-1.0, b=1.0, lr=0.1, epochs=3, batch_size=10, seed=4)
    assert len(hist["a"]) == 1 + 3 * 4
    order = np.random.default_rng(4).permutation(37)  # the first pass's order
    d_a, d_b = lesson2.gradients(-1.0, 1.0, x[order[:10]], y[order[:10]])
    assert (hist["a"][1], hist["b"][1]) == pytest.approx((-1.0 - 0.1 * d_a, 1.0 - 0.1 * d_b), rel=1e-12)
    again = lesson2.fit_line(x, y, a=-1.0, b=1.0, lr=0.1, epochs=3, batch_size=10, seed=4)
    np.testing.assert_array_equal(again["loss"], hist["loss"])


def test_a_learning_rate_ten_times_too_high_blows_the_loss_up():
    """The notes' four rates: 0.1 brings the loss down, 1.0 makes it grow step after step."""
    x, y = sgd.make_data(seed=4)
    good = lesson2.fit_line(x, y, a=-1.0, b=1.0, lr=0.1, epochs=20, batch_size=10)["loss"]
    high = lesson2.fit_line(x, y, a=-1.0, b=1.0, lr=1.0, epochs=20, batch_size=10)["loss"]
    assert good[-1] < good[0] / 50
    assert high[-1] > 1e6 * high[0] and np.isfinite(high[-1])


def test_animation_renders_to_playable_html():
    x, y = sgd.make_data(n=20, seed=5)
    hist = lesson2.fit_line(x, y, a=-1.0, b=1.0, lr=0.1, epochs=2, batch_size=10)
    anim = sgd.animate(x, y, hist, frames=3)
    html = sgd.animation_html(anim)
    assert "<script" in html and html.count("data:image/png;base64") == 3


def test_lesson2_and_its_sgd_plumbing_do_not_import_tensorflow():
    import subprocess
    code = "import sys, utils.lessons.lesson2, utils.scratch.sgd; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=str(__import__("utils").__path__[0] + "/.."), check=True)
    assert out.stdout.strip() == "False"


def test_activations_compute_what_keras_does():
    import keras
    z = np.linspace(-6, 6, 49).astype("float32")
    for name in ("relu", "sigmoid", "tanh"):
        keras_f = getattr(keras.activations, name)
        np.testing.assert_allclose(getattr(lesson2, name)(z), np.asarray(keras_f(z)), rtol=1e-6, atol=1e-7)


def test_sigmoid_is_stable_and_right():
    a = np.array([-1000.0, -1.0, 0.0, 2.0, 1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = lesson2.sigmoid(a)
    assert np.allclose(s, [0.0, 1 / (1 + np.e), 0.5, 1 / (1 + np.exp(-2)), 1.0])


def test_one_hidden_layer_is_a_sum_of_relu_units_and_keras_computes_the_same():
    import keras

    rng = np.random.default_rng(8)
    x = np.linspace(-2, 2, 41)
    w1, b1, w2, b2 = rng.normal(size=5), rng.normal(size=5), rng.normal(size=5), 0.3
    by_hand = sum(w2[j] * max(0.0, w1[j] * 0.7 + b1[j]) for j in range(5)) + b2  # at x = 0.7
    assert lesson2.one_hidden_layer(np.array([0.7]), w1, b1, w2, b2)[0] == pytest.approx(by_hand)
    net = keras.Sequential([keras.Input((1,)), keras.layers.Dense(5, activation="relu"),
                            keras.layers.Dense(1)])
    net.set_weights([w1[None, :], b1, w2[:, None], np.array([b2])])
    np.testing.assert_allclose(net.predict(x[:, None], verbose=0)[:, 0],
                               lesson2.one_hidden_layer(x, w1, b1, w2, b2), rtol=1e-5, atol=1e-5)


def test_fit_units_puts_its_kinks_at_even_steps_and_fits_a_chain_on_them_exactly():
    x = np.linspace(0, 8, 161)
    w1, b1, w2, b2 = lesson2.fit_units(x, np.zeros_like(x), 4)
    np.testing.assert_array_equal(w1, np.ones(4))
    np.testing.assert_allclose(-b1, [0, 2, 4, 6])  # the kinks, before the largest x
    y = 1.5 - 0.5 * lesson2.relu(x) + 2 * lesson2.relu(x - 4) - lesson2.relu(x - 6)
    w1, b1, w2, b2 = lesson2.fit_units(x, y, 4)
    np.testing.assert_allclose(w2, [-0.5, 0, 2, -1], atol=1e-9)
    assert b2 == pytest.approx(1.5)
    np.testing.assert_allclose(lesson2.one_hidden_layer(x, w1, b1, w2, b2), y, atol=1e-9)


def test_more_units_fit_a_smooth_curve_closer():
    x = np.linspace(-3, 3, 300)
    y = np.sin(2 * x) + 0.5 * np.sin(7 * x)
    errors = [lesson2.mse(lesson2.one_hidden_layer(x, *lesson2.fit_units(x, y, n)), y)
              for n in (2, 4, 8, 16, 32, 64)]  # one unit and two can fit alike
    assert all(later < earlier for earlier, later in zip(errors, errors[1:])), errors
    assert errors[-1] < errors[0] / 1000


# The notes' own cells that are not exported (their source, executed), checked against TensorFlow.

def lesson2_cell(tag, **names):
    """The namespace lesson 2's cell tagged `tag` leaves, run with NumPy imported."""
    from notebook_cells import run_cell
    return run_cell("lesson2", tag, np=np, **names)


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_collapse_cell_finds_one_layer_for_two_and_none_with_relu(policy):
    import keras

    from utils.env import precision_scope
    with precision_scope(policy):  # as a GPU would run the notebook
        cell = lesson2_cell("linear-collapse", keras=keras, precision_scope=precision_scope,
                            relu=lesson2.relu)
        assert keras.mixed_precision.global_policy().name == policy  # the cell restored it
    assert cell["gap_linear"] < 1e-5  # W1 @ W2 and b1 @ W2 + b2 are the whole of two layers
    assert cell["gap_relu"] > 0.05    # a ReLU between them: no single layer comes close
    assert np.abs(cell["b1"]).max() > 0 and np.abs(cell["b2"]).max() > 0  # biases took part


def test_backprop_cell_matches_gradienttape_and_the_numerical_gradient():
    import tensorflow as tf

    cell = lesson2_cell("backprop", relu=lesson2.relu)
    rng = np.random.default_rng(7)
    X, y = rng.normal(size=(6, 4)), rng.normal(size=(6, 3))
    params = {"W1": rng.normal(size=(4, 7)), "b1": rng.normal(size=7),
              "W2": rng.normal(size=(7, 3)), "b2": rng.normal(size=3)}
    weights = {k: tf.Variable(v) for k, v in params.items()}
    with tf.GradientTape() as tape:
        h = tf.nn.relu(tf.matmul(X, weights["W1"]) + weights["b1"])
        loss = tf.reduce_mean((tf.matmul(h, weights["W2"]) + weights["b2"] - y) ** 2)
    taped = dict(zip(weights, tape.gradient(loss, list(weights.values()))))
    assert cell["forward"](params, X, y)[0] == pytest.approx(float(loss), rel=1e-12)
    ours = cell["backward"](params, X, y)
    numeric = lesson2.numerical_gradient(cell["forward"], params, X, y)
    for k in params:
        np.testing.assert_allclose(ours[k], taped[k].numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(numeric[k], ours[k], rtol=1e-5, atol=1e-7)


@pytest.mark.notebook
def test_lesson2_runs_on_standin_and_each_step_is_as_good_as_the_last(tmp_path, monkeypatch):
    monkeypatch.setenv("DL1_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("DL1_PRECISION", "mixed_float16")  # as a T4 runs it (Colab, Kaggle)
    results = tmp_path / "results"
    ipynb, page = run_lesson("lesson2", {"DATA": "standin", "SGD_FRAMES": 6,
                                         "RESULTS": str(results)}, tmp_path / "build")
    assert policy_in_force(ipynb) == "mixed_float16"  # setup() said so, in the notes
    s = json.loads((results / "summary.json").read_text())
    assert s["standin"] is True and s["weights"] == "standin"  # lesson 3 checks this string
    assert s["sgd"]["last_loss"] < s["sgd"]["first_loss"] / 50
    assert abs(s["sgd"]["a"] - s["sgd"]["exact_a"]) < 0.3
    assert abs(s["keras_line"]["a"] - s["sgd"]["exact_a"]) < 0.1
    assert abs(s["keras_line"]["b"] - s["sgd"]["exact_b"]) < 0.1
    steps = list(s["steps"].values())
    assert len(steps) == 4
    assert steps[0]["val_accuracy"] > 0.7  # two balanced classes: chance is 0.5
    # The fine-tuning chain (steps 2-4) builds on its own weights: none may undo the last. On the
    # stand-in the steps are small, so a step may lose a photo or two of 200, no more.
    for before, after in zip(steps[1:], steps[2:]):
        assert after["val_accuracy"] >= before["val_accuracy"] - 2.5 / s["n_valid"], steps
        assert after["val_loss"] <= before["val_loss"] + 0.01, steps
    # The saved arrays are there, in the kit's format, and the features were streamed to disk.
    for name in ("train_preds.bc", "valid_preds.bc", "train_conv4.bc", "valid_conv4.bc"):
        assert (results / name / "array.npy").exists()
    # What the new sections computed, in the notes' own run, under mixed precision.
    assert s["linear_collapse_gap"] < 1e-5 and s["relu_best_linear_gap"] > 0.05
    # The universal approximation picture: more units fit the curve closer, 32 of them closely, yet
    # beyond the fitted stretch the best of them is still far off (fitting is not generalising).
    uat = s["universal_approximation"]
    assert uat["units"] == [2, 8, 32]
    inside, outside = uat["inside_mse"], uat["outside_mse"]
    assert inside[0] > inside[1] > inside[2] and inside[2] < 0.01, uat
    assert outside[2] > 10 * inside[2], uat
    assert set(s["backprop_gaps"]) == {"W1", "b1", "W2", "b2"}
    for numeric_gap, tape_gap in s["backprop_gaps"].values():
        assert numeric_gap < 1e-6 and tape_gap < 1e-10
    # The stand-in VGG16 at 64 pixels: fc1 takes 2x2x64 numbers, so 256*512+512 + 512*512+512
    # + 512*2+2.
    assert s["dense_weights"] == 395_266
    assert len(s["too_high_lr_answers"]) == 2 and sum(s["too_high_lr_answers"]) == s["n_valid"]
    assert len(s["silent_fc1_units"]) == 2
    kept = all(a["val_accuracy"] >= b["val_accuracy"] and a["val_loss"] <= b["val_loss"]
               for b, a in zip(steps[1:], steps[2:]))
    assert s["chain_kept"] is kept  # what the notes print is the strict property
    text = page.read_text()
    assert "STAND-IN DATA" in text and "animation" in text.lower()
    assert "dense layers fc1, fc2 and dogscats at 64 pixels: 395,266 weights" in text
    assert "21 million" not in text
