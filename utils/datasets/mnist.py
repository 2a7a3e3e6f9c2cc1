"""MNIST handwritten digits (lesson 3): the real download, and a stand-in of real digits.

The real MNIST (60,000 training and 10,000 test images, 28x28 grey levels 0-255) comes through
the same download as `keras.datasets.mnist.load_data()`: the same URL, the same hash check and the
same cache file (`~/.keras/datasets/mnist.npz`), so a copy either of them fetched serves both.

Offline, the stand-in is made of the real handwritten digits that scikit-learn ships with itself
(`load_digits`: 1,797 digits of 8x8 pixels, values 0-16), upscaled to 28x28 and 0-255 so they look
to the code like MNIST, and split 70/30 into train and test, stratified by class with seed 0. It is
written as `mnist.npz` with MNIST's four arrays under `data/standin/mnist/`, marked as a stand-in,
and read back by the same code as the real file. On the same split, scikit-learn's SVC on the raw
8x8 pixels is the peer to beat (`svc_peer`). `DATA='sample'` is the real MNIST's first 6,000
training and 1,000 test digits.
"""
from pathlib import Path

import numpy as np

from utils.datasets.base import Data
from utils.datasets.standin import banner, by_mode, kind, mark
from utils.download import DownloadError, download as fetch, keras_cache
from utils.paths import standin_dir

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
FILE_HASH = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
FNAME = "mnist.npz"
KEYS = ("x_train", "y_train", "x_test", "y_test")
STANDIN_SPLIT = {"test_size": 0.3, "seed": 0}
SVC_PARAMS = {"gamma": 0.001, "C": 10}
SAMPLE = (6000, 1000)  # DATA='sample': the first training and test digits
HOW_TO_GET = ("Real data: run once on a machine with internet (Keras caches it in\n"
              "~/.keras/datasets/mnist.npz), or copy mnist.npz there; then DATA='full'.")


class MnistError(ValueError):
    """A file that is not MNIST's mnist.npz; the message says what is wrong."""


def download(cache_dir=None):
    """Fetch MNIST as keras.datasets.mnist does (hash-checked, cached); its path; lesson 3."""
    folder = Path(cache_dir) / "datasets" if cache_dir else keras_cache()
    return fetch(ORIGIN, folder / FNAME, file_hash=FILE_HASH)


def read(path):
    """((x_train, y_train), (x_test, y_test)) from an mnist.npz file; lesson 3."""
    with np.load(path, allow_pickle=False) as f:
        missing = [k for k in KEYS if k not in f.files]
        if missing:
            raise MnistError(f"{path} is not an MNIST file: it lacks {missing}")
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])


def digits_split(test_size=0.3, seed=0):
    """scikit-learn's 8x8 digits split 70/30 by class: (x_train, y_train, x_test, y_test); lesson 3."""
    from sklearn.datasets import load_digits  # scikit-learn takes seconds to import; only the stand-in needs it
    from sklearn.model_selection import train_test_split
    x, y = load_digits(return_X_y=True)
    x_trn, x_test, y_trn, y_test = train_test_split(x, y, test_size=test_size, stratify=y,
                                                    random_state=seed)
    return x_trn, y_trn, x_test, y_test


def upscale(digits, size=28):
    """8x8 digits with values 0-16 as size x size uint8 images 0-255, smoothly; lesson 3."""
    from PIL import Image  # Pillow only to upscale the stand-in's digits
    digits = np.asarray(digits, dtype="float32").reshape(-1, 8, 8)
    out = np.empty((len(digits), size, size), dtype="uint8")
    for i, d in enumerate(digits):
        big = Image.fromarray(d * (255 / 16), mode="F").resize((size, size), Image.BILINEAR)
        out[i] = np.clip(np.rint(np.asarray(big)), 0, 255)
    return out


def make_standin(dest, size=28):
    """Write the digits stand-in as an MNIST-style mnist.npz in `dest`; return its path; lesson 3."""
    dest = Path(dest)
    path = dest / FNAME
    if path.exists():
        return path
    dest.mkdir(parents=True, exist_ok=True)
    x_trn, y_trn, x_test, y_test = digits_split(**STANDIN_SPLIT)
    tmp = dest / f".{FNAME}.tmp.npz"
    np.savez_compressed(tmp, x_train=upscale(x_trn, size), y_train=y_trn.astype("uint8"),
                        x_test=upscale(x_test, size), y_test=y_test.astype("uint8"))
    mark(dest, "scikit-learn's 8x8 handwritten digits upscaled to 28x28, split 70/30 by class "
               "with seed 0. " + HOW_TO_GET.replace("\n", " "))
    tmp.rename(path)  # last, so a half-written stand-in is made again
    return path


def get(data="auto", cache_dir=None, n_sample=SAMPLE):
    """MNIST as a Data record with parts 'train' and 'test', each (x, y); lesson 3.

    'full': Keras's 60,000 + 10,000 digits; 'sample': the first `n_sample` (train, test) of them;
    'standin': scikit-learn's digits enlarged; 'auto': the real ones, else the stand-in.
    """
    return by_mode(data, "MNIST", lambda mode: _get_real(mode, cache_dir, n_sample), _get_standin,
                   (DownloadError, MnistError))


def _get_real(mode, cache_dir, n_sample):
    """The real digits, all of them or the first `n_sample` of each part."""
    path = download(cache_dir)
    (x_trn, y_trn), (x_test, y_test) = read(path)
    if mode == "sample":
        (x_trn, y_trn), (x_test, y_test) = ((x_trn[:n_sample[0]], y_trn[:n_sample[0]]),
                                            (x_test[:n_sample[1]], y_test[:n_sample[1]]))
    return _record(path, mode, False, (x_trn, y_trn), (x_test, y_test))


def _get_standin():
    """The digits stand-in, written once, with its banner."""
    path = make_standin(standin_dir() / "mnist")
    banner("MNIST", HOW_TO_GET,
           what="scikit-learn's real handwritten 8x8 digits, enlarged to 28x28,")
    return _record(path, "standin", True, *read(path))


def _record(path, mode, standin, train, test):
    """The Data record of digit arrays."""
    return Data(name="mnist", path=Path(path), standin=standin, mode=mode,
                parts={"train": train, "test": test},
                summary=f"MNIST: {kind(mode, standin)}, {len(train[0]):,} training and "
                        f"{len(test[0]):,} test digits, at {path}")


def svc_peer(test_size=0.3, seed=0, **params):
    """Test accuracy of scikit-learn's SVC on the raw 8x8 digits split; lesson 3's peer."""
    from sklearn.svm import SVC  # scikit-learn only for the peer model
    x_trn, y_trn, x_test, y_test = digits_split(test_size, seed)
    return float(SVC(**{**SVC_PARAMS, **params}).fit(x_trn, y_trn).score(x_test, y_test))
