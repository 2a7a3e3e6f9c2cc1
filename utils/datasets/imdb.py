"""IMDB movie reviews (lesson 5): Keras's copy, or a stand-in written in exactly its format.

Keras ships the 50,000 reviews (25,000 to train, 25,000 to test, half positive) already turned into
numbers: `imdb.npz` holds `x_train`, `y_train`, `x_test`, `y_test`, each review a list of word
ranks (1 = the most frequent word), and `imdb_word_index.json` maps each word to its rank.
`keras.datasets.imdb.load_data` then shifts every rank by 3 to make room for 0 (padding),
1 (start of review) and 2 (a word outside the vocabulary), and keeps the `num_words` most frequent.

The stand-in is a pair of files in that same format: synthetic reviews whose words come from
English prose, with sentiment words that decide the label: a few common ones and a long tail of
rare ones, in short phrases about the film ("the plot was gripping and moving"), a quarter of
them negated ("not funny" in a bad review, "not boring" in a good one), a tenth of the phrases
pointing the other way (mixed reviews). `load_npz` reads them exactly
the way Keras reads its own file. The real files are fetched by `utils.download` from Keras's
address, checked against Keras's own hashes, into Keras's cache (`~/.keras/datasets/`), so a copy
that `keras.datasets.imdb` fetched serves here too and the other way round. `DATA='sample'` is
the first 2,500 training and 2,500 test reviews (after Keras's shuffle, so both labels).
"""
import json
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from utils.datasets.base import Data
from utils.datasets.standin import by_mode, kind, made, with_banner
from utils.download import DownloadError, download as fetch, keras_cache
from utils.paths import standin_dir

START, OOV, INDEX_FROM = 1, 2, 3
KERAS_SEED = 113  # the seed keras.datasets.imdb shuffles with
BASE_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
# Keras's own hashes of its two files (keras.datasets.imdb): sha256 and md5.
FILES = {"imdb.npz": "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f",
         "imdb_word_index.json": "bfafd718b763782e994055a2d397834f"}
SAMPLE_REVIEWS = 2500  # DATA='sample': this many training and test reviews
N_FILLER = 3000  # the stand-in's ordinary words
TITLE = "The IMDB review dataset"
HOW_TO_GET = ("Real data: run with DATA='full' on a machine with internet; it downloads the\n"
              "IMDB reviews (imdb.npz, imdb_word_index.json) into ~/.keras/datasets/ once.")

# The sentiment words, most used first: a few common ones ("great", "awful") and many rare ones,
# as in real reviews, where most of the words that carry an opinion are seen only now and then.
POSITIVE = ("great", "excellent", "wonderful", "brilliant", "superb", "enjoyable", "moving",
            "delightful", "masterpiece", "charming", "gripping", "beautiful", "funny",
            "touching", "memorable", "outstanding", "good", "fantastic", "amazing", "perfect",
            "lovely", "stunning", "powerful", "clever", "witty", "engaging", "compelling",
            "entertaining", "heartfelt", "haunting", "riveting", "terrific", "splendid",
            "hilarious", "refreshing", "remarkable", "exceptional", "magnificent", "sublime",
            "tender", "elegant", "thrilling", "captivating", "satisfying", "poignant",
            "exquisite", "flawless", "dazzling", "uplifting", "marvellous", "superlative",
            "absorbing", "breathtaking", "enchanting", "graceful", "inventive", "luminous",
            "masterful", "rousing", "sparkling")
NEGATIVE = ("awful", "boring", "terrible", "dull", "worst", "waste", "horrible", "mess",
            "stupid", "pointless", "tedious", "poor", "bland", "clumsy", "unwatchable",
            "disappointing", "bad", "weak", "lame", "silly", "annoying", "forgettable",
            "predictable", "lifeless", "shallow", "sloppy", "dreadful", "painful", "ridiculous",
            "incoherent", "laughable", "mediocre", "overlong", "pretentious", "wooden",
            "tiresome", "dumb", "ugly", "messy", "hollow", "irritating", "amateurish",
            "atrocious", "inept", "trite", "dreary", "plodding", "unfunny", "miserable", "lousy",
            "pathetic", "muddled", "insipid", "stale", "cliched", "crude", "numbing", "abysmal",
            "grating", "vapid")
MOVIE_WORDS = ("movie", "film", "plot", "acting", "actor", "actress", "story", "scene",
               "director", "script", "ending", "cast", "character", "watch", "screen")
NEGATION = "not"  # "not great" says the opposite of "great": only the pair tells
NEGATED = 0.25    # of the sentiment words, this share comes negated ("not boring", "not funny")
MIXED = 0.1       # of the opinions, this share points the other way (a good film, a dull ending)


def download(base_url=None, cache_dir=None, files=None, quiet=False):
    """Fetch Keras's two IMDB files (hash-checked, cached); the folder holding them; lesson 5."""
    folder = Path(cache_dir or keras_cache())
    for name, file_hash in (files or FILES).items():
        fetch((base_url or BASE_URL) + name, folder / name, file_hash=file_hash, quiet=quiet)
    return folder


def load_real(num_words=5000, folder=None):
    """Keras's IMDB reviews and word index, read as Keras reads them; lesson 5."""
    folder = Path(folder or download())
    train, test = load_npz(folder / "imdb.npz", num_words)
    return train, test, json.loads((folder / "imdb_word_index.json").read_text())


def load_npz(path, num_words=None, seed=KERAS_SEED):
    """Read an `imdb.npz`-format file exactly as keras.datasets.imdb.load_data does; lesson 5."""
    # Ragged reviews are stored as pickled object arrays: only hash-checked or kit-made files
    # come here.
    with np.load(path, allow_pickle=True) as f:
        x_train, y_train = f["x_train"], f["y_train"]
        x_test, y_test = f["x_test"], f["y_test"]
    rng = np.random.RandomState(seed)
    order = np.arange(len(x_train))
    rng.shuffle(order)
    x_train, y_train = x_train[order], y_train[order]
    order = np.arange(len(x_test))
    rng.shuffle(order)
    x_test, y_test = x_test[order], y_test[order]
    xs = [[START] + [w + INDEX_FROM for w in x] for x in (*x_train, *x_test)]
    num_words = num_words or max(max(x) for x in xs)
    xs = [[w if w < num_words else OOV for w in x] for x in xs]
    n = len(x_train)
    return (_ragged(xs[:n]), y_train), (_ragged(xs[n:]), y_test)


def index_to_word(word_index):
    """Model input ids back to words, with Keras's offset and its three reserved ids; lesson 5."""
    words = {rank + INDEX_FROM: word for word, rank in word_index.items()}
    words.update({0: "<pad>", START: "<start>", OOV: "<unk>"})
    return words


def decode_review(ids, word_index):
    """A review's ids as readable text; lesson 5."""
    words = index_to_word(word_index)
    return " ".join(words.get(int(i), "<unk>") for i in ids if i != 0)


def pad(reviews, maxlen=500):
    """Make every review exactly `maxlen` ids: cut long ones, fill short ones with 0; lesson 5."""
    out = np.zeros((len(reviews), maxlen), dtype=np.int32)
    for i, review in enumerate(reviews):
        kept = review[:maxlen]  # the start of a review, as the course kept
        out[i, maxlen - len(kept):] = kept  # zeros in front: an RNN reads the words last
    return out


@lru_cache(maxsize=4)
def _filler_words(n):
    """The `n` most frequent lowercase words of Python's documentation, ranked."""
    from pydoc_data.topics import topics  # Python's own help text, read only to draw the stand-in
    counts = Counter(re.findall(r"[a-z]+", " ".join(topics.values()).lower()))
    sentiment = set(POSITIVE) | set(NEGATIVE)  # "not" stays: prose says it everywhere
    return [w for w, _ in counts.most_common() if w not in sentiment and len(w) > 1][:n]


def _zipf(n):
    """Weights 1/rank for n words, summing to 1: a few words are used often, most rarely."""
    weights = 1.0 / np.arange(1, n + 1)
    return weights / weights.sum()


_ZIPF = {n: _zipf(n) for n in (len(POSITIVE), len(NEGATIVE))}


def _review(rng, label, filler, weights):
    """One synthetic review: filler prose with a few opinions of the film in it.

    An opinion is a short phrase, "acting was superb", "plot is dull and predictable", as in
    real reviews, where words of one opinion come together. It says what the review's `label`
    says, but a tenth of them point the other way (mixed reviews), and a quarter are negated:
    a bad review says "acting was not funny or clever", a good one "plot is not boring", so a
    word alone can mislead and only the phrase decides.
    """
    length = int(rng.integers(30, 200))
    words = [str(w) for w in rng.choice(filler, size=length, p=weights)]
    for _ in range(int(rng.integers(2, 5))):
        says = label == 1 if rng.random() > MIXED else label != 1  # what this opinion means
        negated = rng.random() < NEGATED
        pool = POSITIVE if says != negated else NEGATIVE  # "not" + words of the other side
        cues = [str(w) for w in rng.choice(pool, size=int(rng.integers(1, 4)), p=_ZIPF[len(pool)])]
        phrase = [str(rng.choice(MOVIE_WORDS)), str(rng.choice(("is", "was")))]
        phrase += [NEGATION] if negated else []
        for i, cue in enumerate(cues):
            phrase += ([("or" if negated else "and")] if i else []) + [cue]
        at = int(rng.integers(length - len(phrase) + 1))
        words[at:at + len(phrase)] = phrase
    return words


def writing(n_docs, seed=1):
    """Other people's writing in the stand-in reviews' language, for the GloVe stand-in to learn
    its vectors from: half opinions of films (of either kind, unlabelled), half plain prose."""
    rng = np.random.default_rng([seed, 7])
    filler = np.array(_filler_words(N_FILLER))  # an array: rng.choice need not convert it
    weights = _zipf(len(filler))
    docs = []
    for i in range(n_docs):
        if i % 2:
            docs.append(_review(rng, int(rng.integers(2)), filler, weights))
        else:
            docs.append([str(w) for w in rng.choice(filler, size=int(rng.integers(30, 200)),
                                                    p=weights)])
    return docs


def _ragged(lists):
    """A 1-D object array of lists, even when they happen to share one length."""
    out = np.empty(len(lists), dtype="object")
    for i, item in enumerate(lists):
        out[i] = item
    return out


# The functions that draw the stand-in's reviews: an edit to any of them draws it anew.
DRAWING = (_review, _filler_words, _zipf, _ragged)


@dataclass(frozen=True)
class Standin:
    """The IMDB stand-in's size: training and test reviews, and its ordinary (filler) words."""
    n_train: int = 2500
    n_test: int = 2500
    n_filler: int = N_FILLER


def make_standin(dest=None, standin=Standin(), seed=0):
    """Write a learnable stand-in as Keras ships IMDB (imdb.npz + imdb_word_index.json), unless
    the one in `dest` was drawn by the same code and settings; lesson 5."""
    dest = Path(dest or standin_dir() / "imdb")
    return made(dest, _draw, standin, *DRAWING, POSITIVE, NEGATIVE, NEGATED, MIXED,
                what=f"Synthetic IMDB-format reviews, seed {seed}.\n" + HOW_TO_GET, seed=seed)


def _draw(dest, standin, seed):
    """Draw the labelled reviews and write them, with their word index, in Keras's format."""
    rng = np.random.default_rng(seed)
    filler = np.array(_filler_words(standin.n_filler))  # an array: rng.choice need not convert it
    weights = _zipf(len(filler))  # Zipf: a few words are very common
    labels = rng.permutation(np.arange(standin.n_train + standin.n_test) % 2)
    reviews = [_review(rng, y, filler, weights) for y in labels]
    counts = Counter(w for r in reviews for w in r)
    # ranks by frequency, ties by word, as in Keras's index: rank 1 is the most frequent word
    ranked = sorted(counts, key=lambda w: (-counts[w], w))
    word_index = {w: i + 1 for i, w in enumerate(ranked)}
    ids = _ragged([[word_index[w] for w in r] for r in reviews])
    n = standin.n_train
    (dest / "imdb_word_index.json").write_text(json.dumps(word_index))
    with open(dest / "imdb.npz", "wb") as f:
        np.savez(f, x_train=ids[:n], y_train=labels[:n], x_test=ids[n:], y_test=labels[n:])


def get(data="auto", *, num_words=5000, path=None, n_sample=SAMPLE_REVIEWS, standin=Standin(),
        seed=0):
    """IMDB as a Data record: parts 'train' and 'test' as (x, y), info 'word_index'; lesson 5.

    'full': Keras's 25,000 + 25,000 reviews, downloaded into `path` (default: Keras's cache);
    'sample': the first `n_sample` of each; 'standin': synthetic reviews in the same format,
    drawn from `seed`; 'auto': the real ones, else the stand-in.
    """
    return by_mode(data, "the IMDB reviews", lambda mode: _get_real(mode, num_words, path, n_sample),
                   lambda: _get_standin(num_words, standin, seed), DownloadError)


def _get_real(mode, num_words, path, n_sample):
    """The real reviews, all of them or the first `n_sample` of each part."""
    folder = download(cache_dir=path, quiet=True)  # get prints nothing: its record says what it got
    (x_train, y_train), (x_test, y_test), word_index = load_real(num_words, folder)
    if mode == "sample":
        x_train, y_train = x_train[:n_sample], y_train[:n_sample]
        x_test, y_test = x_test[:n_sample], y_test[:n_sample]
    return _record(folder, mode, False, (x_train, y_train), (x_test, y_test), word_index)


def _get_standin(num_words, standin, seed):
    """The stand-in reviews, drawn once for these settings, with its banner."""
    dest = make_standin(standin=standin, seed=seed)
    word_index = json.loads((dest / "imdb_word_index.json").read_text())
    record = _record(dest, "standin", True, *load_npz(dest / "imdb.npz", num_words), word_index)
    return with_banner(record, TITLE, HOW_TO_GET)


def _record(folder, mode, standin, train, test, word_index):
    """The Data record of reviews and their word index."""
    return Data(name="imdb", path=Path(folder), standin=standin, mode=mode,
                parts={"train": train, "test": test}, info={"word_index": word_index},
                summary=f"IMDB reviews: {kind(mode, standin)}, {len(train[0]):,} training and "
                        f"{len(test[0]):,} test reviews, at {folder}")
