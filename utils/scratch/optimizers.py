"""The race of lesson 4's optimizer rules to fit a line y = a*x + b: the points, the loss and its
gradient, the loop, and the picture; lesson 4.

The rules themselves (plain_sgd, momentum, adagrad, rmsprop, adam, eve) are lesson 4's export
cells, `utils.lessons.lesson4`: each is called as `rule(params, grads, memory, lr)` and returns the
new parameters, its memory a dict it keeps between steps. The loop here hands them the gradients.
"""
import numpy as np

from utils.lessons.lesson2 import gradients, lin, mse


def make_line(n=50, a=3.0, b=8.0, noise=0.0, seed=0):
    """Points (x, y) on y = a*x + b, x uniform in [0, 1], optional Gaussian noise; lesson 4."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, n)
    return x, a * x + b + rng.normal(0, noise, n)


def line_loss_grad(params, x, y):
    """Lesson 2's loss of the line y = a*x + b and its gradient with respect to (a, b)."""
    a, b = params
    return mse(lin(a, b, x), y), np.array(gradients(a, b, x, y))


def fit_line_with(rule, lr, x, y, steps=200, start=(-1.0, 1.0), batch_size=None, seed=0):
    """Fit (a, b) with one update rule; {'loss': per step, 'path': (a, b) per step}; lesson 4."""
    rng = np.random.default_rng(seed)
    params, memory = np.array(start, np.float64), {}
    losses, path = [], [params]
    for _ in range(steps):
        idx = rng.choice(len(x), batch_size, replace=False) if batch_size else slice(None)
        memory["loss"], grads = line_loss_grad(params, x[idx], y[idx])  # the loss: Eve reads it
        params = rule(params, grads, memory, lr)
        losses.append(line_loss_grad(params, x, y)[0])
        path.append(params)
    return {"loss": np.array(losses), "path": np.array(path)}


def plot_optimizers(results, x, y, truth=(3.0, 8.0)):
    """Loss curves and parameter paths on the loss surface, one colour per optimizer; lesson 4."""
    import matplotlib.pyplot as plt  # matplotlib only for the picture
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5))
    for name, r in results.items():
        left.plot(np.arange(1, len(r["loss"]) + 1), r["loss"], label=name)
        right.plot(r["path"][:, 0], r["path"][:, 1], ".-", ms=2, lw=1, label=name)
    left.set(yscale="log", xlabel="step", ylabel="mean squared error", title="loss")
    left.legend()
    paths = np.concatenate([r["path"] for r in results.values()])
    lo, hi = paths.min(axis=0), paths.max(axis=0)
    pad = 0.1 * (hi - lo) + 0.5
    a_grid, b_grid = np.meshgrid(np.linspace(lo[0] - pad[0], hi[0] + pad[0], 120),
                                 np.linspace(lo[1] - pad[1], hi[1] + pad[1], 120))
    err = a_grid[..., None] * x + b_grid[..., None] - y
    right.contour(a_grid, b_grid, np.log10(np.mean(err ** 2, axis=-1) + 1e-9), 20, cmap="Greys",
                  linewidths=0.6)
    right.plot(*truth, "k*", ms=14, label="truth")
    right.set(xlabel="a (slope)", ylabel="b (intercept)", title="path of (a, b)")
    right.legend(fontsize=8)
    fig.tight_layout()
    return fig
