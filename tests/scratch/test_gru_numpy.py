"""Lesson 7's numpy GRU (utils.lessons.lesson7, its weights in utils/scratch/gru.py): backprop
matches numerical gradients; the gates blend old and new state; it learns text."""
import numpy as np
import pytest

from utils.datasets.text import char_vocab, encode, standin_text
from utils.lessons import lesson7
from utils.lessons.lesson2 import numerical_gradient
from utils.scratch import gru, rnn


def grad_check(params, x, y):
    """Relative error between backprop's and numerical gradients, per weight."""
    _, analytic, _ = lesson7.gru_loss_and_grads(params, x, y)
    numeric = numerical_gradient(lesson7.gru_forward, params, x, y)
    return {k: rnn.relative_error(analytic[k], numeric[k]) for k in gru.PARAMS}


def next_state(params, x, h):
    """The GRU's new state alone, the step rnn.sample_chars wants."""
    return lesson7.gru_step(params, x, h)[0]


@pytest.mark.parametrize("batch,steps", [(1, 4), (3, 6)])
def test_backprop_through_time_matches_numerical_gradients(batch, steps):
    params = gru.init_gru(vocab=5, hidden=4, seed=batch)
    # Non-zero biases, so every gate sits away from 0.5 and each term of backprop is exercised.
    rng = np.random.default_rng(steps)
    for k in ("bz", "br", "bh", "by"):
        params[k] = rng.normal(0, 0.5, params[k].shape)
    x = rng.integers(0, 5, (batch, steps))
    y = rng.integers(0, 5, (batch, steps))
    assert all(p.dtype == np.float64 for p in params.values())
    errors = grad_check(params, x, y)
    assert set(errors) == set(gru.PARAMS)
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("name", ["Whz", "Whr", "Whh"])
def test_grad_check_catches_a_wrong_gate_gradient(monkeypatch, name):
    params = gru.init_gru(vocab=4, hidden=3, seed=0)
    x, y = np.array([[0, 1, 2, 3]]), np.array([[1, 2, 3, 0]])
    real = lesson7.gru_backward

    def broken(p, cache):
        grads = real(p, cache)
        grads[name] *= 0.5
        return grads

    monkeypatch.setattr(lesson7, "gru_backward", broken)  # what gru_loss_and_grads calls
    errors = grad_check(params, x, y)
    assert errors[name] > 0.1 and errors["Why"] < 1e-6


def test_gates_blend_old_and_new_state():
    params = gru.init_gru(vocab=3, hidden=4, seed=0)
    h = np.full((2, 4), 0.7)
    params["bz"][:] = -50.0  # update gate shut: the state passes through unchanged
    new, (z, r, hh) = lesson7.gru_step(params, np.array([0, 2]), h)
    assert np.allclose(new, h) and z.max() < 1e-12
    params["bz"][:] = 50.0  # update gate open: the state is the candidate
    new, (z, r, hh) = lesson7.gru_step(params, np.array([0, 2]), h)
    assert np.allclose(new, hh)
    assert np.all((0 < r) & (r < 1))


def test_training_with_sgd_lowers_the_loss_on_text():
    text = standin_text()[:20000]
    chars = char_vocab(text)
    idx = encode(text, chars)
    train, held = idx[:17000], idx[17000:]
    params = gru.init_gru(len(chars), 32, seed=0)
    before = rnn.mean_loss(lesson7.gru_forward, params, held, batch=4, steps=50)
    losses = rnn.train_bptt(lesson7.gru_loss_and_grads, rnn.sgd_step, params, train, epochs=2, batch=16,
                            steps=25, lr=1.0, clip=5.0, max_updates=None)
    after = rnn.mean_loss(lesson7.gru_forward, params, held, batch=4, steps=50)
    assert np.mean(losses[-10:]) < losses[0] - 0.8, (losses[0], losses[-10:])
    assert after < before - 0.8, (before, after)
    out = rnn.sample_chars(next_state, params, encode("The ", chars), 30, rng=np.random.default_rng(1))
    assert len(out) == 30 and all(0 <= i < len(chars) for i in out)
