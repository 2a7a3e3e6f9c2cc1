"""Cache big numpy arrays on disk: the course's `save_array` / `load_array`, made fast and safe.

The lessons precompute expensive things once (VGG conv features, predictions, labels) and
keep them under names such as `results/train_data.bc` or `results/conv_feat.dat`. The 2017
course stored them as bcolz carray folders. This module keeps those names and calls working,
but writes a different format.

Format: the name becomes a folder holding `array.npy` (a plain, uncompressed NumPy file) and
`dl1_array.json`, a small marker that says what the folder is. A name ending in `.npy` is
written as that single file instead. Why not bcolz, why not compression:
  * Speed. Saving 200 MB of ReLU-like float32 features on a 2-core test machine took 0.44 to
    0.6 s with bcolz's default (lz4, clevel 5) against 0.034 to 0.06 s with np.save, 10 to
    13x slower; loading took 0.3 to 0.6 s against 0.07 to 0.09 s with np.load. A raw .npy
    is written and read by np.save / np.load themselves, so it runs at their speed
    (`bench/bench_arrays.py` measures all of these side by side).
  * Disk. lz4 saves little on these features: half the values are nonzero random floats
    that do not compress, so the bcolz folder was still 86% of the raw size (173 MB against
    200 MB). Saving 14% of disk is not worth a 10x slower write and a 4 to 8x slower read.
  * Out of core. A raw .npy can be memory-mapped: `load_array(name, mmap=True)` opens it
    at once and reads pages only as they are sliced, so features larger than RAM still work.
    `ArrayWriter` writes such arrays batch by batch.
  * A folder (not a bare file) keeps the old names, so `train_data.bc` is still a folder
    like before, and the marker tells our folders apart from old bcolz ones.

Use:
    save_array('results/train_data.bc', feats)        # replaces any old array of that name
    feats = load_array('results/train_data.bc')       # whole array in memory
    feats = load_array('results/train_data.bc', mmap=True)  # read lazily, slice by slice
    with ArrayWriter('results/conv_feat.bc') as w:    # too big for RAM: write batch by batch
        for x, _ in batches:
            w.append(conv_model.predict(x))           # first batch fixes dtype and row shape
With mmap=True our folders and .npy files come back as a read-only np.memmap (opens at
once); an old bcolz folder comes back as the bcolz carray itself, which decompresses only
the chunks a slice touches. Loading a folder checks its data against the shape and dtype its
marker records, so a damaged header or a swapped `array.npy` is an error, never another array.

Old bcolz folders written by the original notebooks (they have `meta/` and `data/`
subfolders and an `__attrs__` file) are still read, with `bcolz.open`, where the optional bcolz
package is installed (it has wheels for Python 3.11 and 3.12 only); elsewhere loading one says how
to convert it.

Every write goes to a hidden temporary name beside the target and is renamed into place at
the end, so an interrupted save never leaves something that loads as complete, and a disk
that fills up mid-save keeps the old array and says so, with where and how much was needed.
There is no fsync (it would cost more than the save itself), so this guards against
exceptions, Ctrl-C and killed kernels, not against a power cut.
"""
import contextlib
import errno
import json
import os
import re
import secrets
import shutil
from pathlib import Path

import numpy as np
from tqdm import tqdm

DATA_FILE = "array.npy"
MARKER_FILE = "dl1_array.json"
MARKER = {"format": "dl1-kit array", "version": 1, "data": DATA_FILE}
# How NumPy's tofile reports a write cut short by a full disk: no errno, only these words.
SHORT_WRITE = re.compile(r"\d+ requested and \d+ written")


def save_array(fname, arr):
    """Save arr as `fname`: a folder like `results/train_data.bc`, or a `.npy` file; lessons 2-7."""
    path = Path(fname)
    arr = _storable(np.asanyarray(arr))
    staging, npy = _begin(path)
    try:
        with open(npy, "wb") as f:
            # No pickling: cached arrays are plain numbers, and loading never runs code.
            np.save(f, arr, allow_pickle=False)
        _commit(staging, path, arr.shape, arr.dtype)
    except BaseException as err:
        _discard(staging)
        full = _disk_full(err, path, _size(arr.nbytes))
        if full is None:
            raise
        raise full from None


def _storable(arr):
    """arr as a dtype a .npy file keeps: bfloat16 and float8 (mixed precision's) become float32."""
    # NumPy knows these types only through ml_dtypes; np.save writes them as raw bytes ('|V2')
    # that load back as unusable void rows, so a bf16 model's predictions are widened first.
    if arr.dtype.kind == "V" and (arr.dtype.name == "bfloat16" or arr.dtype.name.startswith("float8")):
        return arr.astype(np.float32)
    return arr


def load_array(fname, mmap=False):
    """Load what save_array saved, an old course bcolz folder or a `.npy` file; lessons 2-7."""
    # mmap=True is for arrays larger than RAM: nothing is read until it is sliced.
    path = Path(fname)
    kind = _kind(path)
    if kind == "bcolz":
        return _load_bcolz(path, mmap)
    if kind == "npy":
        return _load_npy(path, mmap)
    npy = path / DATA_FILE
    shape, dtype = _marked(path)
    arr = _load_npy(npy, mmap)
    # A damaged header or another step's array.npy still parses: only the marker tells.
    if arr.shape != shape or arr.dtype != dtype:
        raise ValueError(_damaged(npy, f"it holds {arr.shape} {arr.dtype}, which does not match "
                                       f"its {MARKER_FILE} ({shape} {dtype})"))
    return arr


def _load_npy(npy, mmap):
    """np.load of a .npy file, never unpickling; a file that is not a whole .npy is damaged."""
    if not _is_npy(npy):
        raise ValueError(_damaged(npy, "it is not a NumPy .npy file"))
    try:
        return np.load(npy, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        # NumPy's own advice for an object header is to allow pickles: never give that.
        reason = "its header declares Python objects" if "pickle" in str(err) else str(err)
        raise ValueError(_damaged(npy, reason)) from None


def _marked(path):
    """(shape, dtype) as the marker of our folder at path records them."""
    marker = path / MARKER_FILE
    try:
        found = json.loads(marker.read_text())
        return tuple(found["shape"]), np.lib.format.descr_to_dtype(found["dtype"])
    except (ValueError, KeyError, TypeError):
        raise ValueError(_damaged(marker, "it is not a complete marker")) from None


def _damaged(path, reason):
    """The message for a saved array's file that cannot be trusted: which, why, what to do."""
    return (f"'{path}' is damaged: {reason.rstrip('.')}. Nothing was loaded. Save it again: "
            "run the step that saves it (save_array or ArrayWriter).")


class ArrayWriter:
    """Write an array batch by batch, even one larger than RAM, for load_array; lessons 3-7."""

    def __init__(self, fname):
        self.path = Path(fname)
        self.dtype = None
        self.row_shape = None
        self.rows = 0
        self._staging = self._file = None
        self._data_start = 0

    @property
    def shape(self):
        """Shape of what has been appended so far (None before the first batch)."""
        return None if self.dtype is None else (self.rows, *self.row_shape)

    def append(self, batch):
        """Write one batch of rows (its first axis) to the end of the array."""
        batch = _storable(np.asarray(batch))
        if batch.ndim == 0:
            raise ValueError("ArrayWriter.append needs a batch of rows, not a scalar")
        if self._file is None:
            self._start(batch.dtype, batch.shape[1:])
        if batch.shape[1:] != self.row_shape:
            raise ValueError(f"batch rows have shape {batch.shape[1:]}, "
                             f"but {self.path} has rows of shape {self.row_shape}")
        # same_kind: float64 predictions into a float32 file are fine, floats into ints are not.
        rows = batch.astype(self.dtype, casting="same_kind", copy=False)
        try:
            rows.tofile(self._file)
        except BaseException as err:
            # A write cut short leaves the file mid-row, so it cannot go on: it is deleted.
            self.abort()
            full = _disk_full(err, self.path, f"at least {_size(self._nbytes() + rows.nbytes)}")
            if full is None:
                raise
            raise full from None
        self.rows += len(batch)

    def close(self):
        """Finish the file and move it into place under its name."""
        if self._file is None:
            raise ValueError(f"nothing was appended to {self.path}; no array to save")
        try:
            end = self._file.tell()
            self._file.seek(0)
            self._write_header()
            # NumPy pads headers so the row count can grow in place; check it really did.
            if self._file.tell() != self._data_start:
                raise RuntimeError("this NumPy cannot rewrite .npy headers in place")
            self._file.seek(end)
            self._file.close()
            _commit(self._staging, self.path, self.shape, self.dtype)
        except BaseException as err:
            self.abort()
            full = _disk_full(err, self.path, _size(self._nbytes()))
            if full is None:
                raise
            raise full from None
        self._file = self._staging = None

    def abort(self):
        """Stop writing and delete the partial file; the name is left as it was."""
        if self._file is not None:
            # On a full disk the last flush fails too; the file is closed all the same.
            with contextlib.suppress(OSError):
                self._file.close()
        _discard(self._staging)
        self._file = self._staging = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def _start(self, dtype, row_shape):
        self.dtype, self.row_shape = dtype, row_shape
        self._staging, npy = _begin(self.path)
        self._file = open(npy, "wb")
        # Header for zero rows now; close() rewrites it with the real count, same length.
        self._write_header()
        self._data_start = self._file.tell()

    def _nbytes(self):
        """Bytes of the file so far: its header and the rows appended."""
        return self._data_start + self.rows * self.dtype.itemsize * int(np.prod(self.row_shape))

    def _write_header(self):
        header = {"descr": np.lib.format.dtype_to_descr(self.dtype),
                  "fortran_order": False, "shape": self.shape}
        np.lib.format.write_array_header_1_0(self._file, header)


def _disk_full(err, path, needed):
    """The error saying the disk filled while saving path, or None when err is not that."""
    if not isinstance(err, OSError):
        return None
    if err.errno not in (errno.ENOSPC, errno.EDQUOT) and not SHORT_WRITE.fullmatch(str(err)):
        return None
    return OSError(errno.ENOSPC, f"The disk is full at '{path.absolute().parent}': saving '{path}' "
                                 f"needs {needed}. Nothing was saved, and any older array of that "
                                 "name is kept as it was. Free some space (or save it on a bigger "
                                 "disk), then run the step again.")


def _size(nbytes):
    """A byte count for people, e.g. '6.12MB'."""
    return tqdm.format_sizeof(nbytes, "B", 1024)


def _load_bcolz(path, mmap):
    """Read an old course bcolz folder: the carray itself if mmap, else a NumPy array."""
    try:
        import bcolz  # optional: only the 2017 course's folders need it
    except ImportError:
        raise ImportError(
            f"'{path}' is a bcolz folder saved by the 2017 course, and reading it needs the "
            "optional bcolz package, which has wheels for Python 3.11 and 3.12 only. Either "
            "pip install 'bcolz-zipline>=1.12' on such a Python, or convert the folder there once "
            "into the kit's format, which every Python reads: python -c \"from utils.arrays import "
            f"load_array, save_array; save_array('{path}', load_array('{path}'))\"") from None
    try:
        carray = bcolz.open(str(path), mode="r")
        if mmap:
            # A lazy open reads chunks only when sliced, so check now that they are all there.
            missing = [i for i in range(carray.nchunks)
                       if not (path / "data" / f"__{i}.blp").is_file()]
            if missing:
                raise FileNotFoundError(f"chunk file data/__{missing[0]}.blp is missing")
            return carray
        return carray[:]
    except Exception as e:  # bcolz raises OSError, ValueError, RuntimeError or struct.error
        raise ValueError(
            f"'{path}' is an incomplete or damaged bcolz folder ({type(e).__name__}: {e}); "
            "nothing was changed. Copy it again from where it was made, or delete it and run "
            "the step that saves it.") from None


def _kind(path):
    """Say what is stored at path: 'folder' (ours), 'bcolz', 'npy'; raise if it is neither."""
    if not path.exists():
        raise FileNotFoundError(f"no saved array at '{path}': arrays are made by save_array() "
                                "(or ArrayWriter); run the step that saves it first")
    if path.is_dir():
        if (path / MARKER_FILE).is_file():
            if not (path / DATA_FILE).is_file():
                raise ValueError(f"'{path}' has a {MARKER_FILE} marker but no {DATA_FILE}")
            return "folder"
        if (path / "__attrs__").is_file() or ((path / "meta").is_dir()
                                              and (path / "data").is_dir()):
            return "bcolz"
        raise ValueError(f"'{path}' is a folder but not a saved array: neither a save_array "
                         f"folder (no {MARKER_FILE}) nor a bcolz rootdir (no meta/ and data/)")
    if _is_npy(path):
        return "npy"
    raise ValueError(f"'{path}' is a file but not a .npy file, so not a saved array")


def _is_npy(path):
    """True when the file at path starts as a .npy file does."""
    with open(path, "rb") as f:
        return f.read(6) == b"\x93NUMPY"


def _begin(path):
    """Make a hidden staging place beside path; return it and the .npy file to write there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        _kind(path)  # refuse to replace a folder or file that is not a saved array
    # Same folder as the target, so the final rename stays on one filesystem (atomic).
    staging = path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    if path.suffix == ".npy":
        return staging, staging
    staging.mkdir()
    return staging, staging / DATA_FILE


def _commit(staging, path, shape, dtype):
    """Move the finished staging file or folder to path, replacing any old array there."""
    if staging.is_dir():
        marker = {**MARKER, "shape": list(shape), "dtype": np.lib.format.dtype_to_descr(dtype)}
        (staging / MARKER_FILE).write_text(json.dumps(marker) + "\n")
    if not path.exists() or (path.is_file() and staging.is_file()):
        os.replace(staging, path)  # atomic, also over an old file
        return
    # A folder cannot be renamed over a non-empty one, so move the old one aside first.
    old = path.with_name(f".{path.name}.old-{os.getpid()}-{secrets.token_hex(4)}")
    os.replace(path, old)
    os.replace(staging, path)
    _discard(old)


def _discard(staging):
    """Delete a staging (or replaced) file or folder, if there is one."""
    if staging is None or not os.path.lexists(staging):
        return
    if staging.is_dir():
        shutil.rmtree(staging, ignore_errors=True)
    else:
        staging.unlink()
