"""The numpy GRU's weights: their names and their random starting values; lesson 7.

A GRU is lesson 6's RNN with two gates, small networks that output numbers between 0 and 1 and
decide, unit by unit, how much of the old state to keep:

    z[t]  = sigmoid(Wxz[:, x[t]] + Whz @ h[t-1] + bz)          update gate: how much to rewrite
    r[t]  = sigmoid(Wxr[:, x[t]] + Whr @ h[t-1] + br)          reset gate: how much past to read
    hh[t] = tanh(Wxh[:, x[t]] + Whh @ (r[t] * h[t-1]) + bh)     the candidate new state
    h[t]  = (1 - z[t]) * h[t-1] + z[t] * hh[t]                  a blend of old and new
    p[t]  = softmax(Why @ h[t] + by)

(sigmoid is lesson 2's, `utils.lessons.lesson2.sigmoid`.) Where z is near 0 the state passes
through a step unchanged, so information (and gradient) can travel much further back than through
the plain RNN's repeated tanh.

The GRU itself, its step, forward pass, backprop through time and `gru_loss_and_grads`, is defined
in nbs/lesson7.ipynb (section 4), whose export cells `make sync` writes into `utils.lessons.lesson7`.
Arrays are laid out (batch, ...) like lesson 6's RNN, so the GRU runs through the same loops of
`utils.scratch.rnn` that train, evaluate, sample and check gradients.
"""
import numpy as np

PARAMS = ("Wxz", "Whz", "bz", "Wxr", "Whr", "br", "Wxh", "Whh", "bh", "Why", "by")
GATES = (("Wxz", "Whz", "bz"), ("Wxr", "Whr", "br"), ("Wxh", "Whh", "bh"))


def init_gru(vocab, hidden, seed=0, dtype=np.float64):
    """Small random weights for a vocab-in, vocab-out GRU with `hidden` units; lesson 7."""
    rng = np.random.default_rng(seed)
    scale = 1.0 / np.sqrt(hidden)
    params = {}
    for wx, wh, b in GATES:
        params[wx] = rng.normal(0, 0.1, (hidden, vocab)).astype(dtype)
        params[wh] = rng.normal(0, scale, (hidden, hidden)).astype(dtype)
        params[b] = np.zeros(hidden, dtype)
    params["Why"] = rng.normal(0, scale, (vocab, hidden)).astype(dtype)
    params["by"] = np.zeros(vocab, dtype)
    return params
