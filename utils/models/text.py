"""Keras models for text: IMDB sentiment (lesson 5), and the helpers around lesson 6's character models.

Each sentiment builder returns a compiled Keras model, ready to fit; the lessons read them as the
architecture of the step they teach, so each stays a few lines. Lesson 6's character models, the
windows and the stateful layout they train on, and the loop that writes text with them are defined
in nbs/lesson6.ipynb (`utils.lessons.lesson6`); here is what runs around them: resetting the state
of stateful layers, scoring in bits per character, and starting a compiled model over.
"""
import keras
import numpy as np
from keras import layers

from utils.training import compile_model

# ---------------------------------------------------------------- lesson 5: sentiment


def _sentiment_head(x, dropout=0.5):
    """Dense ReLU, dropout, then one sigmoid unit: P(positive)."""
    x = layers.Dense(100, activation="relu")(x)
    x = layers.Dropout(dropout)(x)
    return layers.Dense(1, activation="sigmoid", dtype="float32")(x)


def _compiled(inputs, outputs, name, lr=0.001):
    """A binary classifier compiled with Adam and accuracy."""
    model = keras.Model(inputs, outputs, name=name)
    return compile_model(model, lr, "binary_crossentropy", metrics=["accuracy"])


def _embedding(vocab, dim, weights=None, trainable=True, name="embedding"):
    """An Embedding layer, optionally starting from given vectors (e.g. GloVe)."""
    init = "uniform" if weights is None else keras.initializers.Constant(weights)
    return layers.Embedding(vocab, dim, embeddings_initializer=init, trainable=trainable,
                            name=name)


def sentiment_nn(vocab, seq_len, dim=32, lr=0.001):
    """Embedding, flatten, one hidden layer: the simplest sentiment net; lesson 5."""
    inputs = keras.Input((seq_len,), dtype="int32")
    x = layers.Flatten()(_embedding(vocab, dim)(inputs))
    return _compiled(inputs, _sentiment_head(x, 0.7), "sentiment_nn", lr)


def sentiment_conv1d(vocab, seq_len, dim=32, weights=None, trainable=True, lr=0.001):
    """Embedding, one Conv1D over word windows, max-pool, dense; lesson 5 (also with GloVe)."""
    if weights is not None:
        vocab, dim = weights.shape
    inputs = keras.Input((seq_len,), dtype="int32")
    x = _embedding(vocab, dim, weights, trainable)(inputs)
    x = layers.SpatialDropout1D(0.2)(x)  # drops whole word vectors, Keras 1's Embedding(dropout=)
    x = layers.Conv1D(64, 5, padding="same", activation="relu")(x)
    x = layers.Dropout(0.2)(x)
    x = layers.Flatten()(layers.MaxPooling1D()(x))
    return _compiled(inputs, _sentiment_head(x, 0.7), "sentiment_conv1d", lr)


def sentiment_multi_cnn(vocab, seq_len, dim=32, widths=(3, 4, 5), weights=None,
                        trainable=True, lr=0.001):
    """Several Conv1D widths side by side, concatenated: phrases of 3, 4, 5 words; lesson 5."""
    if weights is not None:
        vocab, dim = weights.shape
    inputs = keras.Input((seq_len,), dtype="int32")
    x = layers.SpatialDropout1D(0.2)(_embedding(vocab, dim, weights, trainable)(inputs))
    branches = [layers.Flatten()(layers.MaxPooling1D()(
        layers.Conv1D(64, w, padding="same", activation="relu")(x))) for w in widths]
    x = layers.Dropout(0.2)(layers.Concatenate()(branches))
    return _compiled(inputs, _sentiment_head(x, 0.7), "sentiment_multi_cnn", lr)


def sentiment_lstm(vocab, seq_len, dim=32, units=100, lr=0.001):
    """Embedding then an LSTM reading the review word by word; lesson 5."""
    inputs = keras.Input((seq_len,), dtype="int32")
    x = layers.SpatialDropout1D(0.2)(_embedding(vocab, dim)(inputs))
    # The LSTM keeps its state in float32 under mixed precision too: in bfloat16 (8 bits of
    # mantissa, rounded at each of 100 words) lesson 5's LSTM reached 0.60 on the stand-in
    # against 0.72 in float32.
    x = layers.LSTM(units, dtype="float32")(x)
    out = layers.Dense(1, activation="sigmoid", dtype="float32")(x)
    return _compiled(inputs, out, "sentiment_lstm", lr)


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
