"""utils/scratch/optimizers.py: each numpy optimizer against Keras on the same gradients, and Eve."""
import keras
import numpy as np
import pytest

from utils.scratch import optimizers as opt

X, Y = opt.make_line(n=40, a=3.0, b=8.0, noise=0.3, seed=1)

PAIRS = [
    (opt.SGD, keras.optimizers.SGD, {"lr": 0.1}),
    (opt.Momentum, keras.optimizers.SGD, {"lr": 0.05, "momentum": 0.8}),
    (opt.Adagrad, keras.optimizers.Adagrad, {"lr": 0.5}),
    (opt.RMSProp, keras.optimizers.RMSprop, {"lr": 0.05, "rho": 0.8}),
    # Keras turns beta_2 into a float32 tensor before use, so 0.999 becomes 0.99900001 and the
    # step differs by 6e-6 relative; betas that float32 holds exactly compare the rule itself.
    (opt.Adam, keras.optimizers.Adam, {"lr": 0.2, "beta_1": 0.875, "beta_2": 0.998046875}),
]


@pytest.mark.parametrize("ours, theirs, kwargs", PAIRS, ids=[p[0].__name__ for p in PAIRS])
def test_matches_keras_on_the_same_gradients(ours, theirs, kwargs):
    kwargs = dict(kwargs)
    lr = kwargs.pop("lr")
    mine = ours(lr, **kwargs)
    keras_opt = theirs(learning_rate=lr, **kwargs)
    var = keras.Variable(np.array([-1.0, 1.0]), dtype="float64")
    params = np.array([-1.0, 1.0])
    rng = np.random.default_rng(0)
    for step in range(60):
        idx = rng.choice(len(X), 8, replace=False)  # noisy mini-batch gradients, same for both
        loss, grads = opt.line_loss_grad(params, X[idx], Y[idx])
        params = mine.step(params, grads, loss)
        keras_opt.apply_gradients([(keras.ops.convert_to_tensor(grads, "float64"), var)])
        np.testing.assert_allclose(params, keras.ops.convert_to_numpy(var), rtol=1e-6, atol=1e-6,
                                   err_msg=f"{ours.__name__} parts from Keras at step {step}")
    assert not np.allclose(params, [-1.0, 1.0])  # it really moved


def test_adam_with_default_betas_differs_from_keras_only_by_float32_rounding():
    mine, theirs = opt.Adam(0.1), keras.optimizers.Adam(learning_rate=0.1)
    var = keras.Variable(np.array([-1.0, 1.0]), dtype="float64")
    params = np.array([-1.0, 1.0])
    for _ in range(20):
        _, grads = opt.line_loss_grad(params, X, Y)
        params = mine.step(params, grads)
        theirs.apply_gradients([(keras.ops.convert_to_tensor(grads, "float64"), var)])
    np.testing.assert_allclose(params, keras.ops.convert_to_numpy(var), rtol=2e-5)


def test_eve_first_step_is_adam_then_follows_the_loss_feedback():
    eve, adam = opt.Eve(0.1, epsilon=1e-7), opt.Adam(0.1)
    g = np.array([2.0, -1.0])
    np.testing.assert_allclose(eve.step([0.0, 0.0], g, loss=4.0), adam.step([0.0, 0.0], g))
    # Loss halves: the ratio 0.5 lies inside the clip range [1/11, 1/1.1], so r = 1.
    eve.step([0.0, 0.0], g, loss=2.0)
    assert eve.f_hat == pytest.approx(2.0)
    assert eve.d == pytest.approx(0.999 + 0.001 * 1.0)
    # Loss rises a little: the ratio is clipped up to k + 1 = 1.1, so f_hat grows 10%, r = 0.1.
    d = eve.d
    eve.step([0.0, 0.0], g, loss=2.05)
    assert eve.f_hat == pytest.approx(2.2)
    assert eve.d == pytest.approx(0.999 * d + 0.001 * 0.1)


def test_eve_needs_the_loss():
    with pytest.raises(ValueError, match="loss"):
        opt.Eve(0.1).step([0.0, 0.0], [1.0, 1.0])


@pytest.mark.parametrize("i", range(6), ids=[o.name for o in opt.default_optimizers()])
def test_every_default_optimizer_fits_the_line(i):
    x, y = opt.make_line(n=50, seed=0)
    optimizer = opt.default_optimizers()[i]
    result = opt.fit_line(optimizer, x, y, steps=300, batch_size=10)
    assert result["loss"][-1] < 0.01 * result["loss"][0], optimizer.name
    np.testing.assert_allclose(result["path"][-1], [3.0, 8.0], atol=0.3, err_msg=optimizer.name)
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
    results = {o.name: opt.fit_line(o, x, y, steps=20) for o in opt.default_optimizers()}
    fig = opt.plot_optimizers(results, x, y)
    left, right = fig.axes[:2]
    assert len(left.lines) == 6 and left.get_yscale() == "log"
    assert len(right.lines) == 7  # six paths and the true (a, b)
