"""Keras models for text: IMDB sentiment (lesson 5) and character models (lesson 6).

Each builder returns a compiled Keras model, ready to fit; the lessons read them as the
architecture of the step they teach, so each stays a few lines.
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


# ---------------------------------------------------------------- lesson 6: characters


def _char_compile(model, lr):
    """Compile a next-character model: sparse cross-entropy over the alphabet."""
    return compile_model(model, lr, "sparse_categorical_crossentropy")


def char3_model(vocab, n_fac=42, n_hidden=256, lr=0.001):
    """Three characters in, the fourth out, one hidden state updated per char; lesson 6.

    The same three layers are used at every character: `embed` turns a char into a vector,
    `to_hidden` reads it into the state, `hidden_to_hidden` carries the state to the next char.
    """
    embed = layers.Embedding(vocab, n_fac, name="embed")
    to_hidden = layers.Dense(n_hidden, activation="relu", name="to_hidden")
    hidden_to_hidden = layers.Dense(n_hidden, activation="tanh", name="hidden_to_hidden")
    inputs = [keras.Input((1,), dtype="int32", name=f"c{i + 1}") for i in range(3)]
    vecs = [layers.Flatten()(embed(c)) for c in inputs]
    h = to_hidden(vecs[0])
    for v in vecs[1:]:
        h = hidden_to_hidden(layers.Add()([h, to_hidden(v)]))
    out = layers.Dense(vocab, activation="softmax", name="next_char", dtype="float32")(h)
    return _char_compile(keras.Model(inputs, out, name="char3"), lr)


def unrolled_rnn(vocab, cs=8, n_fac=42, n_hidden=256, lr=0.001):
    """An RNN unrolled by hand over `cs` characters from shared layers; lesson 6."""
    embed = layers.Embedding(vocab, n_fac, name="embed")
    to_hidden = layers.Dense(n_hidden, activation="relu", name="to_hidden")
    hidden_to_hidden = layers.Dense(n_hidden, activation="relu",
                                    kernel_initializer="identity", name="hidden_to_hidden")
    inputs = keras.Input((cs,), dtype="int32", name="chars")
    vecs = embed(inputs)
    h = None
    for t in range(cs):
        x_t = to_hidden(vecs[:, t, :])
        h = x_t if h is None else hidden_to_hidden(layers.Add()([h, x_t]))
    out = layers.Dense(vocab, activation="softmax", name="next_char", dtype="float32")(h)
    return _char_compile(keras.Model(inputs, out, name=f"unrolled_{cs}"), lr)


def simple_rnn_model(vocab, cs=8, n_fac=42, n_hidden=256, return_sequences=False, lr=0.001):
    """Keras's SimpleRNN doing the unrolling; with return_sequences, a guess per step; lesson 6."""
    inputs = keras.Input((cs,), dtype="int32", name="chars")
    x = layers.Embedding(vocab, n_fac, name="embed")(inputs)
    x = layers.SimpleRNN(n_hidden, activation="relu", recurrent_initializer="identity",
                         return_sequences=return_sequences)(x)
    out = layers.Dense(vocab, activation="softmax", name="next_char", dtype="float32")(x)
    name = "simple_rnn_seq" if return_sequences else "simple_rnn"
    return _char_compile(keras.Model(inputs, out, name=name), lr)


def stateful_model(vocab, batch_size, cs=8, n_fac=42, n_hidden=256, cell="LSTM", lr=0.001,
                   stateful=True):
    """A stateful RNN with batch norm: the state carries on across batches; lesson 6.

    Keras 3 needs the batch size fixed in the input (`batch_shape`), and every array given to fit
    or predict must hold a multiple of it. `stateful=False` gives the same model starting every
    batch from a zero state: the stateless one to compare it with.
    """
    rnn = {"LSTM": layers.LSTM, "GRU": layers.GRU, "SimpleRNN": layers.SimpleRNN}[cell]
    inputs = keras.Input(batch_shape=(batch_size, cs), dtype="int32", name="chars")
    x = layers.Embedding(vocab, n_fac, name="embed")(inputs)
    x = layers.BatchNormalization()(x)
    x = rnn(n_hidden, return_sequences=True, stateful=stateful, name="stateful_rnn")(x)
    out = layers.Dense(vocab, activation="softmax", name="next_char", dtype="float32")(x)
    name = f"{'stateful' if stateful else 'stateless'}_{cell.lower()}"
    return _char_compile(keras.Model(inputs, out, name=name), lr)


def char_rnn(vocab, cs=None, n_fac=42, n_hidden=256, n_layers=1, cell="GRU", dropout=0.0,
             lr=0.002):
    """Stacked GRU/LSTM layers predicting the next char at every step; lesson 6."""
    rnn = {"LSTM": layers.LSTM, "GRU": layers.GRU}[cell]
    inputs = keras.Input((cs,), dtype="int32", name="chars")
    x = layers.Embedding(vocab, n_fac, name="embed")(inputs)
    for i in range(n_layers):
        x = rnn(n_hidden, return_sequences=True, dropout=dropout, name=f"{cell.lower()}_{i}")(x)
    out = layers.Dense(vocab, activation="softmax", name="next_char", dtype="float32")(x)
    return _char_compile(keras.Model(inputs, out, name=f"char_{cell.lower()}"), lr)


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


# ---------------------------------------------------------------- lesson 6: character data


def char_windows(idx, cs):
    """Every run of `cs` chars as inputs, and the char after it as target; lesson 6."""
    idx = np.asarray(idx)
    n = len(idx) - cs
    if n < 1:
        raise ValueError(f"A text of {len(idx)} characters has no {cs}-character windows.")
    x = np.lib.stride_tricks.sliding_window_view(idx[:-1], cs)[:n]
    return np.ascontiguousarray(x), idx[cs:cs + n]


def seq_windows(idx, cs, step=None):
    """Runs of `cs` chars and the same runs shifted by one, every `step` chars; lesson 6."""
    idx = np.asarray(idx)
    step = step or cs
    starts = np.arange(0, len(idx) - cs - 1, step)
    x = np.stack([idx[s:s + cs] for s in starts])
    return x, np.stack([idx[s + 1:s + cs + 1] for s in starts])


def as_columns(x):
    """(N, cs) windows as cs arrays of shape (N, 1), for one-input-per-char models; lesson 6."""
    return [x[:, i:i + 1] for i in range(x.shape[1])]


def stateful_layout(idx, batch_size, cs):
    """Arrange text so row b of every batch continues row b of the batch before; lesson 6.

    The text is cut into `batch_size` long streams read side by side; each batch holds the next
    `cs` characters of every stream. Feed the result to fit with shuffle=False.
    """
    idx = np.asarray(idx)
    per_stream = (len(idx) - 1) // batch_size // cs * cs
    if per_stream < cs:
        raise ValueError(f"A text of {len(idx)} characters is too short for {batch_size} "
                         f"streams of {cs} characters.")
    n = per_stream * batch_size
    xs = idx[:n].reshape(batch_size, per_stream // cs, cs)
    ys = idx[1:n + 1].reshape(batch_size, per_stream // cs, cs)
    # batch-major order: (chunk 0 of every stream), (chunk 1 of every stream), ...
    return (xs.transpose(1, 0, 2).reshape(-1, cs), ys.transpose(1, 0, 2).reshape(-1, cs))


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


def sample_text(model, seed, n, chars, temperature=1.0, cs=None, rng=None):
    """Extend `seed` by `n` characters, sampling each from the model; lesson 6.

    Temperature divides the model's log-probabilities: below 1 it plays safe (repetitive), above
    1 it takes risks (inventive, more typos). `cs` is the window a fixed-length model reads; give
    it for sequence models too (with a seed of at least `cs` characters), or every new length
    costs a fresh compile.
    """
    rng = rng or np.random.default_rng(0)
    index = {c: i for i, c in enumerate(chars)}
    ids = [index[c] for c in seed]
    for _ in range(n):
        window = ids[-cs:] if cs else ids
        x = np.array([window])
        if len(model.inputs) > 1:  # one input per character, as in the 3-char model
            x = as_columns(x)
        # predict_on_batch reuses one compiled graph while the window keeps its length
        probs = np.asarray(model.predict_on_batch(x))[0]
        probs = probs[-1] if probs.ndim == 2 else probs  # sequence models: the last step's guess
        logits = np.log(np.maximum(probs.astype(np.float64), 1e-12)) / temperature
        p = np.exp(logits - logits.max())
        ids.append(int(rng.choice(len(p), p=p / p.sum())))
    return seed + "".join(chars[i] for i in ids[len(seed):])
