"""Pictures the lessons draw: image grids, confusion matrices and training curves."""
import itertools

import matplotlib.pyplot as plt
import numpy as np


def _as_images(ims):
    """Channels-last uint8-ready images from an array, a list or one batch."""
    ims = np.asarray(ims)
    if ims.ndim == 3:
        ims = ims[None]
    if ims.dtype != np.uint8 and ims.max() > 1.0:
        ims = np.clip(ims, 0, 255).astype(np.uint8)
    return ims


def plots(ims, titles=None, rows=1, figsize=(12, 6), interp=False):
    """Show images side by side in `rows` rows, with optional titles; lessons 1-7."""
    ims = _as_images(ims)
    cols = int(np.ceil(len(ims) / rows))
    fig = plt.figure(figsize=figsize)
    for i, im in enumerate(ims):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.axis("off")
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=10)
        ax.imshow(im.squeeze(), interpolation=None if interp else "none",
                  cmap="gray" if im.shape[-1] == 1 or im.ndim == 2 else None)
    return fig


def plot(im, interp=False):
    """Show one image; lessons 1-7."""
    return plots([im], figsize=(4, 4), interp=interp)


def plot_confusion_matrix(cm, classes, normalize=False, title="Confusion matrix", cmap=None):
    """Draw a confusion matrix with its counts in the cells; lessons 1-3."""
    cm = np.asarray(cm, dtype=float if normalize else int)
    if normalize:
        cm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(max(4, len(classes)), max(4, len(classes))))
    ax.imshow(cm, interpolation="nearest", cmap=cmap or plt.cm.Blues)
    ax.set_title(title)
    ax.set_xticks(range(len(classes)), classes, rotation=45)
    ax.set_yticks(range(len(classes)), classes)
    threshold = cm.max() / 2 if cm.size else 0
    for i, j in itertools.product(range(cm.shape[0]), range(cm.shape[1])):
        text = f"{cm[i, j]:.2f}" if normalize else str(cm[i, j])
        ax.text(j, i, text, ha="center", color="white" if cm[i, j] > threshold else "black")
    ax.set_ylabel("True label")
    ax.set_xlabel("Predicted label")
    fig.tight_layout()
    return fig


def plot_history(history, metrics=("loss", "accuracy")):
    """Training and validation curves of a Keras History, one panel per metric; lessons 1-7."""
    hist = getattr(history, "history", history)
    fig, axes = plt.subplots(1, len(metrics), figsize=(5 * len(metrics), 3.5), squeeze=False)
    for ax, name in zip(axes[0], metrics):
        for key, style in ((name, "-o"), (f"val_{name}", "--o")):
            if key in hist:
                ax.plot(range(1, len(hist[key]) + 1), hist[key], style, label=key)
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.legend()
    fig.tight_layout()
    return fig
