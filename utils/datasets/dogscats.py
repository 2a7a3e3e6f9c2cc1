"""Dogs vs. Cats Redux (lessons 1-3): Kaggle's flat layout, the course's folders, a stand-in.

Kaggle ships `train/cat.N.jpg`, `train/dog.N.jpg` (25,000) and `test/N.jpg` (12,500).
`prepare` turns that into the folders Keras reads classes from:
`train/{cats,dogs}`, `valid/{cats,dogs}` (a seeded held-out split), `test/unknown/`, and
`sample/`, a small subset with the same parts (`sample/{train,valid}/{cats,dogs}`,
`sample/test/unknown/` and a `sample/sample_submission.csv` for exactly those test images) for
quick experiments. `get` returns it as a `Data` record.
"""
import io
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

from utils.datasets.competition import place, real_or_standin, record, sample_test
from utils.datasets.standin import banner, mark
from utils.kaggle.fetching import fetch
from utils.paths import data_dir, standin_dir

COMPETITION = "dogs-vs-cats-redux-kernels-edition"
TITLE = "Kaggle's Dogs vs. Cats Redux"
CLASSES = {"cat": "cats", "dog": "dogs"}
DONE = ".prepared"
SAMPLE_SUBMISSION = "sample_submission.csv"
HOW_TO_GET = (f"Real data: accept the rules at kaggle.com/competitions/{COMPETITION},\n"
              "put your Kaggle API token in ~/.kaggle/kaggle.json, then run with DATA='full'.")


def _where_train_images_are(path):
    """Every cat.N/dog.N image under train/ or valid/, flat or already in class folders."""
    found = {}
    for pattern in ("train/*.jpg", "train/*/*.jpg", "valid/*/*.jpg"):
        for p in path.glob(pattern):
            if p.name.split(".")[0] in CLASSES:
                found[p.name] = p
    return found


def _move(src, dst):
    """Move a file (the kit's own: extracted or linked by fetch) unless it is already in place."""
    if src != dst:
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(src, dst)


def prepare(path, n_valid=2000, n_sample=(200, 50, 50), seed=0):
    """Split Kaggle's flat dogs/cats files into train/valid/test and a sample of each; lesson 1.

    `path` is a folder `fetch` filled (extracted files or links to a read-only mount);
    `n_sample` counts the sample's (train, valid, test) images.
    """
    path = Path(path)
    if (path / DONE).exists():
        return path
    images = _where_train_images_are(path)
    if n_valid >= len(images):
        raise ValueError(f"{path} has {len(images)} training images; n_valid={n_valid} "
                         "leaves none to train on.")
    # A fixed permutation of the sorted names: a re-run after an interruption plans the same
    # split, so every file is moved at most once.
    order = np.random.default_rng(seed).permutation(sorted(images))
    valid = set(order[:n_valid])
    for name, src in images.items():
        split = "valid" if name in valid else "train"
        _move(src, path / split / CLASSES[name.split(".")[0]] / name)
    for src in (path / "test").glob("*.jpg"):
        _move(src, path / "test" / "unknown" / src.name)
    for split, n in zip(("train", "valid"), n_sample):
        _copy_sample(path, split, n, seed)
    sample_test((path / "test" / "unknown").glob("*.jpg"), path / "sample" / "test" / "unknown",
                path / SAMPLE_SUBMISSION, path / "sample" / SAMPLE_SUBMISSION, id_of,
                n_sample[2], seed)
    counts = _check(path, len(images), n_valid, n_sample)
    (path / DONE).write_text(json.dumps(counts))
    return path


def _copy_sample(path, split, n, seed):
    """Link (or copy) a seeded subset of a split into sample/, skipping files already there."""
    files = sorted((path / split).glob("*/*.jpg"))
    for i in np.random.default_rng(seed + 1).permutation(len(files))[:n]:
        place(files[i], path / "sample" / split / files[i].parent.name / files[i].name)


def id_of(filename):
    """The sample submission's id of a test image: `12.jpg` -> `12`; lesson 1."""
    return Path(filename).stem


def _count(folder):
    """Number of JPEGs in a folder's class subfolders."""
    return sum(1 for _ in folder.glob("*/*.jpg"))


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


def _standin_image(kind, rng, size):
    """One synthetic animal: warm fur and pointed ears for cats, cool fur and floppy ears for dogs."""
    side = int(size * rng.uniform(0.8, 1.25))  # real photos vary in size
    hue = rng.uniform(0.02, 0.12) if kind == "cat" else rng.uniform(0.52, 0.66)
    back = tuple(int(c) for c in rng.integers(40, 200, 3))
    im = Image.new("RGB", (side, side), back)
    draw = ImageDraw.Draw(im)
    fur = Image.new("HSV", (1, 1), (int(hue * 255), 170, int(rng.uniform(150, 240))))
    fur = fur.convert("RGB").getpixel((0, 0))
    r = side * rng.uniform(0.2, 0.3)
    cx, cy = side * rng.uniform(0.35, 0.65, 2)
    if kind == "cat":
        for sx in (-1, 1):
            draw.polygon([(cx + sx * r * 0.9, cy - r * 0.2), (cx + sx * r * 0.2, cy - r * 0.8),
                          (cx + sx * r * 0.9, cy - r * 1.6)], fill=fur)
    else:
        for sx in (-1, 1):
            draw.ellipse([cx + sx * r * 1.1 - r * 0.35, cy - r * 0.6,
                          cx + sx * r * 1.1 + r * 0.35, cy + r * 0.9], fill=fur)
    draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fur)
    noise = rng.normal(0, 12, (side, side, 3))
    return Image.fromarray(np.clip(np.asarray(im) + noise, 0, 255).astype(np.uint8))


def _jpeg(im):
    """Bytes of an image saved as JPEG."""
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def make_standin(dest, n_train=400, n_test=100, size=64, seed=0):
    """Write a learnable dogs/cats stand-in as Kaggle ships it: train.zip, test.zip, CSV; lesson 1."""
    dest = Path(dest)
    if (dest / "train.zip").exists() and (dest / "test.zip").exists():
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    with zipfile.ZipFile(dest / "train.zip.tmp", "w") as z:
        for i in range(n_train):
            kind = ("cat", "dog")[i % 2]
            z.writestr(f"train/{kind}.{i // 2}.jpg", _jpeg(_standin_image(kind, rng, size)))
    with zipfile.ZipFile(dest / "test.zip.tmp", "w") as z:
        for i in range(1, n_test + 1):
            kind = ("cat", "dog")[int(rng.integers(2))]
            z.writestr(f"test/{i}.jpg", _jpeg(_standin_image(kind, rng, size)))
    pd.DataFrame({"id": range(1, n_test + 1), "label": 0.5}).to_csv(
        dest / "sample_submission.csv", index=False)
    mark(dest, f"Synthetic dogs vs cats, seed {seed}. " + HOW_TO_GET)
    for name in ("train.zip", "test.zip"):  # renamed last: a half-written stand-in is redone
        (dest / f"{name}.tmp").rename(dest / name)
    return dest


def get(data="auto", path=None, n_valid=2000, n_sample=(200, 50, 50), standin=(400, 100, 64),
        seed=0):
    """Dogs vs cats as a Data record: the real data (all of it or its sample), or the stand-in;
    lessons 1-3."""
    path = Path(path or data_dir() / COMPETITION)
    return real_or_standin(data, TITLE, lambda m: _get_real(path, m, n_valid, n_sample, seed),
                           lambda: _get_standin(standin, seed))


def _data(folder, mode, standin):
    """The Data record of a prepared folder (the whole set or its sample/)."""
    parts = {part: folder / part for part in ("train", "valid", "test")}
    return record(COMPETITION, folder, mode, standin, parts, folder / SAMPLE_SUBMISSION)


def _get_real(path, mode, n_valid, n_sample, seed):
    """The real competition data, fetched and prepared; its sample/ for mode 'sample'."""
    folder = prepare(fetch(COMPETITION, path), n_valid, n_sample, seed)
    return _data(folder / "sample" if mode == "sample" else folder, mode, False)


def _get_standin(standin, seed):
    """The stand-in, written once, then put through the same fetch and prepare as real data."""
    n_train, n_test, size = standin
    dest = make_standin(standin_dir() / COMPETITION, n_train, n_test, size, seed)
    # Never the Kaggle Notebooks mount: real files must not mix into the stand-in's folder.
    folder = prepare(fetch(COMPETITION, dest, use_mounted=False), n_valid=n_train // 4,
                     n_sample=(n_train // 10, n_train // 20, n_test // 4), seed=seed)
    banner(TITLE, HOW_TO_GET)
    return _data(folder, "standin", True)
