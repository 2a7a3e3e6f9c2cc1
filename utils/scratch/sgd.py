"""The plumbing around lesson 2's SGD from scratch: points to fit, the exact answer, the animation.

Lesson 2 fits a line y = a*x + b to points by stochastic gradient descent. The idea itself, the
line `lin`, its loss `mse`, the `gradients` and the loop `fit_line`, is defined in
nbs/lesson2.ipynb, whose export cells `make sync` writes into `utils.lessons.lesson2`. Here are
the points near a known line to fit (`make_data`), the exact least-squares answer to check SGD and
Keras against (`closed_form`), and the animation of the line and the loss as SGD runs (`animate`).
"""
import numpy as np

from utils.lessons.lesson2 import lin


def make_data(n=50, a=3.0, b=8.0, noise=0.5, seed=0):
    """n points near the line y = a*x + b, x uniform in [0, 1); returns (x, y); lesson 2."""
    rng = np.random.default_rng(seed)
    x = rng.random(n)
    return x, lin(a, b, x) + rng.normal(0, noise, n)


def closed_form(x, y):
    """The exact least-squares a and b, to check SGD and Keras against; lesson 2."""
    a, b = np.polyfit(np.asarray(x, dtype=float), np.asarray(y, dtype=float), 1)
    return float(a), float(b)


def animate(x, y, hist, frames=40, interval=120):
    """A matplotlib animation of the fitted line and the loss as SGD runs; lesson 2."""
    import matplotlib.pyplot as plt  # matplotlib only for the animation: the points need numpy alone
    from matplotlib.animation import FuncAnimation
    steps = np.unique(np.linspace(0, len(hist["loss"]) - 1, frames).round().astype(int))
    fig, (ax_fit, ax_loss) = plt.subplots(1, 2, figsize=(9, 3.5), dpi=72)
    ax_fit.scatter(x, y, s=12, color="gray", label="data")
    grid = np.array([np.min(x), np.max(x)])
    (line,) = ax_fit.plot(grid, lin(hist["a"][0], hist["b"][0], grid), "r-", lw=2, label="fit")
    ends = lin(hist["a"][steps, None], hist["b"][steps, None], grid)  # every line drawn
    ax_fit.set_ylim(min(np.min(y), ends.min()) - 1, max(np.max(y), ends.max()) + 1)
    ax_fit.set_xlabel("x")
    ax_fit.set_ylabel("y")
    ax_fit.legend(loc="upper left")
    title = ax_fit.set_title("")
    ax_loss.plot(hist["loss"], color="lightgray")
    (trace,) = ax_loss.plot([], [], "b-")
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("loss (log scale)")
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
