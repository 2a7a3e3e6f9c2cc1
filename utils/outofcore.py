"""Training on arrays larger than RAM: the kit's one reader of batches from arrays on disk.

`load_array(name, mmap=True)` opens saved features without reading them, but handing such an
array to `model.fit` makes Keras copy all of it into memory first (`bench/bench_lesson7.py`
measures it: the process grows by the array's size). `ArrayBatches`, a Keras `PyDataset`, gives
fit one batch at a time instead, read from disk as needed, so the conv features of a whole Kaggle
dataset (6 GB for Fisheries at 360x640) train on a machine with less RAM than that. Inputs and
targets can be one array or several (a list or dict: lesson 7's features + size one-hot, its class
+ box outputs). The pseudo-label mix (`utils.pseudo.MixIterator`) reads through it too.
"""
import math
from pathlib import Path

import keras
import numpy as np

from utils.arrays import DATA_FILE, load_array

PyDataset = keras.utils.PyDataset  # what Keras's fit/predict take as a stream of batches


class Rows:
    """Rows of an array in memory or on disk (.npy or save_array folder), read on demand; lessons 2-7."""

    def __init__(self, data):
        self.path = None
        if isinstance(data, (str, Path)):
            # load_array checks a folder's data against its marker; nothing is read yet.
            self.path = Path(load_array(_checked_path(Path(data)), mmap=True).filename)
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


def _checked_path(path):
    """A path given to save_array/load_array, once it is known to hold saved features."""
    if path.is_dir() and not (path / DATA_FILE).is_file():
        raise ValueError(f"{path} is not a save_array folder of features (no {DATA_FILE}); "
                         "precompute the features first")
    if not path.exists():
        raise FileNotFoundError(f"no features at {path}; precompute them first")
    return path


def as_rows(data):
    """Rows over an array, memmap, .npy path or save_array folder (a Rows stays); lessons 2-7."""
    return data if isinstance(data, Rows) else Rows(data)


def _rows_of(data):
    """The same structure (one, list, tuple or dict of arrays/paths) with Rows as its leaves."""
    if isinstance(data, dict):
        return {k: as_rows(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return type(data)(as_rows(v) for v in data)
    return as_rows(data)


def _leaves(rows):
    return list(rows.values()) if isinstance(rows, dict) else (
        list(rows) if isinstance(rows, (list, tuple)) else [rows])


def _take(rows, index):
    """The rows at `index` of every array in the structure, as that structure."""
    if isinstance(rows, dict):
        return {k: r.take(index) for k, r in rows.items()}
    if isinstance(rows, (list, tuple)):
        return tuple(r.take(index) for r in rows)  # Keras reads a tuple as several inputs
    return rows.take(index)


class ArrayBatches(PyDataset):
    """Batches of rows read from (memory-mapped) arrays, reshuffled each epoch; lessons 2-7.

    x and y: an array, a memmap, a .npy path or a save_array folder, or a list/dict of them for
    models with several inputs or outputs; every one must have the same number of rows.
    """

    def __init__(self, x, y=None, batch_size=64, shuffle=True, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y = _rows_of(x), None if y is None else _rows_of(y)
        sizes = {len(r) for r in _leaves(self.x) + ([] if y is None else _leaves(self.y))}
        if len(sizes) != 1:
            raise ValueError(f"x and y have {sorted(sizes)} rows: every array must have as many")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.n = self.samples = sizes.pop()
        self.batch_size, self.shuffle = int(batch_size), bool(shuffle)
        self._rng = np.random.default_rng(seed)
        self._order = np.arange(self.n)
        self.on_epoch_end()

    def __len__(self):
        return math.ceil(self.n / self.batch_size)

    def take(self, index):
        """(x, y) of the rows at `index` (x alone without labels): the one read path."""
        xb = _take(self.x, index)
        if self.y is None:  # several inputs alone go in a 1-tuple, or Keras reads them as (x, y)
            return (xb,) if isinstance(xb, tuple) else xb
        return xb, _take(self.y, index)

    def __getitem__(self, i):
        if not 0 <= i < len(self):
            raise IndexError(f"batch {i} of {len(self)}")
        # Sorted row numbers read a memory-mapped file front to back, which disks like best.
        return self.take(np.sort(self._order[i * self.batch_size:(i + 1) * self.batch_size]))

    def on_epoch_end(self):
        """A new random order of rows for the next epoch (when shuffling)."""
        if self.shuffle:
            self._order = self._rng.permutation(self.n)
