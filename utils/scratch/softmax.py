"""Softmax and cross-entropy on a small example, in plain numpy; lesson 4.

A classifier's last layer gives one raw score per class ("logits"). Softmax turns them into
probabilities: take exp of each (so all are positive), then divide by their sum (so they add up to
1). Cross-entropy then scores those probabilities against the truth: minus the log of the
probability given to the right class, so a confident right answer costs almost nothing and a
confident wrong one costs a lot.
"""
import numpy as np

EXAMPLE_CLASSES = ("cat", "dog", "plane", "fish", "building")
# Raw scores a model might give three images, and which class each image really is.
EXAMPLE_LOGITS = np.array([[2.0, 1.0, -1.0, 0.5, -2.0],
                           [0.5, 3.0, 0.0, -1.0, -0.5],
                           [-1.0, 0.0, 0.5, 2.5, 0.2]])
EXAMPLE_LABELS = np.array([0, 1, 2])  # the third image is a plane: the model gets it wrong


def softmax(logits, axis=-1):
    """Probabilities from raw scores: exp, then divide by the sum; lesson 4."""
    logits = np.asarray(logits, dtype=np.float64)
    # exp(1000) overflows; softmax does not change when one number is subtracted from every score.
    shifted = logits - logits.max(axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=axis, keepdims=True)


def _one_hot(labels, n_classes):
    labels = np.asarray(labels)
    if labels.ndim == 2:
        return labels.astype(np.float64)
    return np.eye(n_classes)[labels]


def cross_entropy(probs, labels, eps=1e-12):
    """Mean of -log(probability of the right class); labels as ints or one-hot rows; lesson 4."""
    probs = np.asarray(probs, dtype=np.float64)
    target = _one_hot(labels, probs.shape[-1])
    return float(np.mean(-np.sum(target * np.log(np.clip(probs, eps, 1)), axis=-1)))


def softmax_cross_entropy_grad(logits, labels):
    """Gradient of mean cross-entropy of softmax(logits) w.r.t. the logits: (p - y) / n; lesson 4."""
    p = softmax(logits)
    return (p - _one_hot(labels, p.shape[-1])) / len(p)


def example_table():
    """The small example as rows: logits, probabilities, and each image's loss; lesson 4."""
    probs = softmax(EXAMPLE_LOGITS)
    losses = [cross_entropy(p[None], [y]) for p, y in zip(probs, EXAMPLE_LABELS)]
    return {"classes": EXAMPLE_CLASSES, "logits": EXAMPLE_LOGITS, "probs": probs,
            "labels": EXAMPLE_LABELS, "losses": np.array(losses),
            "mean_loss": cross_entropy(probs, EXAMPLE_LABELS)}
