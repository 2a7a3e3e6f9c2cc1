"""A convolutional network by hand on one handwritten digit, in plain numpy; lesson 4.

The course showed this in a spreadsheet: a digit as a grid of numbers, two 3x3 filters sliding
over it (one lights up where ink lies above paper, the bottom edge of a stroke; its transpose
where ink lies left of paper, a right edge), a second layer whose filters look at both
of the first layer's outputs at once, ReLU (negatives become 0), a 2x2 max-pool (keep the largest
of each 2x2 square) and a dense layer that turns what is left into ten class scores. Each step is
a few lines here, and `conv_stages` keeps every intermediate picture so the notebook can show them.
"""
import numpy as np

from utils.download import keras_cache
from utils.lessons.lesson2 import relu  # lesson 2's ReLU: negatives become 0

# Two hand-made first-layer filters. Under cross-correlation (what Keras computes) a row of 1s
# above a row of -1s fires where ink (1) lies above paper (0): a stroke's BOTTOM edge. Its
# transpose fires where ink lies left of paper: a RIGHT edge.
BOTTOM_EDGE = np.array([[1, 1, 1], [0, 0, 0], [-1, -1, -1]], dtype=np.float32)
RIGHT_EDGE = BOTTOM_EDGE.T.copy()
FIRST_LAYER = np.stack([BOTTOM_EDGE, RIGHT_EDGE])[:, None]  # (out=2, in=1, 3, 3)


def _mnist_cache():
    """Where Keras (and `utils.datasets.mnist`) keep mnist.npz once downloaded."""
    return keras_cache() / "mnist.npz"


def load_digit(index=0):
    """One real handwritten digit as a float image in [0, 1]: (image, label, source); lesson 4."""
    cached = _mnist_cache()
    if cached.is_file():  # the real MNIST, when an earlier lesson downloaded it
        with np.load(cached, allow_pickle=False) as f:
            return f["x_train"][index].astype(np.float32) / 255, int(f["y_train"][index]), "MNIST"
    # Offline: scikit-learn ships 1,797 real handwritten digits of 8x8 pixels; upscale to 24x24.
    from PIL import Image
    from sklearn.datasets import load_digits  # scikit-learn's digits, only when one is drawn
    digits = load_digits()
    small = Image.fromarray((digits.images[index] * (255 / 16)).astype(np.uint8))
    image = np.asarray(small.resize((24, 24), Image.BILINEAR), dtype=np.float32) / 255
    return image, int(digits.target[index]), "scikit-learn digits (8x8, upscaled)"


def conv2d(image, kernel):
    """Slide a 2-D kernel over a 2-D image ('valid' cross-correlation, as Keras does); lesson 4."""
    image, kernel = np.asarray(image, np.float32), np.asarray(kernel, np.float32)
    windows = np.lib.stride_tricks.sliding_window_view(image, kernel.shape)
    return np.einsum("ijkl,kl->ij", windows, kernel)


def conv_layer(channels, kernels, bias=None):
    """Convolve (in, H, W) channels with (out, in, k, k) kernels, summing over inputs; lesson 4."""
    channels, kernels = np.asarray(channels, np.float32), np.asarray(kernels, np.float32)
    if channels.ndim == 2:
        channels = channels[None]
    if kernels.shape[1] != channels.shape[0]:
        raise ValueError(f"kernels expect {kernels.shape[1]} input channel(s), "
                         f"got {channels.shape[0]}")
    out = np.stack([sum(conv2d(c, k) for c, k in zip(channels, per_out)) for per_out in kernels])
    return out if bias is None else out + np.asarray(bias, np.float32)[:, None, None]


def max_pool(channels, size=2):
    """Largest value of each size x size square of every channel (odd edges dropped); lesson 4."""
    channels = np.asarray(channels)
    c, h, w = channels.shape
    h, w = h // size * size, w // size * size
    blocks = channels[:, :h, :w].reshape(c, h // size, size, w // size, size)
    return blocks.max(axis=(2, 4))


def dense(x, weights, bias):
    """Flatten `x` and apply a dense layer: x @ weights + bias; lesson 4."""
    return np.asarray(x, np.float32).reshape(-1) @ weights + bias


def conv_stages(image, n_classes=10, seed=0):
    """Every stage of the two-layer conv net on one image, in order, as a dict; lesson 4."""
    # Only the first layer is hand-made; the second layer and the dense weights are random, as
    # before training: what they compute is arbitrary until a network learns them.
    rng = np.random.default_rng(seed)
    second = rng.normal(0, 1 / np.sqrt(2 * 9), (2, 2, 3, 3)).astype(np.float32)
    stages = {"input": np.asarray(image, np.float32)[None]}
    stages["conv1"] = conv_layer(stages["input"], FIRST_LAYER)
    stages["relu1"] = relu(stages["conv1"])
    stages["conv2"] = conv_layer(stages["relu1"], second)
    stages["relu2"] = relu(stages["conv2"])
    stages["pool"] = max_pool(stages["relu2"])
    weights = rng.normal(0, 1 / np.sqrt(stages["pool"].size), (stages["pool"].size, n_classes))
    stages["dense"] = dense(stages["pool"], weights.astype(np.float32), np.zeros(n_classes))
    return stages


def plot_conv_stages(stages):
    """One row of images per stage, one column per channel, plus the dense scores; lesson 4."""
    import matplotlib.pyplot as plt  # matplotlib only for the picture
    maps = [k for k in stages if k != "dense"]
    cols = max(stages[k].shape[0] for k in maps)
    fig, axes = plt.subplots(len(maps) + 1, cols, figsize=(2.6 * cols, 2.2 * (len(maps) + 1)),
                             squeeze=False)
    for row, name in zip(axes, maps):
        for i, ax in enumerate(row):
            ax.axis("off")
            if i < stages[name].shape[0]:
                ax.imshow(stages[name][i], cmap="gray")
                ax.set_title(f"{name}[{i}] {stages[name][i].shape[0]}x{stages[name][i].shape[1]}",
                             fontsize=9)
    for ax in axes[-1]:
        ax.axis("off")
    ax = axes[-1][0]
    ax.axis("on")
    ax.bar(range(len(stages["dense"])), stages["dense"])
    ax.set_title("dense: 10 scores", fontsize=9)
    ax.set_xlabel("class", fontsize=9)
    ax.set_ylabel("score", fontsize=9)
    fig.suptitle("A digit through each stage of the network, channel by channel")
    fig.tight_layout()
    return fig
