"""Training on arrays larger than RAM: batches sliced from memory-mapped arrays, one at a time.

`load_array(name, mmap=True)` opens saved features without reading them, but handing such an
array to `model.fit` makes Keras copy all of it into memory first (we measured 1 GB more RAM for
a 0.5 GB memmap). `ArrayBatches` gives fit one batch at a time instead, read from disk as needed,
so the conv features of a whole Kaggle dataset train fine on a machine with less RAM than that.
"""
import math

import keras
import numpy as np


class ArrayBatches(keras.utils.PyDataset):
    """Shuffled batches sliced from (memory-mapped) arrays, for fit/predict; lessons 2-3."""

    def __init__(self, x, y=None, batch_size=64, shuffle=True, seed=0, **kwargs):
        super().__init__(**kwargs)
        if y is not None and len(x) != len(y):
            raise ValueError(f"x has {len(x)} rows but y has {len(y)}: they must match")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.x, self.y, self.batch_size, self.shuffle = x, y, int(batch_size), shuffle
        self._rng = np.random.default_rng(seed)
        self._order = np.arange(len(x))
        self.on_epoch_end()

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, i):
        if not 0 <= i < len(self):
            raise IndexError(f"batch {i} of {len(self)}")
        # Sorted row numbers read a memory-mapped file front to back, which disks like best.
        rows = np.sort(self._order[i * self.batch_size:(i + 1) * self.batch_size])
        xb = np.asarray(self.x[rows])
        return xb if self.y is None else (xb, np.asarray(self.y[rows]))

    def on_epoch_end(self):
        """A new random order of rows for the next epoch (when shuffling)."""
        if self.shuffle:
            self._order = self._rng.permutation(len(self.x))
