"""Lesson 4's ideas as the notes write them (each tagged cell's own source, executed) compute what
the kit's helpers compute on the same inputs: the hand convolution, the six optimizer rules, the
crosstab fitted by gradient descent, and the three Keras collaborative-filtering models."""
import keras
import numpy as np
import pytest

from utils.models import collab as kit_collab
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
PAIRS = [("sgd", opt.SGD, 0.3), ("momentum", opt.Momentum, 0.1), ("adagrad", opt.Adagrad, 3.0),
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


# ---------------------------------------------------------------------------------------------
# The Keras collaborative-filtering models

N_USERS, N_MOVIES, N_FACTORS, MEAN = 13, 17, 4, 3.5


def cf_cells():
    """The namespace of the notes' cf-dot cell, then their cf-bias-nn cell."""
    dot = run_cell("lesson4", "cf-dot", keras=keras)
    names = {k: v for k, v in dot.items() if not k.startswith("__")}  # keras included
    return run_cell("lesson4", "cf-bias-nn", collab=kit_collab, **names)


def randomise(model, seed=0):
    """Weights far from their initial values, so that any difference in the maths shows."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.uniform(-0.6, 0.6, w.shape) for w in model.get_weights()])


def copy_by_layer(src, dst):
    """Copy weights layer by layer between two models built from the same kinds of layer."""
    a, b = [l for l in src.layers if l.weights], [l for l in dst.layers if l.weights]
    assert [type(x) for x in a] == [type(y) for y in b]
    for x, y in zip(a, b):
        y.set_weights(x.get_weights())


CASES = [("dot_model", {}, {}), ("bias_model", {"mean": MEAN}, {"mean": MEAN}),
         ("nn_model", {"mean": MEAN}, {"mean": MEAN})]


@pytest.mark.parametrize("name, ours_kw, kit_kw", CASES, ids=[c[0] for c in CASES])
def test_collab_model_cell_is_the_kits_builder(name, ours_kw, kit_kw):
    ours = cf_cells()[name](N_USERS, N_MOVIES, N_FACTORS, l2=1e-4, **ours_kw)
    kit = getattr(kit_collab, name)(N_USERS, N_MOVIES, N_FACTORS, l2=1e-4, **kit_kw)
    assert ours.count_params() == kit.count_params()
    assert ours.name == kit.name
    # Same layers in the same order, dropout rates included (they act only in training).
    assert [type(l) for l in ours.layers] == [type(l) for l in kit.layers]
    assert [l.rate for l in ours.layers if isinstance(l, keras.layers.Dropout)] == \
        [l.rate for l in kit.layers if isinstance(l, keras.layers.Dropout)]
    assert sorted(l.name for l in ours.layers if "factors" in l.name or "bias" in l.name) == \
        sorted(l.name for l in kit.layers if "factors" in l.name or "bias" in l.name)
    randomise(kit)
    copy_by_layer(kit, ours)
    rng = np.random.default_rng(1)
    users = rng.integers(0, N_USERS, (50, 1)).astype("int32")
    movies = rng.integers(0, N_MOVIES, (50, 1)).astype("int32")
    np.testing.assert_allclose(ours.predict([users, movies], verbose=0),
                               kit.predict([users, movies], verbose=0), rtol=1e-5, atol=1e-6)
    # The same L2 penalty: Keras 3 adds it to the loss it reports, as Keras 1 did to val_loss.
    ours([users, movies]), kit([users, movies])
    np.testing.assert_allclose(float(sum(ours.losses)), float(sum(kit.losses)), rtol=1e-5)


@pytest.mark.parametrize("name", ["dot_model", "bias_model", "nn_model"])
def test_collab_model_cells_rate_in_float32_under_mixed_precision(name):
    keras.config.set_dtype_policy("mixed_bfloat16")
    kwargs = {} if name == "dot_model" else {"mean": MEAN}
    model = cf_cells()[name](N_USERS, N_MOVIES, N_FACTORS, l2=1e-4, **kwargs)
    out = model.predict([np.zeros((3, 1), "int32"), np.ones((3, 1), "int32")], verbose=0)
    assert out.dtype == np.float32 and out.shape == (3, 1)
