"""A character RNN in plain numpy: forward pass, backprop through time, SGD; lesson 6.

The model reads one character at a time. Each step mixes the new character with a hidden state
that carries what it has read so far, then scores every character of the alphabet as the next one:

    h[t] = tanh(Wxh[:, x[t]] + Whh @ h[t-1] + bh)      (a one-hot input selects a column of Wxh)
    p[t] = softmax(Why @ h[t] + by)
    loss = mean over t and batch of -log p[t][y[t]]

Backprop through time runs the same steps backwards, adding up each weight's share of the loss
at every step. Arrays are laid out (batch, ...) so a batch of sequences trains at once.

The loops that train, evaluate, sample and check gradients take the model's own functions as
arguments, so lesson 7's GRU (`utils.scratch.gru`) runs through the very same loops.
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


def rnn_step(params, x, h):
    """One step for a batch of character indices `x`: the new hidden state; lesson 6."""
    return np.tanh(params["Wxh"][:, x].T + h @ params["Whh"].T + params["bh"])


def rnn_forward(params, inputs, targets, h0=None):
    """Mean cross-entropy of next-char predictions, and what backprop needs; lesson 6."""
    inputs, targets = np.atleast_2d(inputs), np.atleast_2d(targets)
    batch, steps = inputs.shape
    hidden = params["Whh"].shape[0]
    h = np.zeros((batch, hidden), params["Whh"].dtype) if h0 is None else h0
    hs, ps = [h], []
    loss = 0.0
    rows = np.arange(batch)
    for t in range(steps):
        h = rnn_step(params, inputs[:, t], h)
        p = softmax(h @ params["Why"].T + params["by"])
        loss -= np.log(p[rows, targets[:, t]]).sum()
        hs.append(h)
        ps.append(p)
    cache = {"inputs": inputs, "targets": targets, "hs": hs, "ps": ps}
    return loss / (batch * steps), cache


def rnn_backward(params, cache):
    """Gradients of the mean loss for every weight, by backprop through time; lesson 6."""
    inputs, targets, hs, ps = cache["inputs"], cache["targets"], cache["hs"], cache["ps"]
    batch, steps = inputs.shape
    grads = {k: np.zeros_like(params[k]) for k in PARAMS}
    dh_next = np.zeros_like(hs[0])
    rows = np.arange(batch)
    for t in reversed(range(steps)):
        dy = ps[t].copy()
        dy[rows, targets[:, t]] -= 1  # softmax + cross-entropy: p minus the one-hot truth
        dy /= batch * steps
        grads["Why"] += dy.T @ hs[t + 1]
        grads["by"] += dy.sum(axis=0)
        dh = dy @ params["Why"] + dh_next  # this step's own error plus what later steps sent back
        draw = dh * (1 - hs[t + 1] ** 2)  # through tanh
        grads["bh"] += draw.sum(axis=0)
        grads["Whh"] += draw.T @ hs[t]
        np.add.at(grads["Wxh"].T, inputs[:, t], draw)  # one-hot input: only its column moves
        dh_next = draw @ params["Whh"]
    return grads


def loss_and_grads(params, inputs, targets, h0=None):
    """Loss, gradients and the last hidden state for one batch; lesson 6."""
    loss, cache = rnn_forward(params, inputs, targets, h0)
    return loss, rnn_backward(params, cache), cache["hs"][-1]


def sgd_step(params, grads, lr, clip=5.0):
    """Move every weight against its gradient, clipping exploding gradients; lessons 6-7."""
    for k in grads:
        params[k] -= lr * np.clip(grads[k], -clip, clip)
    return params


def numerical_grads(params, inputs, targets, eps=1e-5):
    """Gradients by central differences, slow but obviously right, to check backprop; lesson 6."""
    return central_differences(rnn_forward, PARAMS, params, inputs, targets, eps)


def relative_error(a, b):
    """|a - b| / (|a| + |b|) over whole arrays: 0 when equal, 1 when unrelated; lesson 6."""
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if denom == 0 else float(np.linalg.norm(a - b) / denom)


def grad_check(params, inputs, targets, eps=1e-5):
    """Relative error between backprop's and numerical gradients, per weight; lesson 6."""
    _, analytic, _ = loss_and_grads(params, inputs, targets)
    numeric = numerical_grads(params, inputs, targets, eps)
    return {k: relative_error(analytic[k], numeric[k]) for k in PARAMS}


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


def train_rnn(params, idx, epochs=1, batch=32, steps=25, lr=0.3, clip=5.0, max_updates=None):
    """Truncated BPTT with SGD over an encoded text; the hidden state flows on; lesson 6."""
    return train_bptt(loss_and_grads, sgd_step, params, idx, epochs, batch, steps, lr, clip,
                      max_updates)


def evaluate(params, idx, batch=32, steps=100):
    """Mean cross-entropy (nats per character) on an encoded text; lesson 6."""
    return mean_loss(rnn_forward, params, idx, batch, steps)


def sample(params, seed_idx, n, temperature=1.0, rng=None):
    """Generate `n` characters after reading `seed_idx`; lower temperature, safer; lesson 6."""
    return sample_chars(rnn_step, params, seed_idx, n, temperature, rng)


# The loops below serve any character model given its functions: forward(params, inputs,
# targets, h0) -> (loss, cache with "hs"), step(params, x, h) -> new h, and the names of its
# weights. The RNN above and lesson 7's GRU both use them.

def central_differences(forward, names, params, inputs, targets, eps=1e-5):
    """Each named weight's gradient of `forward`'s loss by central differences; lessons 6-7."""
    grads = {}
    for k in names:
        g = np.zeros_like(params[k])
        flat, gflat = params[k].reshape(-1), g.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            up = forward(params, inputs, targets)[0]
            flat[i] = old - eps
            down = forward(params, inputs, targets)[0]
            flat[i] = old
            gflat[i] = (up - down) / (2 * eps)
        grads[k] = g
    return grads


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
