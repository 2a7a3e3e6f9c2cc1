"""Pictures the lessons draw: image grids, confusion matrices, training curves, and where a model
looks (bounding boxes and class activation maps on photos)."""
import itertools

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle
from PIL import Image


def _as_images(ims):
    """Channels-last uint8-ready images from an array, a list or one batch."""
    ims = np.asarray(ims)
    if ims.ndim == 3:
        ims = ims[None]
    if ims.dtype != np.uint8 and ims.max() > 1.0:
        ims = np.clip(ims, 0, 255).astype(np.uint8)
    return ims


def plots(ims, titles=None, rows=1, figsize=(12, 6), interp=False, title=None):
    """Show images side by side in `rows` rows, each with an optional title, and the figure with
    an optional `title` above them all; lessons 1-7."""
    ims = _as_images(ims)
    cols = int(np.ceil(len(ims) / rows))
    fig = plt.figure(figsize=figsize)
    if title is not None:
        fig.suptitle(title)
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
        ax.set_ylabel(name)
        ax.set_title(f"{name} after each epoch: training and validation")
        ax.legend()
    fig.tight_layout()
    return fig


def _grid(n, cols, figsize, title=None):
    """A figure with n axes in rows of `cols`, axes turned off, and its title if one is given."""
    cols = min(cols, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=figsize or (3.2 * cols, 2.2 * rows),
                             squeeze=False)
    if title is not None:
        fig.suptitle(title)
    for ax in axes.ravel():
        ax.axis("off")
    return fig, axes.ravel()


def _rect(ax, box, colour):
    x, y, w, h = box
    ax.add_patch(Rectangle((x, y), w, h, fill=False, edgecolor=colour, linewidth=2))


def plot_boxes(ims, boxes=None, pred_boxes=None, titles=None, cols=4, figsize=None, title=None):
    """Photos with true boxes (yellow) and predicted ones (red), as (x, y, w, h), under an
    optional figure `title`; lesson 7."""
    ims = _as_images(ims)
    fig, axes = _grid(len(ims), cols, figsize, title)
    for i, (ax, im) in enumerate(zip(axes, ims)):
        ax.imshow(im)
        if boxes is not None and np.any(boxes[i]):
            _rect(ax, boxes[i], "yellow")
        if pred_boxes is not None:
            _rect(ax, pred_boxes[i], "red")
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=9)
    fig.tight_layout()
    return fig


def upsample(cam, shape):
    """A small activation map stretched smoothly to an image's (height, width); lesson 7."""
    h, w = shape
    return np.asarray(Image.fromarray(np.asarray(cam, "float32"), mode="F").resize(
        (w, h), Image.BILINEAR))


def plot_cams(ims, cams, titles=None, boxes=None, cols=4, alpha=0.5, figsize=None, title=None):
    """Class activation maps drawn over their photos, hot where the class was seen, under an
    optional figure `title`; lesson 7."""
    ims = _as_images(ims)
    fig, axes = _grid(len(ims), cols, figsize, title)
    for i, (ax, im) in enumerate(zip(axes, ims)):
        ax.imshow(im)
        ax.imshow(upsample(cams[i], im.shape[:2]), cmap="jet", alpha=alpha)
        if boxes is not None and np.any(boxes[i]):
            _rect(ax, boxes[i], "white")
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=9)
    fig.tight_layout()
    return fig
