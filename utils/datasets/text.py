"""Text corpora for the character models of lesson 6: Nietzsche, or a stand-in, and char indices.

The course trained its character models on the collected works of Nietzsche in English, one plain
text file of about 600,900 characters. Offline, the stand-in is the English text of Python's own
reference documentation, which every Python ships in `pydoc_data.topics` (about 465,000
characters): real prose with a similar alphabet, but not Nietzsche, and labelled as such.
`DATA='sample'` is the real corpus's first 100,000 characters.
"""
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from utils.datasets.base import Data
from utils.datasets.standin import by_mode, kind, made, with_banner
from utils.download import DownloadError, download
from utils.paths import data_dir, standin_dir

NIETZSCHE_URL = "https://s3.amazonaws.com/text-datasets/nietzsche.txt"
FILENAME = "nietzsche.txt"
MIN_CHARS = 500_000  # the real file has about 600,900; less means a broken download
SAMPLE_CHARS = 100_000  # DATA='sample': the start of the corpus
HOW_TO_GET = ("Real data: run with DATA='full' on a machine with internet; Keras downloads\n"
              f"{NIETZSCHE_URL}\ninto data/nietzsche/.")


class TextError(ValueError):
    """A corpus file that is empty, cut short or not text; the message says what to do."""


def check_text(path, min_chars=MIN_CHARS):
    """Read a downloaded corpus, refusing an empty, cut-short or binary file; lesson 6."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise TextError(f"{path} is not UTF-8 text: delete it and download it again.") from None
    if len(text) < min_chars:
        raise TextError(f"{path} holds {len(text):,} characters, expected at least "
                        f"{min_chars:,}: the download was cut short. Delete it and run again.")
    return text


def download_nietzsche(origin=NIETZSCHE_URL, cache_dir=None, min_chars=MIN_CHARS):
    """Download the Nietzsche corpus (cached once whole), return its text; lesson 6."""
    return _downloaded(origin, Path(cache_dir or data_dir()) / "nietzsche", min_chars)


def _downloaded(origin, folder, min_chars):
    """The corpus's text, downloaded into `folder` unless a whole copy is there."""
    # quiet: Keras's progress bar would be printed by `get`, which says everything in its record
    path = download(origin, Path(folder) / FILENAME, check=lambda part: check_text(part, min_chars),
                    quiet=True)
    return check_text(path, min_chars)


def standin_text():
    """The English text of Python's reference documentation, shipped with Python; lesson 6."""
    from pydoc_data.topics import topics  # Python's own help text, read only to draw the stand-in
    return "\n".join(topics[key] for key in sorted(topics))


@dataclass(frozen=True)
class Standin:
    """The text stand-in: Python's reference documentation, whole; it has no size to set."""


def make_standin(dest=None, standin=Standin()):
    """The stand-in corpus, a plain text file like nietzsche.txt, written unless the one in `dest`
    holds the same text; lesson 6."""
    dest = Path(dest or standin_dir() / "nietzsche")
    # The text itself is in the recipe: another Python's documentation draws the stand-in anew.
    made(dest, _draw, standin, text=standin_text(),
         what="Python's reference documentation (pydoc_data.topics), standing in for Nietzsche.\n"
              + HOW_TO_GET)
    return dest / FILENAME


def _draw(dest, standin, text):
    """Write the stand-in's text where nietzsche.txt would be."""
    (dest / FILENAME).write_text(text, encoding="utf-8")


def get(data="auto", *, path=None, origin=NIETZSCHE_URL, n_sample=SAMPLE_CHARS, standin=Standin()):
    """The lesson's corpus as a Data record with the part 'text'; lesson 6.

    'full': all of Nietzsche, downloaded from `origin` into the folder `path`; 'sample': its first
    `n_sample` characters; 'standin': Python's documentation; 'auto': Nietzsche, else the
    stand-in with the reason in its notes.
    """
    path = Path(path or data_dir() / "nietzsche")
    return by_mode(data, "the Nietzsche corpus", lambda mode: _get_real(mode, path, origin, n_sample),
                   lambda: _get_standin(standin), (DownloadError, TextError))


def _get_real(mode, path, origin, n_sample):
    """Nietzsche, whole or its first `n_sample` characters."""
    text = _downloaded(origin, path, MIN_CHARS)
    return _record(path / FILENAME, mode, False, text[:n_sample] if mode == "sample" else text)


def _get_standin(standin):
    """The stand-in corpus, written once, with its banner."""
    path = make_standin(standin=standin)
    record = _record(path, "standin", True, path.read_text(encoding="utf-8"))
    return with_banner(record, "The Nietzsche corpus", HOW_TO_GET,
                       what="the English text of Python's reference documentation")


def _record(path, mode, standin, text):
    """The Data record of a corpus."""
    return Data(name="nietzsche", path=Path(path), standin=standin, mode=mode,
                parts={"text": text}, info={"chars": len(text)},
                summary=f"Nietzsche corpus: {kind(mode, standin)}, {len(text):,} characters, "
                        f"at {path}")


def char_vocab(text):
    """The sorted list of distinct characters in a text: the model's alphabet; lesson 6."""
    return sorted(set(text))


def char_indices(chars):
    """Map each character to its position in the alphabet; lesson 6."""
    return {c: i for i, c in enumerate(chars)}


def indices_char(chars):
    """Map each position in the alphabet back to its character; lesson 6."""
    return dict(enumerate(chars))


def encode(text, chars):
    """A text as an int32 array of alphabet positions; unknown characters raise; lesson 6."""
    index = char_indices(chars)
    missing = sorted(set(text) - set(index))
    if missing:
        raise ValueError(f"Characters {missing[:10]} are not in the alphabet: build it with "
                         "char_vocab on the whole text.")
    return np.fromiter((index[c] for c in text), dtype=np.int32, count=len(text))


def decode(idx, chars):
    """Alphabet positions back to a string; lesson 6."""
    return "".join(chars[int(i)] for i in idx)


def split_text(idx, tune=0.05, test=0.05):
    """Cut an encoded text into train, tune and test slices, in that order; lesson 6."""
    n = len(idx)
    n_test, n_tune = int(n * test), int(n * tune)
    if (test and n_test < 1) or (tune and n_tune < 1) or n - n_test - n_tune < 1:
        raise ValueError(f"A text of {n} characters is too short to split into "
                         f"train/tune/test with fractions {1 - tune - test}/{tune}/{test}.")
    cut1, cut2 = n - n_tune - n_test, n - n_test
    return idx[:cut1], idx[cut1:cut2], idx[cut2:]
