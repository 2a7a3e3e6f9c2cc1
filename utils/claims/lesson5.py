"""Lesson 5's claimed effects, each measured side by side on its stand-in.

Both rows use the IMDB stand-in's reviews (a set of its own, under data/standin/claims/, so the
lesson's may have any size) and the GloVe stand-in made for their words: the first reviews of
its training part to train on (1,024 or 256), its first TEST test reviews to score on, each cut
or padded to SEQ_LEN words, a few epochs of Adam at LR, and the best test accuracy over the
epochs, as the course and the lesson report it (higher is better).

"conv1d": the lesson's one-hidden-layer net against its Conv1D net, both learning their
embeddings from scratch, on 1,024 reviews for 4 epochs. "glove-init": the Conv1D net with its
embedding started from random numbers (the lesson's) against the same net started from the
GloVe vectors, both trained alike, embeddings included, on 256 reviews for 6 epochs: pretrained
vectors matter most when labelled data is scarce, and with 1,024 reviews the stand-in shows no
gain after 4 epochs (both near 0.73). Each model is built once per process and given fresh seeded weights
for every run (`start_over`), so each run trains without a second trace.
"""
import json
from functools import lru_cache
from pathlib import Path

import keras
import numpy as np

from utils.claims import Claim
from utils.datasets import glove, imdb
from utils.env import precision_scope
from utils.lessons.lesson5 import glove_matrix, sentiment_conv1d, sentiment_nn
from utils.models import text as tm
from utils.paths import standin_dir
from utils.training import compile_model

STANDIN = (1024, 1000)    # reviews the claims' stand-in holds: training, test
TEST, SEQ_LEN = 1000, 100
VOCAB, DIM = 5000, 50     # words kept; numbers per word (GloVe's 50, for every net)
BATCH_SIZE, LR = 32, 0.002
ROWS = {"conv1d": (1024, 4), "glove-init": (256, 6)}  # training reviews, epochs


def standin_folder():
    """The claims' own IMDB stand-in, drawn once per data folder."""
    return str(imdb.make_standin(standin_dir() / "claims" / "imdb", imdb.Standin(*STANDIN)))


@lru_cache(maxsize=2)
def reviews(folder):
    """(train ids, train labels, test ids, test labels, GloVe matrix) of the claims' stand-in."""
    folder = Path(folder)
    (x_train, y_train), (x_test, y_test) = imdb.load_npz(folder / "imdb.npz", VOCAB)
    word_index = json.loads((folder / "imdb_word_index.json").read_text())
    vocab_words = sorted(word_index, key=word_index.get)[:VOCAB]
    path = glove.make_standin(vocab_words, folder.parent / "glove", dim=DIM)
    words, vectors = glove.load_glove(path, DIM)
    matrix, _ = glove_matrix(imdb.index_to_word(word_index), VOCAB, words, vectors)
    return (imdb.pad(x_train, SEQ_LEN), np.asarray(y_train),
            imdb.pad(x_test[:TEST], SEQ_LEN), np.asarray(y_test[:TEST]), matrix)


def _build(kind, matrix):
    """One of the lesson's nets in float32, at GloVe's 50 numbers per word, compiled as the notes
    compile it: 'nn' (one hidden layer), 'conv1d' (the Conv1D net from random numbers) or 'glove'
    (from the GloVe vectors)."""
    with precision_scope("float32"):
        if kind == "nn":
            model = sentiment_nn(VOCAB, SEQ_LEN, DIM)
        else:
            model = sentiment_conv1d(VOCAB, SEQ_LEN, DIM, weights=matrix if kind == "glove" else None)
        return compile_model(model, LR, "binary_crossentropy", metrics=["accuracy"])


@lru_cache(maxsize=6)
def _cached(folder, kind):
    """One compiled model per process and kind, trained again from fresh weights each run."""
    return _build(kind, reviews(folder)[-1])


@lru_cache(maxsize=32)
def accuracy(folder, kind, seed, n_train, epochs):
    """Best test accuracy over `epochs` of the net `kind` trained from `seed` on `n_train`."""
    x, y, x_test, y_test, matrix = reviews(folder)
    x, y = x[:n_train], y[:n_train]
    cached = _cached(folder, kind)  # built first: building it must not draw from this seed
    keras.utils.set_random_seed(seed)
    model = tm.start_over(cached, _build(kind, matrix))
    rng = np.random.default_rng(seed)  # the batches' order, seeded here, not by TensorFlow
    best = 0.0
    for _ in range(epochs):
        order = rng.permutation(len(x))
        model.fit(x[order], y[order], batch_size=BATCH_SIZE, epochs=1, shuffle=False, verbose=0)
        # the best test accuracy over the epochs, as the course and the lesson report it
        best = max(best, float(model.evaluate(x_test, y_test, batch_size=250, verbose=0)[1]))
    return best


def run_conv1d(side, seed):
    """Test accuracy of the one-hidden-layer net or the Conv1D net."""
    kind = "nn" if side == "one hidden layer" else "conv1d"
    return accuracy(standin_folder(), kind, seed, *ROWS["conv1d"])


def run_glove(side, seed):
    """Test accuracy of the Conv1D net started from random numbers or from GloVe."""
    kind = "glove" if side == "GloVe start" else "conv1d"
    return accuracy(standin_folder(), kind, seed, *ROWS["glove-init"])


CLAIMS = [
    Claim(5, "conv1d",
          "A convolution over 5-word windows reads reviews better than one hidden layer on the "
          "flattened words",
          ("one hidden layer", "Conv1D"), "test accuracy", True, run_conv1d,
          "one hidden layer 0.880, Conv1D 0.8947 (25,000 reviews of 500 words)"),
    Claim(5, "glove-init",
          "With few labelled reviews (256), embeddings started from GloVe beat random ones "
          "after the same epochs",
          ("random start", "GloVe start"), "test accuracy", True, run_glove,
          "Conv1D 0.8947 learnt from scratch; from GloVe, frozen 0.8978, fine-tuned 0.9008 "
          "(25,000 reviews)"),
]
