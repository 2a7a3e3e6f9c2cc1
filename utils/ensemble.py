"""Ensembles: several models trained alike, whose averaged predictions beat each one alone.

Each network of an ensemble starts from different random weights and sees its batches in a
different order, so each makes somewhat different mistakes. Averaging their class probabilities
cancels much of that: lesson 3's six MNIST CNNs beat the best of them, and the course's five
dogs-vs-cats models did the same.
"""
import numpy as np


def average_predictions(preds, weights=None):
    """Average several models' class probabilities, optionally weighted; lesson 3."""
    stack = np.stack([np.asarray(p, dtype="float64") for p in preds])
    if stack.ndim < 2:
        raise ValueError("average_predictions needs a list of prediction arrays, one per model")
    shapes = {np.shape(p) for p in preds}
    if len(shapes) > 1:
        raise ValueError(f"every model must predict the same shape, got {sorted(shapes)}")
    if weights is None:
        return stack.mean(axis=0)
    weights = np.asarray(weights, dtype="float64")
    if weights.shape != (len(stack),) or weights.sum() <= 0 or (weights < 0).any():
        raise ValueError(f"weights must be {len(stack)} non-negative numbers with a positive sum")
    return np.tensordot(weights / weights.sum(), stack, axes=1)


def ensemble_predict(models, x, batch_size=256):
    """Each model's predictions on x and their average: (average, list of each); lesson 3."""
    if not models:
        raise ValueError("ensemble_predict needs at least one model")
    each = [np.asarray(m.predict(x, batch_size=batch_size, verbose=0)) for m in models]
    return average_predictions(each), each


def accuracy(probs, labels):
    """Share of rows whose most probable class is the label (integers or one-hot); lesson 3."""
    labels = np.asarray(labels)
    if labels.ndim > 1:
        labels = labels.argmax(axis=-1)
    return float(np.mean(np.asarray(probs).argmax(axis=-1) == labels))


def train_ensemble(build, fit, n=6, seed=0):
    """Build and train n models alike, each from its own random seed; returns them; lesson 3."""
    import keras  # Keras loads only when an ensemble is trained
    if n < 1:
        raise ValueError("an ensemble needs at least one model")
    models = []
    for i in range(n):
        keras.utils.set_random_seed(seed + i)  # different starting weights and batch order
        model = build()
        fit(model)
        models.append(model)
    return models
