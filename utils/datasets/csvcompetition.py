"""What the CSV competitions (Digit Recognizer, Disaster Tweets) share; lessons 3 and 5.

Their data is three CSV files, `train.csv`, `test.csv` and `sample_submission.csv`, fetched like
every competition's (`utils.kaggle.fetch`: the Kaggle Notebooks mount, a hand-downloaded zip, the
API) and chosen against the stand-in by the competitions' rule (`competition.real_or_standin`).
A stand-in is written in exactly that layout and zipped as the API serves it
(`<competition>.zip`, by `zip_tables` inside the module's drawing, kept fresh by `standin.made`),
then goes through the same `fetch`. Their submissions hold class labels
(a digit, 0 or 1), not probabilities: `utils.kaggle.label_submission` checks and writes those.
"""
import csv
import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from utils.datasets.base import Data, valid_count
from utils.datasets.competition import read_ids
from utils.datasets.standin import kind
from utils.kaggle.fetching import fetch

FILES = ("train.csv", "test.csv", "sample_submission.csv")
SOLUTION = "standin_solution.csv"  # the stand-in's test labels, to score a submission offline


class CompetitionFileError(ValueError):
    """A competition's CSV that is not laid out as Kaggle ships it; the message says what to do."""


def get_real(competition, path, mode, n_sample, read, sample_columns):
    """The real competition files fetched, and `read(folder, mode, sample_submission, rows)`'s Data;
    for mode 'sample' the first rows (n_sample: train rows, test rows) with a sample for them,
    taken from a sample submission whose header is `sample_columns`."""
    folder = fetch_csvs(competition, path)
    rows = n_sample if mode == "sample" else (None, None)
    sample = folder / "sample_submission.csv"
    if mode == "sample":
        sample = sample_rows(sample, sample_columns, rows[1],
                             folder / "sample" / "sample_submission.csv")
    return read(folder, mode, sample, rows)


def fetch_csvs(competition, path, use_mounted=True):
    """The folder holding the competition's three CSVs, fetched as every competition is."""
    folder = fetch(competition, path, use_mounted=use_mounted)
    missing = [name for name in FILES if not (folder / name).is_file()]
    if missing:
        raise CompetitionFileError(
            f"{folder} lacks {missing}; it should hold {list(FILES)} as Kaggle ships them. Delete"
            f" the folder and fetch again, or put the files from"
            f" https://www.kaggle.com/competitions/{competition}/data there.")
    return folder


def read_table(path, columns, **kwargs):
    """A competition CSV whose header is exactly `columns`, with rows, the last one whole; or
    CompetitionFileError saying what is wrong."""
    try:
        header = pd.read_csv(path, nrows=0).columns  # first: a wrong file is told by its header
        if list(header) != list(columns):
            shown = list(header[:5]) + (["..."] if len(header) > 5 else [])
            raise CompetitionFileError(f"{path} has the columns {shown} ({len(header)} in all);"
                                       f" Kaggle's file has {_shown(columns)}. Download it again.")
        if _cut_short(path, len(columns)):
            raise CompetitionFileError(f"{path} ends in the middle of its last row: the copy was"
                                       " cut short; download it again.")
        table = pd.read_csv(path, **kwargs)
    except (CompetitionFileError, FileNotFoundError):
        raise
    except pd.errors.EmptyDataError:
        raise CompetitionFileError(f"{path} is empty; the copy is damaged: download it"
                                   " again.") from None
    except (ValueError, OverflowError) as err:  # parser errors, and a number its dtype cannot hold
        raise CompetitionFileError(f"{path} cannot be read as CSV ({err}); download it again.") from None
    if table.empty:  # Kaggle's files all have rows: only a damaged copy is a bare header
        raise CompetitionFileError(f"{path} has no rows, only its header; the copy is damaged:"
                                   " download it again.")
    return table


def _cut_short(path, n_columns):
    """Whether a CSV's last row was cut: no final newline, and a quote left open or too few fields."""
    with open(path, "rb") as f:
        size = f.seek(0, os.SEEK_END)
        f.seek(max(size - 1, 0))
        if f.read(1) in (b"", b"\n"):
            return False  # Kaggle's files end in a newline: read no further
        f.seek(0)
        data = f.read()
    if data.count(b'"') % 2:
        return True
    # The last row starts after the last line break outside quotes (an even count of quotes after
    # it): a tweet may hold line breaks, and its last line alone would look short of fields.
    start = data.rfind(b"\n")
    while start >= 0 and data.count(b'"', start) % 2:
        start = data.rfind(b"\n", 0, start)
    last = data[start + 1:].decode("utf-8", errors="replace")
    return len(next(csv.reader(io.StringIO(last, newline="")), [])) < n_columns


def sample_ids(sample_submission, columns):
    """The ids (first column, as text) of a sample submission whose header is `columns`."""
    table = read_table(sample_submission, columns, dtype=str, keep_default_na=False)
    return [i.strip() for i in table.iloc[:, 0]]


def _shown(columns):
    columns = list(columns)
    return str(columns) if len(columns) <= 5 else f"[{columns[0]}, {columns[1]}, ..., {columns[-1]}]"


def split(n, valid_size, labels, seed=0):
    """Row numbers of a seeded split keeping each class's share: (train rows, valid rows);
    `valid_size` is the valid rows' share (a float below 1) or count (`base.valid_count`)."""
    from sklearn.model_selection import train_test_split  # scikit-learn takes seconds to import; only a split needs it
    n_valid = valid_count(valid_size, n)
    rows = np.arange(n)
    counts = np.unique(labels, return_counts=True)[1]
    # Too few rows to give every class a place on both sides: a plain seeded split then.
    stratify = labels if counts.min() >= 2 and min(n_valid, n - n_valid) >= len(counts) else None
    trn, val = train_test_split(rows, test_size=n_valid, stratify=stratify, random_state=seed)
    return np.sort(trn), np.sort(val)


def sample_rows(sample_submission, columns, n, dest):
    """Write the first `n` rows of the sample submission (header `columns`) to `dest` (kept if
    unchanged); its path."""
    table = read_table(sample_submission, columns, dtype=str, keep_default_na=False).head(n)
    dest, text = Path(dest), table.to_csv(index=False)
    if not (dest.is_file() and dest.read_text() == text):
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.tmp")
        tmp.write_text(text)
        os.replace(tmp, dest)
    return dest


def zip_tables(folder, competition, tables):
    """Write a stand-in's CSVs (name -> DataFrame) into `folder` as Kaggle's API serves them,
    zipped as `<competition>.zip`, and its hidden test labels beside the zip."""
    with zipfile.ZipFile(Path(folder) / f"{competition}.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        for name, table in tables.items():
            if name in FILES:
                zf.writestr(name, table.to_csv(index=False))
    tables[SOLUTION].to_csv(Path(folder) / SOLUTION, index=False)


def record(name, folder, mode, standin, parts, sample_submission, counts, info=None):
    """The Data record of a CSV competition, its test ids read from the sample submission."""
    summary = (f"{name}: {kind(mode, standin)}, " + ", ".join(f"{n:,} {part}" for part, n in counts.items())
               + f" rows, at {folder}")
    return Data(name=name, path=Path(folder), standin=standin, mode=mode, parts=dict(parts),
                sample_submission=Path(sample_submission), test_ids=read_ids(sample_submission),
                info={"counts": counts, **(info or {})}, summary=summary)


def score_standin(out_csv, folder, metric):
    """`metric(truth, predicted)` of a submission against the stand-in's hidden test labels."""
    truth = pd.read_csv(Path(folder) / SOLUTION)
    sub = pd.read_csv(out_csv)
    merged = truth.merge(sub, on=truth.columns[0], suffixes=("_true", "_pred"))
    column = truth.columns[1]
    return float(metric(merged[f"{column}_true"], merged[f"{column}_pred"]))
