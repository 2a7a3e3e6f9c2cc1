"""Kaggle's Digit Recognizer (lesson 3): MNIST as a competition that never closes, and a stand-in.

Kaggle ships `train.csv` (42,000 rows `label,pixel0..pixel783`), `test.csv` (28,000 rows
`pixel0..pixel783`) and `sample_submission.csv` (`ImageId,Label`, ImageId 1..28000 in the test
file's order); the metric is accuracy. `get` returns 28x28 uint8 images: 'train' and 'valid'
(a seeded hold-out keeping each digit's share) as (x, y), and 'test' as x in the sample
submission's order. `submission` writes the predicted digits checked against the sample.

Offline, the stand-in is made like MNIST's (`utils.datasets.mnist`): scikit-learn's real 8x8
handwritten digits enlarged to 28x28, split 70/30 by class with seed 0, written in Kaggle's CSV
layout, with the test labels kept aside so a stand-in submission can be scored. With the same
settings and seed, its test digits are MNIST's stand-in's test digits.
"""
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from utils.datasets import csvcompetition as csvc, mnist
from utils.datasets.competition import real_or_standin
from utils.datasets.standin import made, with_banner
from utils.kaggle.api import how_to_get
from utils.kaggle.submission import label_submission
from utils.paths import data_dir, standin_dir

COMPETITION = "digit-recognizer"
TITLE = "Kaggle's Digit Recognizer"
SIDE = 28
PIXELS = [f"pixel{i}" for i in range(SIDE * SIDE)]
SAMPLE_COLUMNS = ["ImageId", "Label"]
SAMPLE = (4200, 1000)  # DATA='sample': the first training and test rows
HOW_TO_GET = how_to_get(COMPETITION)


# Read as int16: a quarter of int64's memory (42,000 x 785 numbers), and room to see a value
# outside 0-255 before it is squeezed into uint8.


def read_train(path):
    """(x, y) of a train.csv: 28x28 uint8 images and their digits; lesson 3."""
    table = csvc.read_table(path, ["label", *PIXELS], dtype="int16")
    return _images(table[PIXELS], path), _digits(table["label"], path)


def read_test(path):
    """The 28x28 uint8 images of a test.csv, in its order; lesson 3."""
    return _images(csvc.read_table(path, PIXELS, dtype="int16"), path)


def _images(pixels, path):
    values = pixels.to_numpy()
    if values.size and (values.min() < 0 or values.max() > 255):
        raise csvc.CompetitionFileError(f"{path} has pixel values outside 0-255; download it again.")
    return values.astype(np.uint8).reshape(-1, SIDE, SIDE)


def _digits(labels, path):
    if not labels.between(0, 9).all():
        raise csvc.CompetitionFileError(f"{path} has labels outside 0-9; download it again.")
    return labels.to_numpy().astype(np.uint8)


@dataclass(frozen=True)
class Standin:
    """The Digit Recognizer stand-in's recipe: the share of scikit-learn's digits held out as the
    test rows (MNIST's stand-in's split, so the two share their test digits)."""
    test_size: float = mnist.Standin.test_size


def get(data="auto", *, path=None, valid_size=0.1, n_sample=SAMPLE, standin=Standin(), seed=0):
    """Digit Recognizer as a Data record: 'train', 'valid' as (x, y), 'test' as x; lesson 3.

    'full': Kaggle's 42,000 + 28,000 rows; 'sample': its first `n_sample` (train, test) rows;
    'standin': scikit-learn's digits in the same files; 'auto': the real data, else the stand-in.
    """
    path = Path(path or data_dir() / COMPETITION)

    def read_real(folder, mode, sample, rows):
        return _record(folder, mode, False, sample, valid_size, seed, rows)
    return real_or_standin(data, TITLE,
                           lambda mode: csvc.get_real(COMPETITION, path, mode, n_sample, read_real,
                                                      SAMPLE_COLUMNS),
                           lambda: _get_standin(standin, valid_size, seed))


def _get_standin(standin, valid_size, seed):
    """The stand-in, drawn once in Kaggle's layout, then fetched and read like the real files."""
    dest = make_standin(standin_dir() / COMPETITION, standin, seed)
    # Never the Kaggle Notebooks mount: real files must not mix into the stand-in's folder.
    folder = csvc.fetch_csvs(COMPETITION, dest, use_mounted=False)
    record = _record(folder, "standin", True, folder / "sample_submission.csv", valid_size, seed,
                     (None, None), info={"solution": folder / csvc.SOLUTION})
    return with_banner(record, TITLE, HOW_TO_GET,
                       what="scikit-learn's real handwritten 8x8 digits, enlarged to 28x28,")


def _record(folder, mode, standin, sample, valid_size, seed, rows, info=None):
    x, y = read_train(folder / "train.csv")
    test = read_test(folder / "test.csv")
    x, y, test = x[:rows[0]], y[:rows[0]], test[:rows[1]]
    ids = csvc.sample_ids(sample, SAMPLE_COLUMNS)
    if len(ids) != len(test):
        raise csvc.CompetitionFileError(f"{folder}: test.csv has {len(test):,} rows but {sample} has"
                                        f" {len(ids):,}; fetch the data again.")
    trn, val = csvc.split(len(y), valid_size, y, seed)
    parts = {"train": (x[trn], y[trn]), "valid": (x[val], y[val]), "test": test}
    counts = {"train": len(trn), "valid": len(val), "test": len(test)}
    return csvc.record(COMPETITION, folder, mode, standin, parts, sample, counts, info)


def make_standin(dest, standin=Standin(), seed=0):
    """Write the digits stand-in as Kaggle ships the competition (digit-recognizer.zip), unless
    the one in `dest` was drawn by the same code and settings; lesson 3."""
    what = (f"scikit-learn's 8x8 handwritten digits upscaled to 28x28, {standin.test_size:.0%} held"
            f" out for test by class with seed {seed}, in Digit Recognizer's CSV layout. "
            + HOW_TO_GET.replace("\n", " "))
    return made(dest, _draw, standin, mnist.digits_split, mnist.upscale, csvc.zip_tables, what=what,
                seed=seed)


def _draw(dest, standin, seed):
    """Split scikit-learn's digits, enlarge them and zip them in Kaggle's three CSVs."""
    x_trn, y_trn, x_test, y_test = mnist.digits_split(standin.test_size, seed)
    train = pd.DataFrame(mnist.upscale(x_trn, SIDE).reshape(len(x_trn), -1), columns=PIXELS)
    train.insert(0, "label", y_trn)
    test = pd.DataFrame(mnist.upscale(x_test, SIDE).reshape(len(x_test), -1), columns=PIXELS)
    ids = np.arange(1, len(test) + 1)
    csvc.zip_tables(dest, COMPETITION, {
        "train.csv": train, "test.csv": test,
        "sample_submission.csv": pd.DataFrame({"ImageId": ids, "Label": 0}),
        csvc.SOLUTION: pd.DataFrame({"ImageId": ids, "Label": y_test})})


def submission(data, digits, out_csv):
    """Write the predicted digit of each test image as Kaggle's ImageId,Label CSV; lesson 3."""
    return label_submission(data.test_ids, digits, data.sample_submission, out_csv, range(10))
