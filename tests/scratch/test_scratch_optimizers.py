"""Lesson 4's optimizer rules (utils.lessons.lesson4, the notes' export cells) against Keras on the
same gradients, Eve's loss feedback, and the line-fitting race of utils/scratch/optimizers.py."""
import keras
import numpy as np
import pytest

from utils.lessons import lesson4 as rules
from utils.scratch import optimizers as opt

X, Y = opt.make_line(n=40, a=3.0, b=8.0, noise=0.3, seed=1)

PAIRS = [  # (rule, learning rate, its settings; Keras's optimizer, the settings by Keras's names)
    (rules.plain_sgd, 0.1, {}, keras.optimizers.SGD, {}),
    (rules.momentum, 0.05, {"beta": 0.8}, keras.optimizers.SGD, {"momentum": 0.8}),
    (rules.adagrad, 0.5, {}, keras.optimizers.Adagrad, {}),
    (rules.rmsprop, 0.05, {"rho": 0.8}, keras.optimizers.RMSprop, {"rho": 0.8}),
    # Keras turns beta_2 into a float32 tensor before use, so 0.999 becomes 0.99900001 and the
    # step differs by 6e-6 relative; betas that float32 holds exactly compare the rule itself.
    (rules.adam, 0.2, {"beta1": 0.875, "beta2": 0.998046875}, keras.optimizers.Adam,
     {"beta_1": 0.875, "beta_2": 0.998046875}),
]

# The race as the notes run it: each rule with the learning rate that suits it on the line.
RACE = {"SGD": (rules.plain_sgd, 0.3), "momentum": (rules.momentum, 0.1), "Adagrad": (rules.adagrad, 3.0),
        "RMSProp": (rules.rmsprop, 0.1), "Adam": (rules.adam, 1.0), "Eve": (rules.eve, 1.0)}


@pytest.mark.parametrize("rule, lr, settings, theirs, keras_settings", PAIRS, ids=[p[0].__name__ for p in PAIRS])
def test_matches_keras_on_the_same_gradients(rule, lr, settings, theirs, keras_settings):
    keras_opt = theirs(learning_rate=lr, **keras_settings)
    var = keras.Variable(np.array([-1.0, 1.0]), dtype="float64")
    params, memory = np.array([-1.0, 1.0]), {}
    rng = np.random.default_rng(0)
    for step in range(60):
        idx = rng.choice(len(X), 8, replace=False)  # noisy mini-batch gradients, same for both
        _, grads = opt.line_loss_grad(params, X[idx], Y[idx])
        params = rule(params, grads, memory, lr, **settings)
        keras_opt.apply_gradients([(keras.ops.convert_to_tensor(grads, "float64"), var)])
        np.testing.assert_allclose(params, keras.ops.convert_to_numpy(var), rtol=1e-6, atol=1e-6,
                                   err_msg=f"{rule.__name__} parts from Keras at step {step}")
    assert not np.allclose(params, [-1.0, 1.0])  # it really moved


def test_adam_with_default_betas_differs_from_keras_only_by_float32_rounding():
    theirs = keras.optimizers.Adam(learning_rate=0.1)
    var = keras.Variable(np.array([-1.0, 1.0]), dtype="float64")
    params, memory = np.array([-1.0, 1.0]), {}
    for _ in range(20):
        _, grads = opt.line_loss_grad(params, X, Y)
        params = rules.adam(params, grads, memory, 0.1)
        theirs.apply_gradients([(keras.ops.convert_to_tensor(grads, "float64"), var)])
    np.testing.assert_allclose(params, keras.ops.convert_to_numpy(var), rtol=2e-5)


def test_eve_first_step_is_adam_then_follows_the_loss_feedback():
    g, start = np.array([2.0, -1.0]), np.zeros(2)
    memory = {"loss": 4.0}
    np.testing.assert_allclose(rules.eve(start, g, memory, 0.1), rules.adam(start, g, {}, 0.1, eps=1e-8))
    # Loss halves: the ratio 0.5 lies inside the clip range [1/11, 1/1.1], so r = 1.
    memory["loss"] = 2.0
    rules.eve(start, g, memory, 0.1)
    assert memory["f"] == pytest.approx(2.0)
    assert memory["d"] == pytest.approx(0.999 + 0.001 * 1.0)
    # Loss rises a little: the ratio is clipped up to k + 1 = 1.1, so f grows 10%, r = 0.1.
    d = memory["d"]
    memory["loss"] = 2.05
    rules.eve(start, g, memory, 0.1)
    assert memory["f"] == pytest.approx(2.2)
    assert memory["d"] == pytest.approx(0.999 * d + 0.001 * 0.1)


def test_eve_steps_shorter_than_adam_while_the_loss_jumps():
    """Eve's step shrinks when the loss jumps: the feedback is Eve's own, not only Adam's."""
    g = np.array([2.0, -1.0])
    s_eve, s_adam = {}, {}
    for loss in (4.0, 40.0, 4.0, 40.0):
        s_eve["loss"] = loss
        p_eve, p_adam = rules.eve(np.zeros(2), g, s_eve, 0.1), rules.adam(np.zeros(2), g, s_adam, 0.1)
    assert s_eve["d"] > 1 and np.all(np.abs(p_eve) < np.abs(p_adam))


def test_eve_needs_the_loss():
    with pytest.raises(KeyError, match="loss"):
        rules.eve(np.zeros(2), np.ones(2), {}, 0.1)


@pytest.mark.parametrize("name", RACE)
def test_every_rule_of_the_race_fits_the_line(name):
    x, y = opt.make_line(n=50, seed=0)
    rule, lr = RACE[name]
    result = opt.fit_line_with(rule, lr, x, y, steps=300, batch_size=10)
    assert result["loss"][-1] < 0.01 * result["loss"][0], name
    np.testing.assert_allclose(result["path"][-1], [3.0, 8.0], atol=0.3, err_msg=name)
    assert result["path"].shape == (301, 2)


def test_line_gradient_matches_finite_differences():
    params = np.array([0.7, -2.0])
    _, grads = opt.line_loss_grad(params, X, Y)
    h = 1e-6
    for i in range(2):
        step = np.eye(2)[i] * h
        numeric = (opt.line_loss_grad(params + step, X, Y)[0]
                   - opt.line_loss_grad(params - step, X, Y)[0]) / (2 * h)
        assert grads[i] == pytest.approx(numeric, rel=1e-5)


def test_plot_optimizers_draws_both_panels():
    x, y = opt.make_line(n=20)
    results = {name: opt.fit_line_with(rule, lr, x, y, steps=20) for name, (rule, lr) in RACE.items()}
    fig = opt.plot_optimizers(results, x, y)
    left, right = fig.axes[:2]
    assert len(left.lines) == 6 and left.get_yscale() == "log"
    assert len(right.lines) == 7  # six paths and the true (a, b)
