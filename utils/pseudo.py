"""Pseudo-labelling, and MixIterator: training batches that mix labelled and pseudo-labelled rows.

Pseudo-labelling (lessons 4 and 7): a model trained on the labelled images predicts the unlabelled
TEST images, and those predictions are used as if they were labels, in a share of every training
batch. It helps because the test photos show the model new drivers, boats or lighting, with
answers that are right most of the time.

Two faults of the 2017 course are fixed here:
  * It pseudo-labelled the validation images and trained on them, so its validation score
    measured images the model had trained on. `pseudo_label` takes the validation features as a
    required argument and refuses unlabelled rows that are validation rows, by file name when
    names are given and always by content (a fingerprint of every row).
  * It held every array in memory, and ran out of it. Here features stay on disk (an `.npy` or a
    `save_array` folder): predictions are made chunk by chunk, and `MixIterator` reads only the
    rows of the current batch, from a memory map opened for that batch and closed after it (a map
    kept open would keep every page it ever read counted in the process's memory). Peak memory
    therefore does not grow with the number of unlabelled images (`bench/bench_lesson4.py`).
"""
import hashlib
from pathlib import Path

import numpy as np


class LeakError(ValueError):
    """Validation data turned up where only unlabelled test data may be."""


class Rows:
    """Rows of an array in memory or on disk (.npy or save_array folder), read on demand; lessons 4, 7."""

    def __init__(self, data):
        self.path = None
        if isinstance(data, (str, Path)):
            self.path = _npy_path(Path(data))
        elif isinstance(data, np.memmap) and data.filename:
            full = np.load(data.filename, mmap_mode="r")
            if full.shape == data.shape and full.dtype == data.dtype:
                self.path = Path(data.filename)  # reopened per read, so pages are let go
        if self.path is None:
            self.array = np.asarray(data)
            self.shape, self.dtype = self.array.shape, self.array.dtype
        else:
            head = np.load(self.path, mmap_mode="r")
            self.shape, self.dtype = head.shape, head.dtype
            del head

    def __len__(self):
        return self.shape[0]

    def take(self, index):
        """A copy of the rows at `index` (a slice or integer array), nothing else kept."""
        if self.path is None:
            return self.array[index]
        mapped = np.load(self.path, mmap_mode="r")
        try:
            return np.array(mapped[index])
        finally:
            del mapped  # unmapping drops the pages from this process's resident memory

    def chunks(self, size):
        """(start, rows) for consecutive chunks of `size` rows."""
        for start in range(0, len(self), size):
            yield start, self.take(slice(start, start + size))


def _npy_path(path):
    """The .npy file behind a path given to save_array/load_array."""
    from utils.arrays import DATA_FILE
    if path.is_dir():
        if not (path / DATA_FILE).is_file():
            raise ValueError(f"{path} is not a save_array folder of features (no {DATA_FILE}); "
                             "precompute the features first")
        return path / DATA_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no features at {path}; precompute them first")
    return path


def as_rows(data):
    """Rows over an array, memmap, .npy path or save_array folder (a Rows stays); lessons 4, 7."""
    return data if isinstance(data, Rows) else Rows(data)


def predict_rows(model, data, batch_size=256):
    """Model outputs for every row, predicted chunk by chunk from disk; lessons 4, 7."""
    rows = as_rows(data)
    outs = [np.asarray(model.predict_on_batch(x)) for _, x in rows.chunks(batch_size)]
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


class MixIterator:
    """Endless batches that join one batch from each source: the course's MixIterator; lessons 4, 7.

    A source is a pair (x, y) of arrays, memmaps, .npy paths or save_array folders, read a batch
    at a time in a shuffled order that is redrawn each pass, or any iterator of (x, y) batches
    (Keras-style batches), from which the next batch is taken.
    """

    def __init__(self, sources, batch_sizes=None, shuffle=True, seed=0, steps=None):
        if not sources:
            raise ValueError("MixIterator needs at least one source")
        if batch_sizes is None:
            batch_sizes = [None] * len(sources)
        if len(batch_sizes) != len(sources):
            raise ValueError(f"{len(sources)} sources but {len(batch_sizes)} batch sizes")
        self.rng = np.random.default_rng(seed)
        self.shuffle = shuffle
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
            return {"x": x, "y": y, "n": len(x), "batch": int(batch), "order": None, "pos": 0}
        return {"it": iter(source), "n": None, "batch": batch}

    def __len__(self):
        return self.steps

    def __iter__(self):
        return self

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

    def __next__(self):
        xs, ys = [], []
        for s in self.sources:
            if "it" in s:
                x, y = next(s["it"])[:2]
            else:
                idx = self._next_index(s)
                x, y = s["x"].take(idx), s["y"].take(idx)
            xs.append(np.asarray(x))
            ys.append(np.asarray(y, dtype="float32"))
        return np.concatenate(xs), np.concatenate(ys)

    def dataset(self, prefetch=2):
        """The same batches as a tf.data.Dataset for model.fit(..., steps_per_epoch=len(it))."""
        import tensorflow as tf
        x, y = next(self)  # one batch fixes the shapes and dtypes
        spec = (tf.TensorSpec((None, *x.shape[1:]), tf.as_dtype(x.dtype)),
                tf.TensorSpec((None, *y.shape[1:]), tf.float32))

        def gen():
            yield x, y
            yield from self

        from utils.env import native_logs_silenced
        ds = tf.data.Dataset.from_generator(gen, output_signature=spec)
        with native_logs_silenced():  # the first generator run logs a memory setting to stderr
            next(iter(ds.take(1)))  # yields the batch drawn above: the stream does not advance
        return ds.prefetch(prefetch)


def mix_with_pseudo(labelled, unlabelled, pseudo, batch_size=64, pseudo_share=0.25, seed=0):
    """MixIterator whose batches are labelled rows plus a share of pseudo-labelled ones; lessons 4, 7."""
    n_pseudo = max(1, round(batch_size * pseudo_share))
    return MixIterator([labelled, (unlabelled, pseudo)], [batch_size - n_pseudo, n_pseudo],
                       seed=seed)
