"""The numpy RNN's weights and the loops around it: batching text, SGD, sampling; lessons 6-7.

Lesson 6's character RNN reads one character at a time. Each step mixes the new character with a
hidden state that carries what it has read so far, then scores every character of the alphabet as
the next one:

    h[t] = tanh(Wxh[:, x[t]] + Whh @ h[t-1] + bh)      (a one-hot input selects a column of Wxh)
    p[t] = softmax(Why @ h[t] + by)
    loss = mean over t and batch of -log p[t][y[t]]

The RNN itself, its step, forward pass, backprop through time and `rnn_loss_and_grads`, is defined in
nbs/lesson6.ipynb (section 8), whose export cells `make sync` writes into `utils.lessons.lesson6`.
Here are its starting weights, and the loops that train, evaluate and sample (the numerical
gradient check is lesson 2's `numerical_gradient`, `utils.lessons.lesson2`):
they take the model's own functions as arguments, so lesson 6's RNN and lesson 7's GRU
(`utils.lessons.lesson7`; its starting weights in `utils.scratch.gru`) run through the very same
loops. Arrays are laid out (batch, ...) so a batch of sequences trains at once.
"""
import numpy as np

PARAMS = ("Wxh", "Whh", "bh", "Why", "by")


def init_rnn(vocab, hidden, seed=0, dtype=np.float64):
    """Small random weights for a vocab-in, vocab-out RNN with `hidden` units; lesson 6."""
    rng = np.random.default_rng(seed)
    scale = 1.0 / np.sqrt(hidden)
    return {"Wxh": rng.normal(0, 0.1, (hidden, vocab)).astype(dtype),
            # near the identity: the state is carried forward unchanged at first
            "Whh": (np.eye(hidden) * 0.5
                    + rng.normal(0, scale * 0.5, (hidden, hidden))).astype(dtype),
            "bh": np.zeros(hidden, dtype),
            "Why": rng.normal(0, scale, (vocab, hidden)).astype(dtype),
            "by": np.zeros(vocab, dtype)}


def softmax(z):
    """Probabilities from scores along the last axis, safe from overflow; lesson 6."""
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def sgd_step(params, grads, lr, clip=5.0):
    """Move every weight against its gradient, clipping exploding gradients; lessons 6-7."""
    for k in grads:
        params[k] -= lr * np.clip(grads[k], -clip, clip)
    return params


def relative_error(a, b):
    """|a - b| / (|a| + |b|) over whole arrays: 0 when equal, 1 when unrelated; lesson 6."""
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if denom == 0 else float(np.linalg.norm(a - b) / denom)


def batches_of(idx, batch, steps):
    """Cut an encoded text into `batch` streams and yield (inputs, targets) chunks; lesson 6."""
    n = (len(idx) - 1) // batch
    if n < steps:
        raise ValueError(f"A text of {len(idx)} characters is too short for {batch} streams "
                         f"of {steps} steps.")
    x = np.asarray(idx[:n * batch]).reshape(batch, n)
    y = np.asarray(idx[1:n * batch + 1]).reshape(batch, n)
    for start in range(0, n - steps + 1, steps):
        yield x[:, start:start + steps], y[:, start:start + steps]


# The loops below serve any character model given its functions: forward(params, inputs,
# targets, h0) -> (loss, cache with "hs") and step(params, x, h) -> new h.
# Lesson 6's RNN (`utils.lessons.lesson6`) and lesson 7's GRU both use them.

def train_bptt(loss_and_grads, update, params, idx, epochs, batch, steps, lr, clip, max_updates):
    """Truncated BPTT: `update` the weights after each chunk, carrying the state; lessons 6-7."""
    losses = []
    for _ in range(epochs):
        h = None
        for x, y in batches_of(idx, batch, steps):
            loss, grads, h = loss_and_grads(params, x, y, h)
            update(params, grads, lr, clip)
            losses.append(loss)
            if max_updates and len(losses) >= max_updates:
                return losses
    return losses


def mean_loss(forward, params, idx, batch, steps):
    """Mean cross-entropy of `forward` over an encoded text, state carried on; lessons 6-7."""
    total, count, h = 0.0, 0, None
    for x, y in batches_of(idx, batch, steps):
        loss, cache = forward(params, x, y, h)
        h = cache["hs"][-1]
        total += loss * x.size
        count += x.size
    return total / count


def sample_chars(step, params, seed_idx, n, temperature=1.0, rng=None):
    """Read `seed_idx` with `step`, then draw `n` characters one at a time; lessons 6-7."""
    rng = rng or np.random.default_rng(0)
    h = np.zeros((1, params["Whh"].shape[0]), params["Whh"].dtype)
    for x in seed_idx:
        h = step(params, np.array([x]), h)
    out = []
    for _ in range(n):
        p = softmax((h @ params["Why"].T + params["by"]) / temperature)[0]
        x = int(rng.choice(len(p), p=p))
        out.append(x)
        h = step(params, np.array([x]), h)
    return out
