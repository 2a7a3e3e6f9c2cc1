"""Lesson 4's ideas as the notes write them (each tagged cell's own source, executed) compute what
the kit's helpers compute on the same inputs: the hand convolution, the six optimizer rules and the
crosstab fitted by gradient descent. (The three Keras collaborative-filtering models are the notes'
export cells themselves, utils.lessons.lesson4: tests/models/test_collab.py checks them.)"""
import numpy as np
import pytest

from utils.scratch import collab as kit_crosstab, conv, optimizers as opt

from notebook_cells import run_cell

# Exact comparisons need one precision: float32, whatever another test left set.
pytestmark = pytest.mark.usefixtures("float32_policy")


def rules():
    """The namespace of the notes' optimizer-rules cell."""
    return run_cell("lesson4", "optimizer-rules", np=np)


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
# The optimizer rules

X, Y = opt.make_line(n=40, a=3.0, b=8.0, noise=0.3, seed=1)
PAIRS = [("plain_sgd", opt.SGD, 0.3), ("momentum", opt.Momentum, 0.1), ("adagrad", opt.Adagrad, 3.0),
         ("rmsprop", opt.RMSProp, 0.1), ("adam", opt.Adam, 1.0), ("eve", opt.Eve, 1.0)]


@pytest.mark.parametrize("rule, cls, lr", PAIRS, ids=[p[0] for p in PAIRS])
def test_optimizer_rule_cell_steps_as_the_kits_class(rule, cls, lr):
    step = rules()[rule]
    kit, state = cls(lr), {}
    ours = theirs = np.array([-1.0, 1.0])
    rng = np.random.default_rng(0)
    for i in range(80):
        idx = rng.choice(len(X), 8, replace=False)  # the same noisy gradient goes to both
        loss, grads = opt.line_loss_grad(ours, X[idx], Y[idx])
        state["loss"] = loss
        ours = step(ours, grads, state, lr)
        theirs = kit.step(theirs, grads, loss)
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12,
                                   err_msg=f"{rule} parts from {cls.__name__} at step {i}")
    assert not np.allclose(ours, [-1.0, 1.0])  # it really moved


def test_eve_rule_cell_feels_the_loss():
    """Eve's step shrinks when the loss jumps: the feedback is in the cell, not only in Adam."""
    eve, adam = rules()["eve"], rules()["adam"]
    g = np.array([2.0, -1.0])
    s_eve, s_adam = {}, {}
    for loss in (4.0, 40.0, 4.0, 40.0):
        s_eve["loss"] = loss
        p_eve, p_adam = eve(np.zeros(2), g, s_eve, 0.1), adam(np.zeros(2), g, s_adam, 0.1)
    assert s_eve["d"] > 1 and np.all(np.abs(p_eve) < np.abs(p_adam))


# ---------------------------------------------------------------------------------------------
# Collaborative filtering on the crosstab


def crosstab_cell():
    """The notes' crosstab cell, run with the Adam rule of the optimizer cell."""
    return run_cell("lesson4", "crosstab-gd", np=np, adam=rules()["adam"])


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
