"""Six optimizers in a few lines of numpy each, fitting a line y = a*x + b; lesson 4.

Every optimizer answers one question: given the gradient (which way is uphill for each parameter),
how far should each parameter move? Plain SGD moves a fixed fraction of the gradient. Momentum
keeps rolling in the direction it was going. Adagrad and RMSProp give each parameter its own step
size, smaller for parameters whose gradients have been large. Adam combines momentum with
RMSProp. Eve is Adam whose step also shrinks when the loss jumps around.

SGD, Momentum, Adagrad, RMSProp and Adam follow the update rules of the `keras.optimizers`
classes of the same names (defaults included), so their numbers can be checked against Keras.
Eve follows Koushik & Hayashi, "Improving Stochastic Gradient Descent with Feedback" (2016).
"""
import numpy as np


class Optimizer:
    """Base: `step(params, grads, loss)` returns the updated parameters; lesson 4."""

    name = "optimizer"

    def __init__(self, lr):
        self.lr = lr
        self.t = 0

    def step(self, params, grads, loss=None):
        """One update of `params` (an array) from `grads`; `loss` is used by Eve only."""
        self.t += 1
        return np.asarray(params, np.float64) - self._delta(np.asarray(grads, np.float64), loss)

    def _delta(self, g, loss):
        raise NotImplementedError


class SGD(Optimizer):
    """Move against the gradient by lr times its size; lesson 4."""

    name = "SGD"

    def _delta(self, g, loss):
        return self.lr * g


class Momentum(Optimizer):
    """SGD that keeps a running velocity, like a ball rolling downhill; lesson 4."""

    name = "momentum"

    def __init__(self, lr, momentum=0.9):
        super().__init__(lr)
        self.momentum, self.velocity = momentum, 0.0

    def _delta(self, g, loss):
        self.velocity = self.momentum * self.velocity - self.lr * g
        return -self.velocity


class Adagrad(Optimizer):
    """Per-parameter steps, divided by the root of all squared gradients so far; lesson 4."""

    name = "Adagrad"

    def __init__(self, lr, initial_accumulator_value=0.1, epsilon=1e-7):
        super().__init__(lr)
        self.acc, self.epsilon = initial_accumulator_value, epsilon

    def _delta(self, g, loss):
        self.acc = self.acc + g ** 2
        return self.lr * g / np.sqrt(self.acc + self.epsilon)


class RMSProp(Optimizer):
    """Like Adagrad, but with a decaying average of squared gradients, so steps never die; lesson 4."""

    name = "RMSProp"

    def __init__(self, lr, rho=0.9, epsilon=1e-7):
        super().__init__(lr)
        self.rho, self.epsilon, self.avg_sq = rho, epsilon, 0.0

    def _delta(self, g, loss):
        self.avg_sq = self.rho * self.avg_sq + (1 - self.rho) * g ** 2
        return self.lr * g / np.sqrt(self.avg_sq + self.epsilon)


class Adam(Optimizer):
    """Momentum's average gradient divided by RMSProp's root mean square, bias-corrected; lesson 4."""

    name = "Adam"

    def __init__(self, lr, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
        super().__init__(lr)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.m = self.v = 0.0

    def _delta(self, g, loss):
        # Both averages start at 0 and so are too small early on; the corrections undo that.
        self.m = self.m + (g - self.m) * (1 - self.beta_1)
        self.v = self.v + (g ** 2 - self.v) * (1 - self.beta_2)
        alpha = self.lr * np.sqrt(1 - self.beta_2 ** self.t) / (1 - self.beta_1 ** self.t)
        return alpha * self.m / (np.sqrt(self.v) + self.epsilon)


class Eve(Adam):
    """Adam whose step is divided by a smoothed relative change of the loss; lesson 4."""

    name = "Eve"

    def __init__(self, lr, beta_1=0.9, beta_2=0.999, beta_3=0.999, k=0.1, K=10.0, epsilon=1e-8):
        super().__init__(lr, beta_1, beta_2, epsilon)
        self.beta_3, self.k, self.K = beta_3, k, K
        self.d, self.f_hat = 1.0, None

    def _delta(self, g, loss):
        if loss is None:
            raise ValueError("Eve needs the loss at every step: step(params, grads, loss)")
        self._feedback(float(loss))
        return super()._delta(g, loss) / self.d

    def _feedback(self, f):
        if self.f_hat is None:  # first step: nothing to compare with yet
            self.f_hat = f
            return
        # The ratio of new to old loss is clipped, so one odd batch cannot stop or blow up steps.
        if f >= self.f_hat:
            low, high = self.k + 1, self.K + 1
        else:
            low, high = 1 / (self.K + 1), 1 / (self.k + 1)
        c = min(max(low, f / self.f_hat), high)
        new = c * self.f_hat
        r = abs(new - self.f_hat) / min(new, self.f_hat)
        self.d = self.beta_3 * self.d + (1 - self.beta_3) * r
        self.f_hat = new


def make_line(n=50, a=3.0, b=8.0, noise=0.0, seed=0):
    """Points (x, y) on y = a*x + b, x uniform in [0, 1], optional Gaussian noise; lesson 4."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, n)
    return x, a * x + b + rng.normal(0, noise, n)


def line_loss_grad(params, x, y):
    """Mean squared error of y = a*x + b and its gradient with respect to (a, b); lesson 4."""
    a, b = params
    err = a * x + b - y
    return float(np.mean(err ** 2)), np.array([np.mean(2 * err * x), np.mean(2 * err)])


def fit_line(optimizer, x, y, steps=200, start=(-1.0, 1.0), batch_size=None, seed=0):
    """Fit (a, b) with an optimizer; returns {'loss': per step, 'path': params per step}; lesson 4."""
    rng = np.random.default_rng(seed)
    params = np.array(start, np.float64)
    losses, path = [], [params]
    for _ in range(steps):
        idx = rng.choice(len(x), batch_size, replace=False) if batch_size else slice(None)
        loss, grads = line_loss_grad(params, x[idx], y[idx])
        params = optimizer.step(params, grads, loss)
        losses.append(line_loss_grad(params, x, y)[0])
        path.append(params)
    return {"loss": np.array(losses), "path": np.array(path)}


def default_optimizers():
    """The six optimizers with learning rates that suit the line-fitting demo; lesson 4."""
    return [SGD(0.3), Momentum(0.1), Adagrad(3.0), RMSProp(0.1), Adam(1.0), Eve(1.0)]


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
