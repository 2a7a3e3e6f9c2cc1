"""MNIST handwritten digits (lesson 3): the real download, and a stand-in of real digits.

The real MNIST (60,000 training and 10,000 test images, 28x28 grey levels 0-255) comes through
the same download as `keras.datasets.mnist.load_data()`: the same URL, the same hash check and the
same cache file (`~/.keras/datasets/mnist.npz`), so a copy either of them fetched serves both.

Offline, the stand-in is made of the real handwritten digits that scikit-learn ships with itself
(`load_digits`: 1,797 digits of 8x8 pixels, values 0-16), upscaled to 28x28 and 0-255 so they look
to the code like MNIST, and split 70/30 into train and test, stratified by class with seed 0. It is
written as `mnist.npz` with MNIST's four arrays under `data/standin/mnist/`, marked as a stand-in
(drawn anew by `standin.made` when its settings or drawing code change), and read back by the same
code as the real file. On the same split, scikit-learn's SVC on the raw 8x8 pixels is the peer to
beat (`svc_peer`). `DATA='sample'` is the real MNIST's first 6,000 training and 1,000 test digits.
"""
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from utils.datasets.base import Data
from utils.datasets.standin import by_mode, kind, made, with_banner
from utils.download import DownloadError, download as fetch, keras_cache
from utils.paths import standin_dir

TITLE = "MNIST"
ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
FILE_HASH = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
FNAME = "mnist.npz"
KEYS = ("x_train", "y_train", "x_test", "y_test")
SVC_PARAMS = {"gamma": 0.001, "C": 10}
SAMPLE = (6000, 1000)  # DATA='sample': the first training and test digits
HOW_TO_GET = ("Real data: run once on a machine with internet (Keras caches it in\n"
              "~/.keras/datasets/mnist.npz), or copy mnist.npz there; then DATA='full'.")


class MnistError(ValueError):
    """A file that is not MNIST's mnist.npz; the message says what is wrong."""


@dataclass(frozen=True)
class Standin:
    """The MNIST stand-in's recipe: the share of scikit-learn's digits held out for test, and the
    side in pixels they are enlarged to."""
    test_size: float = 0.3
    size: int = 28


def download(cache_dir=None):
    """Fetch MNIST as keras.datasets.mnist does (hash-checked, cached); its path; lesson 3."""
    return _download(Path(cache_dir) / "datasets" if cache_dir else None)


def _download(path=None, origin=None, quiet=False):
    """mnist.npz in the folder `path` (Keras's cache by default), from `origin` unless a good copy
    is there."""
    return fetch(origin or ORIGIN, Path(path or keras_cache()) / FNAME, file_hash=FILE_HASH,
                 quiet=quiet)


def read(path):
    """((x_train, y_train), (x_test, y_test)) from an mnist.npz file; lesson 3."""
    with np.load(path, allow_pickle=False) as f:
        missing = [k for k in KEYS if k not in f.files]
        if missing:
            raise MnistError(f"{path} is not an MNIST file: it lacks {missing}")
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])


def digits_split(test_size=Standin.test_size, seed=0):
    """scikit-learn's 8x8 digits split 70/30 by class: (x_train, y_train, x_test, y_test); lesson 3."""
    from sklearn.datasets import load_digits  # scikit-learn takes seconds to import; only the stand-in needs it
    from sklearn.model_selection import train_test_split
    x, y = load_digits(return_X_y=True)
    x_trn, x_test, y_trn, y_test = train_test_split(x, y, test_size=test_size, stratify=y,
                                                    random_state=seed)
    return x_trn, y_trn, x_test, y_test


def upscale(digits, size=Standin.size):
    """8x8 digits with values 0-16 as size x size uint8 images 0-255, smoothly; lesson 3."""
    from PIL import Image  # Pillow only to upscale the stand-in's digits
    digits = np.asarray(digits, dtype="float32").reshape(-1, 8, 8)
    out = np.empty((len(digits), size, size), dtype="uint8")
    for i, d in enumerate(digits):
        big = Image.fromarray(d * (255 / 16), mode="F").resize((size, size), Image.BILINEAR)
        out[i] = np.clip(np.rint(np.asarray(big)), 0, 255)
    return out


def make_standin(dest, standin=Standin(), seed=0):
    """The path of the digits stand-in, an MNIST-style mnist.npz in `dest`, unless the one there
    was drawn by the same code and settings; lesson 3."""
    what = (f"scikit-learn's 8x8 handwritten digits upscaled to {standin.size}x{standin.size}, "
            f"{standin.test_size:.0%} held out for test by class with seed {seed}. "
            + HOW_TO_GET.replace("\n", " "))
    return made(dest, _draw, standin, digits_split, upscale, what=what, seed=seed) / FNAME


def _draw(dest, standin, seed):
    """Split scikit-learn's digits, enlarge them and save MNIST's four arrays."""
    x_trn, y_trn, x_test, y_test = digits_split(standin.test_size, seed)
    np.savez_compressed(dest / FNAME, x_train=upscale(x_trn, standin.size),
                        y_train=y_trn.astype("uint8"), x_test=upscale(x_test, standin.size),
                        y_test=y_test.astype("uint8"))


def get(data="auto", *, path=None, origin=None, n_sample=SAMPLE, standin=Standin(), seed=0):
    """MNIST as a Data record with parts 'train' and 'test', each (x, y); lesson 3.

    'full': Keras's 60,000 + 10,000 digits, in the folder `path` (Keras's cache by default);
    'sample': the first `n_sample` (train, test) of them; 'standin': scikit-learn's digits
    enlarged; 'auto': the real ones, else the stand-in.
    """
    return by_mode(data, TITLE, lambda mode: _get_real(mode, path, origin, n_sample),
                   lambda: _get_standin(standin, seed), (DownloadError, MnistError))


def _get_real(mode, path, origin, n_sample):
    """The real digits, all of them or the first `n_sample` of each part."""
    cached = (Path(path or keras_cache()) / FNAME).is_file()
    file = _download(path, origin, quiet=True)  # get prints nothing: the note says it
    notes = () if cached else (f"Downloaded {FNAME} from {origin or ORIGIN}.",)
    (x_trn, y_trn), (x_test, y_test) = read(file)
    if mode == "sample":
        (x_trn, y_trn), (x_test, y_test) = ((x_trn[:n_sample[0]], y_trn[:n_sample[0]]),
                                            (x_test[:n_sample[1]], y_test[:n_sample[1]]))
    return _record(file, mode, False, (x_trn, y_trn), (x_test, y_test), notes)


def _get_standin(standin, seed):
    """The digits stand-in, drawn once, with its banner."""
    path = make_standin(standin_dir() / "mnist", standin, seed)
    side = f"{standin.size}x{standin.size}"
    return with_banner(_record(path, "standin", True, *read(path)), TITLE, HOW_TO_GET,
                       what=f"scikit-learn's real handwritten 8x8 digits, enlarged to {side},")


def _record(path, mode, standin, train, test, notes=()):
    """The Data record of digit arrays."""
    return Data(name="mnist", path=Path(path), standin=standin, mode=mode,
                parts={"train": train, "test": test}, notes=notes,
                summary=f"MNIST: {kind(mode, standin)}, {len(train[0]):,} training and "
                        f"{len(test[0]):,} test digits, at {path}")


def svc_peer(test_size=Standin.test_size, seed=0, **params):
    """Test accuracy of scikit-learn's SVC on the raw 8x8 digits split; lesson 3's peer."""
    from sklearn.svm import SVC  # scikit-learn only for the peer model
    x_trn, y_trn, x_test, y_test = digits_split(test_size, seed)
    return float(SVC(**{**SVC_PARAMS, **params}).fit(x_trn, y_trn).score(x_test, y_test))
