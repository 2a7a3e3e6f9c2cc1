"""Lesson 4's ideas as the notes write them (each tagged cell's own source, executed) compute what
the kit's helpers compute on the same inputs: the hand convolution and the crosstab fitted by
gradient descent. (The optimizer rules and the three Keras collaborative-filtering models are the
notes' export cells themselves, utils.lessons.lesson4: tests/scratch/test_scratch_optimizers.py
and tests/models/test_collab.py check them.)"""
import numpy as np
import pytest

from utils.lessons import lesson4
from utils.scratch import collab as kit_crosstab, conv

from notebook_cells import run_cell

# Exact comparisons need one precision: float32, whatever another test left set.
pytestmark = pytest.mark.usefixtures("float32_policy")


# ---------------------------------------------------------------------------------------------
# The convolution by hand


def test_hand_convolution_cell_filters_are_the_kits():
    cell = run_cell("lesson4", "conv-by-hand", np=np)
    np.testing.assert_array_equal(cell["bottom_edge"], conv.BOTTOM_EDGE)
    np.testing.assert_array_equal(cell["right_edge"], conv.RIGHT_EDGE)


@pytest.mark.parametrize("k", [3, 5])
def test_hand_convolution_cell_is_the_kits_conv2d(k):
    conv_by_hand = run_cell("lesson4", "conv-by-hand", np=np)["conv_by_hand"]
    rng = np.random.default_rng(k)
    image = rng.uniform(0, 1, (13, 17)).astype(np.float32)
    filt = rng.normal(size=(k, k)).astype(np.float32)
    ours = conv_by_hand(image, filt)
    assert ours.shape == (13 - k + 1, 17 - k + 1)
    np.testing.assert_allclose(ours, conv.conv2d(image, filt), rtol=1e-5, atol=1e-5)
    assert ours[4, 6] == pytest.approx(float((image[4:4 + k, 6:6 + k] * filt).sum()), rel=1e-5)


def test_hand_convolution_cell_on_the_lessons_digit():
    cell = run_cell("lesson4", "conv-by-hand", np=np)
    digit, _, _ = conv.load_digit(0)
    for filt, kits in ((cell["bottom_edge"], conv.BOTTOM_EDGE), (cell["right_edge"], conv.RIGHT_EDGE)):
        np.testing.assert_allclose(cell["conv_by_hand"](digit, filt), conv.conv2d(digit, kits),
                                   atol=1e-5)


# ---------------------------------------------------------------------------------------------
# Collaborative filtering on the crosstab


def crosstab_cell():
    """The notes' crosstab cell, run with the notes' Adam rule."""
    return run_cell("lesson4", "crosstab-gd", np=np, adam=lesson4.adam)


def table(seed=0, shape=(7, 9), missing=0.3):
    rng = np.random.default_rng(seed)
    t = rng.uniform(0.5, 5, shape)
    t[rng.random(shape) < missing] = np.nan
    return t


def test_crosstab_cell_loss_and_gradient_are_the_kits():
    loss_grad = crosstab_cell()["crosstab_loss_grad"]
    t, k = table(), 3
    rng = np.random.default_rng(2)
    users, films = rng.normal(size=(7, k)), rng.normal(size=(9, k))
    ub, fb = rng.normal(size=7), rng.normal(size=9)
    theta = np.concatenate([users.ravel(), films.ravel(), ub, fb])
    loss, grads = loss_grad(users, films, ub, fb, t)
    kit_loss, kit_grad = kit_crosstab.loss_and_grad(theta, t, k)
    assert loss == pytest.approx(kit_loss, rel=1e-12)
    np.testing.assert_allclose(np.concatenate([g.ravel() for g in grads]), kit_grad, rtol=1e-12,
                               atol=1e-14)


def test_crosstab_cell_fit_is_the_kits_fit_crosstab():
    fit_table = crosstab_cell()["fit_table"]
    t = table(seed=4, shape=(15, 15))
    ours = fit_table(t, k=3, steps=300, lr=0.05)
    kit = kit_crosstab.fit_crosstab(t, k=3, steps=300, lr=0.05)
    np.testing.assert_allclose(ours["loss"], kit["loss"], rtol=1e-9)
    np.testing.assert_allclose(ours["pred"], kit["pred"], rtol=1e-9)
    assert ours["loss"][-1] < 0.5 * ours["loss"][0]  # it really fitted
