"""Pseudo-labelling's plumbing: predictions made from disk, the guard against validation rows, and
MixIterator, which draws training batches from several sources at once.

Pseudo-labelling (lessons 4 and 7): a model trained on the labelled images predicts the unlabelled
TEST images, and those predictions are used as if they were labels, in a share of every training
batch. It helps because the test photos show the model new drivers, boats or lighting, with
answers that are right most of the time. The mix itself (how many pseudo-labelled rows each batch
holds) is lesson 4's `mix_with_pseudo`, in `utils.lessons.lesson4`, built on MixIterator.

Two faults of the 2017 course are fixed here:
  * It pseudo-labelled the validation images and trained on them, so its validation score
    measured images the model had trained on. `pseudo_label` takes the validation features as a
    required argument and refuses unlabelled rows that are validation rows, by file name when
    names are given and always by content (a fingerprint of every row).
  * It held every array in memory, and ran out of it. Here features stay on disk (an `.npy` or a
    `save_array` folder): predictions are made chunk by chunk, and `MixIterator` (a Keras
    `PyDataset` built on `utils.outofcore.ArrayBatches`, the kit's one reader of rows on disk)
    reads only the rows of the current batch, from a memory map opened for that batch and closed
    after it (a map kept open would keep every page it ever read counted in the process's memory).
    Peak memory therefore does not grow with the number of unlabelled images
    (`bench/bench_lesson4.py`).
"""
import hashlib
from pathlib import Path

import numpy as np

from utils.outofcore import ArrayBatches, PyDataset, as_rows


class LeakError(ValueError):
    """Validation data turned up where only unlabelled test data may be."""


def predict_rows(model, data, batch_size=256):
    """Model outputs for every row, predicted batch by batch from disk; lessons 4, 7."""
    rows = ArrayBatches(data, batch_size=batch_size, shuffle=False)
    outs = [np.asarray(model.predict_on_batch(rows[i])) for i in range(len(rows))]
    return np.concatenate(outs) if outs else np.zeros((0,) + tuple(model.output_shape[1:]))


def fingerprints(data, chunk=1024):
    """A 64-bit content hash of every row, read chunk by chunk; lessons 4, 7."""
    out = []
    for _, x in as_rows(data).chunks(chunk):
        x = np.ascontiguousarray(x)
        out += [hashlib.blake2b(row.tobytes(), digest_size=8).digest() for row in x]
    return out


def check_no_validation_rows(unlabelled, validation, names=None, validation_names=None):
    """Raise LeakError if any unlabelled row is a validation row, by name or content; lessons 4, 7."""
    if names is not None and validation_names is not None:
        shared = sorted(set(map(_base, names)) & set(map(_base, validation_names)))
        if shared:
            raise LeakError(f"{len(shared)} unlabelled image(s) are validation images (e.g. "
                            f"{shared[:3]}). Pseudo-label the test set only: a model trained on its"
                            " validation images gets a validation score that means nothing.")
    seen = set(fingerprints(validation))
    same = [i for i, f in enumerate(fingerprints(unlabelled)) if f in seen]
    if same:
        raise LeakError(f"{len(same)} unlabelled row(s) equal validation rows (e.g. rows "
                        f"{same[:3]}). Pseudo-label the test set's features only, never the "
                        "validation features.")


def _base(name):
    return Path(str(name)).name


def pseudo_label(model, unlabelled, *, validation, names=None, validation_names=None, hard=False,
                 batch_size=256):
    """Predictions on unlabelled (test) rows to train on, refusing validation rows; lessons 4, 7."""
    if validation is None:
        raise ValueError("pass the validation features (validation=...) so they can be kept out "
                         "of the pseudo-labelled set")
    check_no_validation_rows(unlabelled, validation, names, validation_names)
    probs = predict_rows(model, unlabelled, batch_size).astype("float32")
    if hard:
        probs = np.eye(probs.shape[1], dtype="float32")[probs.argmax(axis=1)]
    return probs


class MixIterator(PyDataset):
    """Batches that join one batch from each source: the course's MixIterator; lessons 4, 7.

    A source is a pair (x, y) of arrays, memmaps, .npy paths or save_array folders, read through
    `ArrayBatches` a batch at a time in a shuffled order that is redrawn each pass, or any iterable
    of (x, y) batches (such as `get_batches`), from which the next batch is taken. It is a Keras
    `PyDataset`: pass it to `fit` as it is. Each item is the next mixed batch whatever its index,
    and one epoch is `len(mix)` of them (one pass over the first source unless `steps` says).
    """

    def __init__(self, sources, batch_sizes=None, shuffle=True, seed=0, steps=None, **kwargs):
        super().__init__(**kwargs)
        if not sources:
            raise ValueError("MixIterator needs at least one source")
        if batch_sizes is None:
            batch_sizes = [None] * len(sources)
        if len(batch_sizes) != len(sources):
            raise ValueError(f"{len(sources)} sources but {len(batch_sizes)} batch sizes")
        self.rng = np.random.default_rng(seed)
        self.shuffle = bool(shuffle)
        self.sources = [self._source(s, b) for s, b in zip(sources, batch_sizes)]
        first = self.sources[0]
        self.steps = steps or (int(np.ceil(first["n"] / first["batch"])) if first["n"] else None)
        if self.steps is None:
            raise ValueError("pass steps= when the first source is an iterator")

    def _source(self, source, batch):
        if isinstance(source, tuple) and len(source) == 2:
            x, y = as_rows(source[0]), as_rows(source[1])
            if len(x) != len(y):
                raise ValueError(f"a source has {len(x)} rows of x but {len(y)} of y")
            if not batch:
                raise ValueError("give a batch size for every (x, y) source")
            rows = ArrayBatches(x, y, batch_size=int(batch), shuffle=False)
            return {"rows": rows, "n": len(x), "batch": int(batch), "order": None, "pos": 0}
        return {"iterable": source, "it": iter(source), "n": None, "batch": batch}

    def __len__(self):
        return self.steps

    def _next_index(self, s):
        """Indices of the next `batch` rows of a source, wrapping into a fresh shuffled pass."""
        out = []
        while len(out) < s["batch"]:
            if s["order"] is None or s["pos"] >= s["n"]:
                s["order"] = self.rng.permutation(s["n"]) if self.shuffle else np.arange(s["n"])
                s["pos"] = 0
            take = s["order"][s["pos"]:s["pos"] + s["batch"] - len(out)]
            s["pos"] += len(take)
            out.extend(take)
        return np.sort(np.array(out))  # sorted reads touch the file front to back

    def _next_batch(self, s):
        """The next (x, y) batch of an iterable source, starting it over when it ends."""
        try:
            item = next(s["it"])
        except StopIteration:
            s["it"] = iter(s["iterable"])
            item = next(s["it"])
        return item[0], item[1]

    def __next__(self):
        xs, ys = [], []
        for s in self.sources:
            x, y = self._next_batch(s) if "it" in s else s["rows"].take(self._next_index(s))
            xs.append(np.asarray(x))
            ys.append(np.asarray(y, dtype="float32"))
        return np.concatenate(xs), np.concatenate(ys)

    def __getitem__(self, i):
        return next(self)

    def __iter__(self):
        return self

