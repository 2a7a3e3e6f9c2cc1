"""Keras helpers for text: around lesson 5's sentiment models and lesson 6's character models.

Lesson 5's sentiment models and lesson 6's character models, with the windows and the stateful
layout they train on and the loop that writes text with them, are defined in the notes
(nbs/lesson5.ipynb and nbs/lesson6.ipynb, generated into `utils.lessons.lesson5` and `lesson6`).
Here is what runs around them: letting a frozen embedding train, starting a compiled model over,
resetting the state of stateful layers, and scoring in bits per character.
"""
import keras
import numpy as np

from utils.training import compile_model

# ---------------------------------------------------------------- lesson 5: around the sentiment models


def unfreeze_embedding(model, lr=0.0001):
    """Let a frozen (GloVe) embedding train too, at a lower learning rate; lesson 5."""
    model.get_layer("embedding").trainable = True
    # trainable flags take effect at compile time
    return compile_model(model, lr, "binary_crossentropy", metrics=["accuracy"])


def start_over(model, fresh):
    """Give a compiled `model` the weights of `fresh` (same architecture) and a new optimizer
    state, as if just built: its traced training step is kept, so training again costs no
    second trace (seconds per model on a CPU); lessons 5 and 6's claims."""
    # every variable: the weights, and the dropout layers' random-number states, so that a run
    # draws the same dropout masks whatever ran before it
    for mine, theirs in zip(model.variables, fresh.variables, strict=True):
        mine.assign(theirs)
    rate = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
    for v in model.optimizer.variables:  # step count and moment estimates back to zero
        v.assign(np.zeros(v.shape, v.dtype))
    model.optimizer.learning_rate = rate  # the rate is one of those variables
    return model


# ---------------------------------------------------------------- lesson 6: around the character models


def reset_states(model):
    """Zero the state of every stateful layer (Keras 3 has no Model.reset_states); lesson 6."""
    found = [layer for layer in model.layers if getattr(layer, "stateful", False)]
    for layer in found:
        layer.reset_state()
    return len(found)


class ResetStatesEachEpoch(keras.callbacks.Callback):
    """Start every epoch from a zero state, since the text starts over; lesson 6."""

    def on_epoch_begin(self, epoch, logs=None):
        reset_states(self.model)


def bits_per_char(model, x, y, batch_size=256):
    """Average bits per predicted character of a next-char model on (x, y); lesson 6."""
    loss = model.evaluate(x, y, batch_size=batch_size, verbose=0)
    return float(loss) / np.log(2)


def char_log2_probs(model, idx, burn=64, score=64, batch_size=64):
    """log2 P of each char from position `burn` on, each read after >= `burn` chars; lesson 6.

    A sequence model is most useful with some text behind it, so the text is read in overlapping
    windows: each window's first `burn` characters only warm up the state, and its last `score`
    predictions are kept. Every character from `burn` on is scored exactly once.
    """
    if burn < 1 or score < 1:
        raise ValueError("burn and score must be at least 1 character.")
    idx = np.asarray(idx)
    starts = np.arange(burn, len(idx), score)
    full = starts[starts + score <= len(idx)]
    out = []
    if len(full):
        x = np.stack([idx[s - burn:s + score - 1] for s in full])
        y = np.stack([idx[s:s + score] for s in full])
        p = model.predict(x, batch_size=batch_size, verbose=0)[:, burn - 1:]
        out.append(np.take_along_axis(p, y[..., None], -1)[..., 0].ravel())
    rest = full[-1] + score if len(full) else burn
    if rest < len(idx):  # the last, shorter window
        p = model.predict(idx[None, rest - burn:len(idx) - 1], verbose=0)[0, burn - 1:]
        out.append(p[np.arange(len(idx) - rest), idx[rest:]])
    return np.log2(np.maximum(np.concatenate(out).astype(np.float64), 1e-12))
