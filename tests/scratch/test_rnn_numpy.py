"""Lesson 6's numpy RNN (utils.lessons.lesson6) through the loops of utils/scratch/rnn.py: its
backprop matches numerical gradients, and it learns text."""
import numpy as np
import pytest

from utils.datasets.text import char_vocab, decode, encode, standin_text
from utils.lessons import lesson6
from utils.lessons.lesson2 import numerical_gradient
from utils.scratch import rnn


def grad_check(params, x, y):
    """Relative error between backprop's gradients and numerical ones, per weight."""
    _, analytic, _ = lesson6.rnn_loss_and_grads(params, x, y)
    numeric = numerical_gradient(lesson6.rnn_forward, params, x, y)
    return {k: rnn.relative_error(analytic[k], numeric[k]) for k in rnn.PARAMS}


@pytest.mark.parametrize("batch,steps", [(1, 5), (3, 7)])
def test_backprop_through_time_matches_numerical_gradients(batch, steps):
    params = rnn.init_rnn(vocab=6, hidden=5, seed=batch)
    rng = np.random.default_rng(steps)
    x = rng.integers(0, 6, (batch, steps))
    y = rng.integers(0, 6, (batch, steps))
    errors = grad_check(params, x, y)
    assert set(errors) == set(rnn.PARAMS)
    assert max(errors.values()) < 1e-6, errors


def test_grad_check_catches_a_wrong_gradient(monkeypatch):
    params = rnn.init_rnn(vocab=4, hidden=3, seed=0)
    x, y = np.array([[0, 1, 2, 3]]), np.array([[1, 2, 3, 0]])
    real = lesson6.rnn_backward

    def broken(p, cache):  # forgets the error sent back through time
        grads = real(p, cache)
        grads["Whh"] *= 0.5
        return grads

    monkeypatch.setattr(lesson6, "rnn_backward", broken)  # what rnn_loss_and_grads calls
    errors = grad_check(params, x, y)
    assert errors["Whh"] > 0.1 and errors["Why"] < 1e-6


def test_forward_loss_starts_near_chance_and_state_carries_over():
    params = rnn.init_rnn(vocab=10, hidden=8, seed=0)
    x = np.arange(10)[None] % 10
    loss, cache = lesson6.rnn_forward(params, x, (x + 1) % 10)
    assert abs(loss - np.log(10)) < 0.3  # small weights: about uniform over 10 symbols
    h = cache["hs"][-1]
    assert h.shape == (1, 8)
    loss2, _ = lesson6.rnn_forward(params, x, (x + 1) % 10, h0=h)
    assert loss2 != loss  # a carried-over state changes the predictions


def test_training_with_sgd_lowers_the_loss_on_text():
    text = standin_text()[:30000]
    chars = char_vocab(text)
    idx = encode(text, chars)
    train, held = idx[:26000], idx[26000:]
    params = rnn.init_rnn(len(chars), 48, seed=0)
    before = rnn.mean_loss(lesson6.rnn_forward, params, held, batch=4, steps=50)
    losses = rnn.train_bptt(lesson6.rnn_loss_and_grads, rnn.sgd_step, params, train, epochs=3, batch=16,
                            steps=25, lr=1.0, clip=5.0, max_updates=None)
    after = rnn.mean_loss(lesson6.rnn_forward, params, held, batch=4, steps=50)
    assert np.mean(losses[-10:]) < losses[0] - 1.0
    assert after < before - 1.0, (before, after)
    out = rnn.sample_chars(lesson6.rnn_step, params, encode("The ", chars), 50, temperature=0.5,
                           rng=np.random.default_rng(1))
    assert len(out) == 50 and all(0 <= i < len(chars) for i in out)
    assert " " in decode(out, chars)  # it has learned that words are separated by spaces


def test_sgd_step_clips_exploding_gradients():
    params = {k: np.zeros(2) for k in rnn.PARAMS}
    grads = {k: np.array([100.0, -0.5]) for k in rnn.PARAMS}
    rnn.sgd_step(params, grads, lr=0.1, clip=5.0)
    assert np.allclose(params["Whh"], [-0.5, 0.05])


def test_too_short_text_says_so():
    with pytest.raises(ValueError, match="too short"):
        list(rnn.batches_of(np.arange(20), batch=4, steps=10))
