"""A character GRU in plain numpy: forward pass, backprop through time, SGD; lesson 7.

A GRU is lesson 6's RNN with two gates, small networks that output numbers between 0 and 1 and
decide, unit by unit, how much of the old state to keep:

    z[t]  = sigmoid(Wxz[:, x[t]] + Whz @ h[t-1] + bz)          update gate: how much to rewrite
    r[t]  = sigmoid(Wxr[:, x[t]] + Whr @ h[t-1] + br)          reset gate: how much past to read
    hh[t] = tanh(Wxh[:, x[t]] + Whh @ (r[t] * h[t-1]) + bh)     the candidate new state
    h[t]  = (1 - z[t]) * h[t-1] + z[t] * hh[t]                  a blend of old and new
    p[t]  = softmax(Why @ h[t] + by)

Where z is near 0 the state passes through a step unchanged, so information (and gradient) can
travel much further back than through the plain RNN's repeated tanh. Arrays are laid out
(batch, ...) like `utils.scratch.rnn`, whose softmax, text batching, gradient check, training,
evaluation and sampling loops we reuse with the GRU's own forward pass and step.
"""
import numpy as np

from utils.scratch.rnn import (
    central_differences,
    mean_loss,
    relative_error,
    sample_chars,
    sgd_step,
    softmax,
    train_bptt,
)

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


def sigmoid(a):
    """1 / (1 + e^-a), computed without overflow for large negative a; lesson 7."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e))


def gru_step(params, x, h):
    """One step for a batch of character indices `x`: the new state and the gates; lesson 7."""
    z = sigmoid(params["Wxz"][:, x].T + h @ params["Whz"].T + params["bz"])
    r = sigmoid(params["Wxr"][:, x].T + h @ params["Whr"].T + params["br"])
    hh = np.tanh(params["Wxh"][:, x].T + (r * h) @ params["Whh"].T + params["bh"])
    return (1 - z) * h + z * hh, (z, r, hh)


def gru_forward(params, inputs, targets, h0=None):
    """Mean cross-entropy of next-char predictions, and what backprop needs; lesson 7."""
    inputs, targets = np.atleast_2d(inputs), np.atleast_2d(targets)
    batch, steps = inputs.shape
    hidden = params["Whh"].shape[0]
    h = np.zeros((batch, hidden), params["Whh"].dtype) if h0 is None else h0
    hs, gates, ps = [h], [], []
    loss = 0.0
    rows = np.arange(batch)
    for t in range(steps):
        h, g = gru_step(params, inputs[:, t], h)
        p = softmax(h @ params["Why"].T + params["by"])
        loss -= np.log(p[rows, targets[:, t]]).sum()
        hs.append(h)
        gates.append(g)
        ps.append(p)
    cache = {"inputs": inputs, "targets": targets, "hs": hs, "gates": gates, "ps": ps}
    return loss / (batch * steps), cache


def _gate_grads(params, grads, prefix, x, h_in, da):
    """Add one gate's weight gradients for pre-activation gradient `da`; return d(h_in)."""
    wx, wh, b = prefix
    grads[wh] += da.T @ h_in
    grads[b] += da.sum(axis=0)
    np.add.at(grads[wx].T, x, da)  # a one-hot input: only its column of Wx moves
    return da @ params[wh]


def gru_backward(params, cache):
    """Gradients of the mean loss for every weight, by backprop through time; lesson 7."""
    inputs, targets, hs, ps = cache["inputs"], cache["targets"], cache["hs"], cache["ps"]
    batch, steps = inputs.shape
    grads = {k: np.zeros_like(params[k]) for k in PARAMS}
    dh_next = np.zeros_like(hs[0])
    rows = np.arange(batch)
    for t in reversed(range(steps)):
        z, r, hh = cache["gates"][t]
        h_prev, x = hs[t], inputs[:, t]
        dy = ps[t].copy()
        dy[rows, targets[:, t]] -= 1  # softmax + cross-entropy: p minus the one-hot truth
        dy /= batch * steps
        grads["Why"] += dy.T @ hs[t + 1]
        grads["by"] += dy.sum(axis=0)
        dh = dy @ params["Why"] + dh_next  # this step's own error plus what later steps sent
        # h = (1 - z) * h_prev + z * hh: the blend sends gradient to all three parts.
        dh_prev = dh * (1 - z)
        d_cand = dh * z * (1 - hh ** 2)  # through tanh
        drh = _gate_grads(params, grads, GATES[2], x, r * h_prev, d_cand)
        dh_prev += drh * r
        d_reset = drh * h_prev * r * (1 - r)  # through the reset gate's sigmoid
        dh_prev += _gate_grads(params, grads, GATES[1], x, h_prev, d_reset)
        d_update = dh * (hh - h_prev) * z * (1 - z)
        dh_prev += _gate_grads(params, grads, GATES[0], x, h_prev, d_update)
        dh_next = dh_prev
    return grads


def loss_and_grads(params, inputs, targets, h0=None):
    """Loss, gradients and the last hidden state for one batch; lesson 7."""
    loss, cache = gru_forward(params, inputs, targets, h0)
    return loss, gru_backward(params, cache), cache["hs"][-1]


def numerical_grads(params, inputs, targets, eps=1e-5):
    """Gradients by central differences, slow but obviously right, to check backprop; lesson 7."""
    return central_differences(gru_forward, PARAMS, params, inputs, targets, eps)


def grad_check(params, inputs, targets, eps=1e-5):
    """Relative error between backprop's and numerical gradients, per weight; lesson 7."""
    _, analytic, _ = loss_and_grads(params, inputs, targets)
    numeric = numerical_grads(params, inputs, targets, eps)
    return {k: relative_error(analytic[k], numeric[k]) for k in PARAMS}


def train_gru(params, idx, epochs=1, batch=32, steps=25, lr=0.5, clip=5.0, max_updates=None):
    """Truncated BPTT with SGD over an encoded text; the hidden state flows on; lesson 7."""
    return train_bptt(loss_and_grads, sgd_step, params, idx, epochs, batch, steps, lr, clip,
                      max_updates)


def evaluate(params, idx, batch=32, steps=100):
    """Mean cross-entropy (nats per character) on an encoded text; lesson 7."""
    return mean_loss(gru_forward, params, idx, batch, steps)


def sample(params, seed_idx, n, temperature=1.0, rng=None):
    """Generate `n` characters after reading `seed_idx`; lower temperature, safer; lesson 7."""
    return sample_chars(_next_state, params, seed_idx, n, temperature, rng)


def _next_state(params, x, h):
    """The GRU's new state alone, the step `sample_chars` wants."""
    return gru_step(params, x, h)[0]
