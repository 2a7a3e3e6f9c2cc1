"""Submissions checked against the sample submission, written, and sent; lessons 1, 3-5, 7.

`make_submission` writes probabilities, `label_submission` class labels (a digit, 0 or 1), each
only once the file matches the competition's sample submission (every id once, nothing else, every
value valid), and `submit` sends the file through the Kaggle API.
"""
import os
from pathlib import Path

import numpy as np
import pandas as pd

from utils.kaggle import api
from utils.kaggle.api import KaggleError

_UPLOAD_FAILED = "Could not submit to competition"  # kaggle 2.x returns this instead of raising


class SubmissionError(ValueError):
    """A submission that does not match the sample submission; the message lists every reason."""


def do_clip(arr, mx):
    """Clip probabilities to [(1-mx)/(k-1), mx] for k classes (1-D or one column: k=2); lessons 1, 4, 7."""
    # Log loss charges -log(p) for the true class: a confident wrong answer (p -> 0) costs without
    # bound and one such row can sink the whole score, while capping confidence costs a little on
    # the rows we got right. The lower bound spreads 1-mx over the other k-1 classes.
    arr = np.asarray(arr, dtype=float)
    k = arr.shape[-1] if arr.ndim == 2 and arr.shape[-1] > 1 else 2
    if not 1 / k <= mx <= 1:
        raise ValueError(f"mx must lie in [1/{k}, 1] for {k} classes, got {mx}")
    return np.clip(arr, (1 - mx) / (k - 1), mx)


def make_submission(ids, probs, sample_submission, out_csv, clip=None):
    """Write a submission CSV shaped and checked like the sample submission; lessons 1, 4, 7."""
    sample = read_sample(sample_submission)
    preds, problems = _prediction_table(ids, probs, sample, clip)
    if not problems:  # a table of the wrong shape makes the row checks meaningless
        problems = _id_problems(preds.index, sample) + _value_problems(preds)
    _refuse_if(problems)
    table = preds.loc[[_id_key(i) for i in sample.iloc[:, 0]]]
    table.insert(0, sample.columns[0], list(sample.iloc[:, 0]))
    out = _write_csv(table, Path(out_csv))
    print(f"Wrote {len(table)} rows x {table.shape[1]} columns ({', '.join(table.columns[:4])}"
          f"{', ...' if table.shape[1] > 4 else ''}) to {out}")
    return out


def label_submission(ids, labels, sample_submission, out_csv, allowed):
    """Write a submission of class labels (integers in `allowed`) shaped and checked like the
    sample submission; lessons 3, 5."""
    sample = read_sample(sample_submission)
    keys = [_id_key(i) for i in ids]
    labels = np.asarray(labels)
    problems = []
    if len(keys) != len(labels):
        problems.append(f"{len(keys)} ids but {len(labels)} labels")
    else:
        problems += _id_problems(keys, sample)
        whole = np.issubdtype(labels.dtype, np.integer) or np.issubdtype(labels.dtype, np.bool_)
        bad = ~np.isin(labels, list(allowed)) if whole else np.ones(len(labels), bool)
        if bad.any():  # examples as plain numbers, not numpy's np.int64(2)
            problems.append(f"{int(bad.sum())} labels are not whole numbers in"
                            f" {sorted(allowed)} (e.g. {_examples(labels[bad].tolist())})")
    _refuse_if(problems)
    by_id = dict(zip(keys, labels.astype(int)))
    table = pd.DataFrame({sample.columns[0]: sample.iloc[:, 0],
                          sample.columns[1]: [by_id[_id_key(i)] for i in sample.iloc[:, 0]]})
    out = _write_csv(table, Path(out_csv))
    print(f"Wrote {len(table):,} rows ({', '.join(table.columns)}) to {out}")
    return out


def _refuse_if(problems):
    """SubmissionError listing every problem found, when there are any."""
    if problems:
        raise SubmissionError("Submission refused, nothing written:\n  - " + "\n  - ".join(problems))


def read_sample(sample):
    """A sample submission as text columns, or SubmissionError saying what is wrong with the file."""
    if isinstance(sample, pd.DataFrame):
        return sample
    again = "fetch the competition's data again (or download it from its Data page)"
    try:
        table = pd.read_csv(sample, dtype=str, keep_default_na=False)
    except UnicodeDecodeError:
        raise SubmissionError(f"{sample} is not UTF-8 text, as Kaggle's sample submissions are;"
                              f" it was changed or damaged: {again}.") from None
    except pd.errors.EmptyDataError:
        raise SubmissionError(f"{sample} is empty: {again}.") from None
    except pd.errors.ParserError as exc:
        raise SubmissionError(f"{sample} is not a readable CSV ({exc}): {again}.") from None
    if table.shape[1] < 2:
        raise SubmissionError(f"{sample} has {table.shape[1]} column(s); a sample submission has an"
                              f" id column and at least one prediction column: {again}.")
    return table


def _id_key(value):
    # Ids are compared as text, so 1, 1.0, "1" and " 1" all mean the same row.
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    return str(value).strip()


def _prediction_table(ids, probs, sample, clip):
    """Predictions as a float table indexed by id key, named like the sample, plus any problems."""
    columns = list(sample.columns[1:])
    keys = [_id_key(i) for i in ids]
    if isinstance(probs, pd.DataFrame):
        if sorted(map(str, probs.columns)) != sorted(columns):
            return pd.DataFrame(), [f"wrong columns: predictions have {list(probs.columns)},"
                                    f" the sample has {columns}"]
        probs = probs[columns]
    try:
        values = np.asarray(probs, dtype=float)
    except (TypeError, ValueError):
        return pd.DataFrame(), ["predictions are not numbers"]
    values = values.reshape(-1, 1) if values.ndim == 1 else values
    if values.ndim != 2 or values.shape[1] != len(columns):
        return pd.DataFrame(), [f"wrong columns: predictions have shape {values.shape}, the sample has"
                                f" {len(columns)} prediction column(s) {columns}"]
    if len(keys) != len(values):
        return pd.DataFrame(), [f"{len(keys)} ids but {len(values)} rows of predictions"]
    values = _apply_clip(values, clip)
    return pd.DataFrame(values, index=pd.Index(keys, name=None), columns=columns), []


def _apply_clip(values, clip):
    if clip is None:
        return values
    if np.isscalar(clip):
        clipped = do_clip(values, clip)
    else:
        clipped = np.clip(values, *clip)
    # NaN and inf stay as they are, so the checks still catch them instead of clipping inf away.
    return np.where(np.isfinite(values), clipped, values)


def _examples(items, n=3):
    items = list(items)
    return ", ".join(map(repr, items[:n])) + (", ..." if len(items) > n else "")


def _id_problems(keys, sample):
    problems = []
    wanted = [_id_key(i) for i in sample.iloc[:, 0]]
    counts = pd.Series(list(keys), dtype=object).value_counts()
    missing = [k for k in wanted if k not in counts.index]
    extra = sorted(set(counts.index) - set(wanted))
    doubled = list(counts[counts > 1].index)
    if missing:
        problems.append(f"{len(missing)} of the sample's {len(wanted)} ids are missing"
                        f" (e.g. {_examples(missing)})")
    if extra:
        problems.append(f"{len(extra)} ids are not in the sample (e.g. {_examples(extra)})")
    if doubled:
        problems.append(f"{len(doubled)} ids appear more than once (e.g. {_examples(doubled)})")
    return problems


def _value_problems(preds):
    values = preds.to_numpy()
    problems = []
    checks = [(np.isnan(values), "are NaN"), (np.isinf(values), "are infinite"),
              (np.isfinite(values) & ((values < 0) | (values > 1)), "lie outside [0, 1]")]
    for bad, what in checks:
        rows = bad.any(axis=1)
        if rows.any():
            problems.append(f"{int(bad.sum())} predictions {what} (ids {_examples(preds.index[rows])})")
    return problems


def _write_csv(table, out):
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(tmp, index=False)
        os.replace(tmp, out)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)  # a half-written file is never left behind, nor taken for ours
        err = (api.folder_error(exc, out.parent, "write the submission to a folder you can write to")
               if isinstance(exc, OSError) else None)
        if err is None:
            raise
        raise err from None
    return out


def submit(csv, competition, message):
    """Send a submission CSV to a Kaggle competition and return the API's answer; lessons 1, 4, 7."""
    csv = Path(csv)
    if not csv.is_file():
        raise KaggleError(f"No submission file at {csv}; write it with make_submission() first.")
    if csv.suffix.lower() != ".csv" or not _has_csv_header(csv):
        raise KaggleError(f"{csv} is not a CSV with a header row; write it with make_submission().")
    client = api.connect()
    result = api.call(client.competition_submit, competition,
                   file_name=str(csv), message=message, competition=competition)
    if getattr(result, "message", None) == _UPLOAD_FAILED:
        raise KaggleError(f"Uploading {csv} to '{competition}' failed; check the connection and re-run.")
    return result


def _has_csv_header(csv):
    try:
        return len(pd.read_csv(csv, nrows=1).columns) >= 2
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError):
        return False
