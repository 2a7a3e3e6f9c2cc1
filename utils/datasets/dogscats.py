"""Dogs vs. Cats Redux (lessons 1-3): Kaggle's flat layout, the course's folders, a stand-in.

Kaggle ships `train/cat.N.jpg`, `train/dog.N.jpg` (25,000) and `test/N.jpg` (12,500).
`prepare` turns that into the folders Keras reads classes from:
`train/{cats,dogs}`, `valid/{cats,dogs}` (a seeded held-out split), `test/unknown/`, and
`sample/`, a small subset with the same parts (`sample/{train,valid}/{cats,dogs}`,
`sample/test/unknown/` and a `sample/sample_submission.csv` for exactly those test images) for
quick experiments. The split itself is lesson 1's `split_train_valid`, defined in the notes;
`prepare` checks the files before it and the counts after. `get` returns it as a `Data` record.
"""
import json
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from utils.datasets.base import valid_count
from utils.datasets.competition import place, real_or_standin, record, sample_test
from utils.datasets.standin import jpeg_bytes, made, with_banner
from utils.kaggle.api import how_to_get
from utils.kaggle.fetching import fetch
from utils.paths import data_dir, standin_dir
from utils.standins import pets

COMPETITION = "dogs-vs-cats-redux-kernels-edition"
TITLE = "Kaggle's Dogs vs. Cats Redux"
CLASSES = {"cat": "cats", "dog": "dogs"}
DONE = ".prepared"
SAMPLE_SUBMISSION = "sample_submission.csv"
HOW_TO_GET = how_to_get(COMPETITION)


def _jpegs(path, pattern):
    """JPEGs matching a glob pattern, less what macOS adds when it zips or copies a folder: '._'
    files (metadata, not images, whatever their name) and __MACOSX/ folders."""
    return [p for p in path.glob(pattern)
            if not (p.name.startswith("._") or p.parent.name == "__MACOSX")]


def _is_class_image(p):
    """True for Kaggle's cat.N.jpg and dog.N.jpg."""
    return p.name.split(".")[0] in CLASSES


def _where_train_images_are(path):
    """Every cat.N/dog.N image under train/ or valid/, flat or already in class folders."""
    found = {}
    for pattern in ("train/*.jpg", "train/*/*.jpg", "valid/*/*.jpg"):
        for p in _jpegs(path, pattern):
            if _is_class_image(p):
                found[p.name] = p
    return found


def _refuse_strays(path):
    """Name the JPEGs in train/ or valid/ folders that are not Kaggle's, before anything moves."""
    strays = sorted(str(p) for pattern in ("train/*/*.jpg", "valid/*/*.jpg")
                    for p in _jpegs(path, pattern) if not _is_class_image(p))
    if strays:
        more = f" and {len(strays) - 3} more" if len(strays) > 3 else ""
        it = "it" if len(strays) == 1 else "them"
        raise ValueError(f"{', '.join(strays[:3])}{more}: not Kaggle's training images "
                         f"(cat.N.jpg or dog.N.jpg), so the course's layout has no place for "
                         f"{it}. Move {it} out of {path} (or delete {it}), then re-run.")


def _move(src, dst):
    """Move a file (the kit's own: extracted or linked by fetch) unless it is already in place."""
    if src != dst:
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(src, dst)


def prepare(path, valid_size=2000, n_sample=(200, 50, 50), seed=0):
    """Split Kaggle's flat dogs/cats files into train/valid/test and a sample of each; lesson 1.

    `path` is a folder `fetch` filled (extracted files or links to a read-only mount);
    `valid_size` is the validation images' count (or share); `n_sample` counts the sample's
    (train, valid, test) images.
    """
    path = Path(path)
    if (path / DONE).exists():
        return path
    _refuse_strays(path)
    images = _where_train_images_are(path)
    try:
        n_valid = valid_count(valid_size, len(images))
    except ValueError as err:
        raise ValueError(f"{path} has {len(images)} training images: {err}.") from None
    from utils.lessons.lesson1 import split_train_valid  # lesson 1's module loads Keras: only to prepare
    # The split depends on the names alone, seeded: a re-run after an interruption plans the same
    # one, so every file is moved at most once; samples are linked where the disk allows.
    split_train_valid(path, images.values(), n_valid, n_sample[:2], seed, copy=place)
    for src in _jpegs(path, "test/*.jpg"):
        _move(src, path / "test" / "unknown" / src.name)
    sample_test(_jpegs(path, "test/unknown/*.jpg"), path / "sample" / "test" / "unknown",
                path / SAMPLE_SUBMISSION, path / "sample" / SAMPLE_SUBMISSION, id_of,
                n_sample[2], seed)
    counts = _check(path, len(images), n_valid, n_sample)
    (path / DONE).write_text(json.dumps(counts))
    return path


def id_of(filename):
    """The sample submission's id of a test image: `12.jpg` -> `12`; lesson 1."""
    return Path(filename).stem


def _count(folder):
    """Number of JPEGs in a folder's class subfolders."""
    return len(_jpegs(folder, "*/*.jpg"))


def _check(path, total, n_valid, n_sample):
    """Verify the split's numbers after preparing, and return them."""
    counts = {"train": _count(path / "train"), "valid": _count(path / "valid"),
              "sample/train": _count(path / "sample/train"),
              "sample/valid": _count(path / "sample/valid"), "test": _count(path / "test"),
              "sample/test": _count(path / "sample/test")}
    expected = {"train": total - n_valid, "valid": n_valid, "sample/train": n_sample[0],
                "sample/valid": n_sample[1], "sample/test": min(n_sample[2], counts["test"])}
    wrong = {k: (counts[k], v) for k, v in expected.items() if counts[k] != v}
    if wrong:
        raise RuntimeError(f"Preparing {path} went wrong: (found, expected) = {wrong}")
    return counts


@dataclass(frozen=True)
class Standin:
    """The dogs/cats stand-in's size: training and test photos, and their side in pixels."""
    n_train: int = 800
    n_test: int = 100
    size: int = 64
    mislabelled: float = 0.03  # share of training photos named as the other class, as on Kaggle


def make_standin(dest, standin=Standin(), seed=0):
    """Write a learnable dogs/cats stand-in as Kaggle ships it (train.zip, test.zip, CSV), unless
    the one in `dest` was drawn by the same code and settings; lesson 1."""
    return made(dest, _draw, standin, *pets.DRAWING, what=f"Synthetic dogs vs cats, seed {seed}. " + HOW_TO_GET,
                seed=seed)


def _draw(dest, standin, seed):
    """Draw the stand-in's photos into Kaggle's two zips and write its sample submission."""
    rng = np.random.default_rng(seed)
    with zipfile.ZipFile(dest / "train.zip", "w") as z:
        for i in range(standin.n_train):
            kind = ("cat", "dog")[i % 2]
            # A few photos under the other class's name, as Kaggle's training set has.
            drawn = ("dog", "cat")[i % 2] if rng.random() < standin.mislabelled else kind
            z.writestr(f"train/{kind}.{i // 2}.jpg", jpeg_bytes(pets.pet_photo(drawn, rng, standin.size)))
    with zipfile.ZipFile(dest / "test.zip", "w") as z:
        for i in range(1, standin.n_test + 1):
            kind = ("cat", "dog")[int(rng.integers(2))]
            z.writestr(f"test/{i}.jpg", jpeg_bytes(pets.pet_photo(kind, rng, standin.size)))
    pd.DataFrame({"id": range(1, standin.n_test + 1), "label": 0.5}).to_csv(
        dest / "sample_submission.csv", index=False)


def get(data="auto", *, path=None, valid_size=2000, n_sample=(200, 50, 50), standin=Standin(), seed=0):
    """Dogs vs cats as a Data record: the real data (all of it or its sample), or the stand-in;
    lessons 1-3."""
    path = Path(path or data_dir() / COMPETITION)
    return real_or_standin(data, TITLE, lambda m: _get_real(path, m, valid_size, n_sample, seed),
                           lambda: _get_standin(standin, seed))


def _data(folder, mode, standin):
    """The Data record of a prepared folder (the whole set or its sample/)."""
    parts = {part: folder / part for part in ("train", "valid", "test")}
    return record(COMPETITION, folder, mode, standin, parts, folder / SAMPLE_SUBMISSION)


def _get_real(path, mode, valid_size, n_sample, seed):
    """The real competition data, fetched and prepared; its sample/ for mode 'sample'."""
    folder = prepare(fetch(COMPETITION, path), valid_size, n_sample, seed)
    return _data(folder / "sample" if mode == "sample" else folder, mode, False)


def _get_standin(standin, seed):
    """The stand-in, drawn once, then put through the same fetch and prepare as real data."""
    dest = make_standin(standin_dir() / COMPETITION, standin, seed)
    n_train, n_test = standin.n_train, standin.n_test
    # Never the Kaggle Notebooks mount: real files must not mix into the stand-in's folder.
    folder = prepare(fetch(COMPETITION, dest, use_mounted=False), valid_size=n_train // 4,
                     n_sample=(n_train // 10, n_train // 20, n_test // 4), seed=seed)
    return with_banner(_data(folder, "standin", True), TITLE, HOW_TO_GET)
