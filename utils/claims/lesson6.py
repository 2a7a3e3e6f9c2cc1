"""Lesson 6's claimed effects, each measured side by side on its stand-in.

Both rows use one slice of the stand-in text (Python's reference documentation): the first
30,000 characters to train on, the next 5,000 to tune the n-gram's n and k, the 10,000 after
those to score every model on, in bits per character (lower is better).

"rnn-vs-ngram": the best count-based n-gram (n = 1..6, k tuned) against the stateless LSTM of
"stateful", both scored on exactly the same held-out characters. "stateful": the same LSTM with
batch norm, the same size, the same batches of 64 streams of text read side by side, 8
characters at a time; one keeps its state from batch to batch, the other starts every batch
from zero. Each model is built once per process and given fresh seeded weights for every run
(`start_over`), so each run trains without a second trace.
"""
from functools import lru_cache
from pathlib import Path

import keras
import numpy as np

from utils.claims import Claim
from utils.datasets import text as textdata
from utils.env import precision_scope
from utils.lessons import lesson6
from utils.models import text as tm
from utils.ngram import best_ngram
from utils.training import compile_model

TRAIN, TUNE, TEST = 30_000, 5_000, 10_000   # characters
STREAMS, CS = 64, 8                         # the stateful layout: streams side by side, chars each
N_FAC, N_HIDDEN, EPOCHS, LR = 24, 128, 3, 0.03


def standin_folder():
    """Where the stand-in text lives now (the data folder may move between tests)."""
    return str(textdata.get("standin").path.parent)


@lru_cache(maxsize=2)
def slices(folder):
    """(alphabet size, train, tune, test) ids of the stand-in text in `folder`."""
    corpus = (Path(folder) / textdata.FILENAME).read_text(encoding="utf-8")
    chars = textdata.char_vocab(corpus)
    idx = textdata.encode(corpus[:TRAIN + TUNE + TEST], chars)
    return len(chars), idx[:TRAIN], idx[TRAIN:TRAIN + TUNE], idx[TRAIN + TUNE:]


def layout(part, folder):
    """A slice ('train' or 'test') as the stateful layout's (x, y), cached."""
    return _layout(folder, part)


@lru_cache(maxsize=4)
def _layout(folder, part):
    vocab, train, _, test = slices(folder)
    return lesson6.stateful_layout(train if part == "train" else test, STREAMS, CS)


def _build(vocab, stateful):
    """The lesson's stateful model, or the same one starting each batch from zero, in float32."""
    with precision_scope("float32"):
        model = lesson6.stateful_model(vocab, STREAMS, CS, N_FAC, N_HIDDEN, stateful=stateful)
        return compile_model(model, LR, "sparse_categorical_crossentropy")


@lru_cache(maxsize=4)
def _cached(folder, stateful):
    """One compiled model per process and kind, trained again from fresh weights each run."""
    return _build(slices(folder)[0], stateful)


@lru_cache(maxsize=16)
def lstm_bits(folder, stateful, seed):
    """Held-out bits per character of the LSTM trained from `seed`, with or without state."""
    cached = _cached(folder, stateful)  # built first: building it must not draw from this seed
    keras.utils.set_random_seed(seed)
    fresh = _build(slices(folder)[0], stateful)  # the weights a new model gets from this seed
    model = tm.start_over(cached, fresh)
    x, y = layout("train", folder)
    for _ in range(EPOCHS):
        tm.reset_states(model)  # each pass starts from the start of the text
        model.fit(x, y, batch_size=STREAMS, epochs=1, shuffle=False, verbose=0)
    tm.reset_states(model)
    bits = tm.bits_per_char(model, *layout("test", folder), batch_size=STREAMS)
    tm.reset_states(model)
    return bits


@lru_cache(maxsize=2)
def ngram_bits(folder):
    """Held-out bits per character of the best n-gram, on the characters the LSTM is scored on.

    The LSTM's layout scores test characters 1..n of the test slice; the n-gram reads the end
    of the tuning slice as its context for the first few, so both score the same characters.
    """
    vocab, train, tune, test = slices(folder)
    best, _ = best_ngram(train, tune, vocab)
    n_scored = len(layout("test", folder)[1].ravel())
    context = tune[len(tune) - (best.n - 1):] if best.n > 1 else tune[:0]
    logp = best.log2_probs(np.concatenate([context, test]))  # one per test character
    return float(-logp[1:n_scored + 1].mean())


def run_rnn_vs_ngram(side, seed):
    """Held-out bits per character of the best n-gram (no randomness) or the stateless LSTM."""
    folder = standin_folder()
    return ngram_bits(folder) if side == "best n-gram" else lstm_bits(folder, False, seed)


def run_stateful(side, seed):
    """Held-out bits per character of the LSTM with or without its state carried on."""
    return lstm_bits(standin_folder(), side == "stateful", seed)


CLAIMS = [
    Claim(6, "rnn-vs-ngram",
          "An RNN (an LSTM reading 8 characters at a time) guesses held-out text better than "
          "the best counting n-gram",
          ("best n-gram", "LSTM"), "held-out bits/char", False, run_rnn_vs_ngram,
          "the course compared no n-gram; on the whole stand-in text a GRU(256) trained six "
          "epochs beats the best n-gram (python -m bench.bench_lesson6 prints both)"),
    Claim(6, "stateful",
          "The same LSTM keeping its state from batch to batch beats it starting every batch "
          "from zero",
          ("stateless", "stateful"), "held-out bits/char", False, run_stateful,
          "the course's printed training losses: SimpleRNN 1.6421 nats, the stateful LSTM + BN "
          "1.6881 (different models, and the stateful one did not beat it)"),
]
