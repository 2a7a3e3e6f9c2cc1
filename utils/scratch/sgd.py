"""Stochastic gradient descent from scratch, on the simplest model there is: a line y = a*x + b.

Lesson 2 opens the black box of training. We make points that lie near a known line, start from
a wrong guess of a and b, and repeatedly nudge the guess downhill on the loss (the mean squared
error): compute how the loss changes when a or b grows a little (the gradient), and step the other
way, by a small amount set by the learning rate. `animate` shows the line and the loss as they go.
"""
import numpy as np


def lin(a, b, x):
    """The line a*x + b at each x; lesson 2."""
    return a * np.asarray(x) + b


def make_data(n=50, a=3.0, b=8.0, noise=0.5, seed=0):
    """n points near the line y = a*x + b, x uniform in [0, 1); returns (x, y); lesson 2."""
    rng = np.random.default_rng(seed)
    x = rng.random(n)
    return x, lin(a, b, x) + rng.normal(0, noise, n)


def mse(y_pred, y):
    """Mean squared error: the average of the squared misses; lesson 2."""
    return float(np.mean((np.asarray(y_pred) - np.asarray(y)) ** 2))


def gradients(a, b, x, y):
    """How fast the mean squared error grows with a and with b: (d_loss/da, d_loss/db); lesson 2."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    miss = lin(a, b, x) - y          # error of each prediction
    d_b = 2 * miss                   # d(miss**2)/db: b moves every prediction one for one
    return float(np.mean(x * d_b)), float(np.mean(d_b))  # a moves each prediction by x


def sgd_step(a, b, x, y, lr):
    """One step downhill: move a and b against their gradients, by lr times; lesson 2."""
    d_a, d_b = gradients(a, b, x, y)
    return a - lr * d_a, b - lr * d_b


def sgd(x, y, a=-1.0, b=1.0, lr=0.1, epochs=20, batch_size=10, seed=0):
    """Fit y = a*x + b by minibatch SGD; returns a dict of arrays a, b, loss per step; lesson 2."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1 or not len(x):
        raise ValueError("x and y must be 1-d arrays of the same, non-zero length")
    if lr <= 0 or batch_size < 1:
        raise ValueError("lr must be positive and batch_size at least 1")
    rng = np.random.default_rng(seed)
    hist = {"a": [a], "b": [b], "loss": [mse(lin(a, b, x), y)]}
    for _ in range(epochs):
        order = rng.permutation(len(x))  # a fresh random order each pass: "stochastic"
        for start in range(0, len(x), batch_size):
            idx = order[start:start + batch_size]
            a, b = sgd_step(a, b, x[idx], y[idx], lr)
            hist["a"].append(a)
            hist["b"].append(b)
            hist["loss"].append(mse(lin(a, b, x), y))
            if not hist["loss"][-1] <= 1e3 * hist["loss"][0]:  # also catches inf and nan
                raise FloatingPointError(f"SGD diverged at lr={lr}: each step overshoots more "
                                         "than the last; try a learning rate ten times smaller")
    return {k: np.array(v) for k, v in hist.items()}


def closed_form(x, y):
    """The exact least-squares a and b, to check SGD and Keras against; lesson 2."""
    a, b = np.polyfit(np.asarray(x, dtype=float), np.asarray(y, dtype=float), 1)
    return float(a), float(b)


def animate(x, y, hist, frames=40, interval=120):
    """A matplotlib animation of the fitted line and the loss as SGD runs; lesson 2."""
    import matplotlib.pyplot as plt  # matplotlib only for the animation: the update rule needs numpy alone
    from matplotlib.animation import FuncAnimation
    steps = np.unique(np.linspace(0, len(hist["loss"]) - 1, frames).round().astype(int))
    fig, (ax_fit, ax_loss) = plt.subplots(1, 2, figsize=(9, 3.5), dpi=72)
    ax_fit.scatter(x, y, s=12, color="gray", label="data")
    grid = np.array([np.min(x), np.max(x)])
    (line,) = ax_fit.plot(grid, lin(hist["a"][0], hist["b"][0], grid), "r-", lw=2, label="fit")
    ends = lin(hist["a"][steps, None], hist["b"][steps, None], grid)  # every line drawn
    ax_fit.set_ylim(min(np.min(y), ends.min()) - 1, max(np.max(y), ends.max()) + 1)
    ax_fit.set_xlabel("x")
    ax_fit.legend(loc="upper left")
    title = ax_fit.set_title("")
    ax_loss.plot(hist["loss"], color="lightgray")
    (trace,) = ax_loss.plot([], [], "b-")
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("step")
    ax_loss.set_title("loss (mean squared error)")
    fig.tight_layout()

    def draw(step):
        line.set_ydata(lin(hist["a"][step], hist["b"][step], grid))
        trace.set_data(np.arange(step + 1), hist["loss"][:step + 1])
        title.set_text(f"step {step}: a={hist['a'][step]:.2f} b={hist['b'][step]:.2f}")
        return line, trace, title

    anim = FuncAnimation(fig, draw, frames=steps, interval=interval, blit=False)
    plt.close(fig)  # the animation is shown as HTML; without this the last frame shows twice
    return anim


def animation_html(anim):
    """An animation as self-contained HTML/JavaScript that plays in notebooks and notes; lesson 2."""
    return anim.to_jshtml(default_mode="once")
