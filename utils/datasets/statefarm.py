"""State Farm Distracted Driver Detection (lesson 4): Kaggle's layout, a split by driver, a stand-in.

Kaggle ships `imgs/train/c0..c9/img_N.jpg` (22,424 dashboard-camera photos, ten classes of
behaviour), `imgs/test/img_N.jpg` (79,726 unlabelled), `driver_imgs_list.csv` (subject, classname,
img: which driver is in each training photo) and `sample_submission.csv` (img, c0..c9).

The training photos come from 26 drivers, many photos each, taken seconds apart. Split them at
random and nearly every validation photo has a near twin in training: validation accuracy then
measures how well the model remembers a driver, not how it does on new drivers, which is what
the test set holds. So `prepare` splits BY DRIVER: every photo of a validation driver goes to
`valid/`, every other to `train/`, and it checks that no driver lands in both.

The driver list and the image folders must agree. A photo listed but missing, one on disk but
listed for no driver, or one listed under another class than its folder cannot be placed safely:
with `on_mismatch='skip'` (the default) they are left out of both sets, counted and reported;
with `on_mismatch='error'` preparing stops and says what is wrong. Nothing is dropped silently.

`prepare` links (or copies) the photos into `bydriver/{train,valid}/c0..c9/` and
`bydriver/test/unknown/`, leaving Kaggle's folders as they were, so a new split is cheap, and
makes `bydriver/sample/`, a small subset with the same parts (its own test images and a sample
submission for exactly those). `get` returns it as a `Data` record.
"""
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from utils.datasets.competition import place, real_or_standin, record, sample_test
from utils.datasets.standin import banner, is_standin, jpeg_bytes, mark
from utils.kaggle.api import how_to_get
from utils.kaggle.fetching import fetch
from utils.paths import data_dir, standin_dir
from utils.standins import drivers

COMPETITION = "state-farm-distracted-driver-detection"
TITLE = "Kaggle's State Farm Distracted Driver Detection"
CLASSES = [f"c{i}" for i in range(10)]
DESCRIPTIONS = ("safe driving", "texting, right hand", "phone call, right hand",
                "texting, left hand", "phone call, left hand", "operating the radio", "drinking",
                "reaching behind", "hair and makeup", "talking to a passenger")
LIST_COLUMNS = ("subject", "classname", "img")
OUT = "bydriver"
DONE = ".prepared"
SAMPLE_SUBMISSION = "sample_submission.csv"
HOW_TO_GET = how_to_get(COMPETITION, " (about 4 GB)")


class StateFarmError(ValueError):
    """The State Farm files disagree or are incomplete; the message says what and how to fix."""


def images_root(path):
    """The folder holding train/ and test/: `imgs/` as Kaggle ships it, or the top; lesson 4."""
    path = Path(path)
    for root in (path / "imgs", path):
        if (root / "train").is_dir():
            return root
    raise StateFarmError(f"No train/ folder under {path} or {path / 'imgs'}: the State Farm data"
                         " is not extracted there. Run utils.kaggle.fetch or unzip imgs.zip.")


def read_driver_list(csv):
    """driver_imgs_list.csv, checked: its columns, no image listed twice; lesson 4."""
    csv = Path(csv)
    again = "It comes with the competition's data; fetch it again."
    if not csv.is_file():
        raise StateFarmError(f"{csv} is missing: the split by driver needs it. {again}")
    try:
        drivers = pd.read_csv(csv, dtype=str)
    except pd.errors.EmptyDataError:
        raise StateFarmError(f"{csv} is empty: the copy is damaged. {again}") from None
    if drivers.empty:
        raise StateFarmError(f"{csv} has no rows, only its header: the copy is damaged. {again}")
    missing = [c for c in LIST_COLUMNS if c not in drivers.columns]
    if missing:
        raise StateFarmError(f"{csv} lacks the columns {missing} (has {list(drivers.columns)})")
    doubled = drivers[drivers.duplicated("img", keep=False)]
    if len(doubled):
        raise StateFarmError(f"{csv} lists {doubled.img.nunique()} image(s) more than once "
                             f"(e.g. {doubled.img.iloc[0]}); one driver per image is needed.")
    return drivers[list(LIST_COLUMNS)]


def audit(root, drivers):
    """Rows of the driver list that match the image folders, and what does not; lesson 4."""
    on_disk = {p.name: p.parent.name for c in CLASSES for p in (Path(root) / "train" / c).glob("*")
               if p.is_file()}
    folder = drivers.img.map(on_disk)
    problems = {
        "listed but missing": drivers.img[folder.isna()].tolist(),
        "in another class folder than listed": drivers.img[folder.notna()
                                                           & (folder != drivers.classname)].tolist(),
        "on disk but listed for no driver": sorted(set(on_disk) - set(drivers.img)),
    }
    good = drivers[folder.notna() & (folder == drivers.classname)]
    return good.reset_index(drop=True), problems


def _report(problems, on_mismatch):
    """Raise or print the mismatches between the driver list and the folders."""
    found = {k: v for k, v in problems.items() if v}
    if not found:
        return
    lines = [f"{len(v)} image(s) {k} (e.g. {', '.join(v[:3])})" for k, v in found.items()]
    if on_mismatch == "error":
        raise StateFarmError("driver_imgs_list.csv and the image folders disagree:\n  - "
                             + "\n  - ".join(lines) + "\nFetch the data again, or pass "
                             "on_mismatch='skip' to leave these images out of both sets.")
    print("Left out of both training and validation, as they cannot be placed by driver:\n  - "
          + "\n  - ".join(lines))


def split_by_driver(drivers, n_valid=3, seed=0, valid_drivers=None):
    """(train rows, valid rows, validation drivers): whole drivers go to validation; lesson 4."""
    subjects = sorted(drivers.subject.unique())
    if valid_drivers is None:
        if not 0 < n_valid < len(subjects):
            raise StateFarmError(f"n_valid={n_valid} drivers, but there are {len(subjects)}: "
                                 "both sets need at least one.")
        valid_drivers = sorted(np.random.default_rng(seed).choice(subjects, n_valid,
                                                                  replace=False).tolist())
    unknown = sorted(set(valid_drivers) - set(subjects))
    if unknown:
        raise StateFarmError(f"validation drivers {unknown} are not in the driver list")
    is_valid = drivers.subject.isin(valid_drivers)
    train, valid = drivers[~is_valid], drivers[is_valid]
    assert not set(train.subject) & set(valid.subject)
    return train.reset_index(drop=True), valid.reset_index(drop=True), list(valid_drivers)


def prepare(path, n_valid=3, seed=0, valid_drivers=None, on_mismatch="skip",
            n_sample=(20, 10, 50)):
    """Split the training photos by driver into bydriver/train, valid, test and sample; lesson 4.

    `n_sample` counts the sample's training and validation photos per class, and its test photos.
    """
    if on_mismatch not in ("skip", "error"):
        raise ValueError(f"on_mismatch must be 'skip' or 'error', not {on_mismatch!r}")
    path = Path(path)
    out = path / OUT
    wanted = {"n_valid": n_valid, "seed": seed, "valid_drivers": valid_drivers,
              "n_sample": list(n_sample)}
    if (out / DONE).exists():
        done = json.loads((out / DONE).read_text())
        if done["settings"] == wanted:
            return {**done, "data": str(path)}  # the folder may have moved since
        shutil.rmtree(out)  # another split was asked for: only links are deleted
    root = images_root(path)
    good, problems = audit(root, read_driver_list(path / "driver_imgs_list.csv"))
    _report(problems, on_mismatch)
    train, valid, chosen = split_by_driver(good, n_valid, seed, valid_drivers)
    for split, rows in (("train", train), ("valid", valid)):
        for r in rows.itertuples():
            place(root / "train" / r.classname / r.img, out / split / r.classname / r.img)
    for p in sorted((root / "test").glob("*")):
        if p.is_file():
            place(p, out / "test" / "unknown" / p.name)
    for split, rows, n in (("train", train, n_sample[0]), ("valid", valid, n_sample[1])):
        for r in rows.groupby("classname").head(n).itertuples():
            place(out / split / r.classname / r.img, out / "sample" / split / r.classname / r.img)
    sample_test((out / "test" / "unknown").glob("*"), out / "sample" / "test" / "unknown",
                path / SAMPLE_SUBMISSION, out / "sample" / SAMPLE_SUBMISSION, id_of, n_sample[2],
                seed)
    info = {"settings": wanted, "data": str(path), "valid_drivers": chosen,
            "train_drivers": sorted(train.subject.unique().tolist()),
            "counts": {"train": len(train), "valid": len(valid),
                       "test": len(list((out / "test" / "unknown").glob("*")))},
            "skipped": {k: len(v) for k, v in problems.items()}}
    check_split(out, path / "driver_imgs_list.csv")
    (out / DONE).write_text(json.dumps(info, indent=1))
    return info


def id_of(filename):
    """The sample submission's id of a test photo: its file name; lesson 4."""
    return Path(filename).name


def check_split(out, driver_list):
    """Raise unless no driver has photos in both bydriver/train and bydriver/valid; lesson 4."""
    owner = read_driver_list(driver_list).set_index("img").subject
    drivers = {s: set(owner.reindex([p.name for p in (Path(out) / s).glob("*/*")]).dropna())
               for s in ("train", "valid")}
    both = drivers["train"] & drivers["valid"]
    if both:
        raise StateFarmError(f"drivers {sorted(both)} have photos in both train and valid")
    return drivers


# ---------------------------------------------------------------------------------------------
# Stand-in


TRUTH = "test_truth.csv"  # beside the stand-in's zip: its test photos' classes and drivers
STANDIN_SETTINGS = "standin.json"  # what a stand-in was made with; other settings remake it
STANDIN_VERSION = 2  # bump when the drawing changes, so stand-ins made before are remade


def make_standin(dest, n_drivers=16, per_class=3, n_test=200, size=(64, 48), seed=0):
    """Write a learnable State Farm stand-in as Kaggle ships it: one zip with imgs/ and CSVs; lesson 4.

    The test photos show as many new drivers as training has, never seen in training, as on
    Kaggle. Their classes and drivers, which Kaggle keeps to itself, are written beside the zip
    (`test_truth.csv`), so the claims can measure accuracy on new drivers. A stand-in already
    there is kept if it was made with the same settings and drawing, and made again if not.
    """
    dest = Path(dest)
    zpath = dest / f"{COMPETITION}.zip"
    settings = {"version": STANDIN_VERSION, "n_drivers": n_drivers, "per_class": per_class,
                "n_test": n_test, "size": list(size), "seed": seed}
    if zpath.exists():
        made = dest / STANDIN_SETTINGS
        if not is_standin(dest) or (made.exists() and json.loads(made.read_text()) == settings):
            return dest
        shutil.rmtree(dest)  # a stand-in made by other settings or older drawing code: redone
    dest.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    looks = {f"p{100 + 2 * i:03d}": drivers.driver_look(rng) for i in range(2 * n_drivers)}
    train_drivers, test_drivers = list(looks)[:n_drivers], list(looks)[n_drivers:]
    rows, truth = [], []
    ids = iter(rng.permutation(10 * n_drivers * per_class + n_test) + 1)
    with zipfile.ZipFile(dest / f"{zpath.name}.tmp", "w") as z:
        for subject in train_drivers:
            for cls in range(10):
                for _ in range(per_class):
                    name = f"img_{next(ids)}.jpg"
                    z.writestr(f"imgs/train/c{cls}/{name}",
                               jpeg_bytes(drivers.dashboard_photo(looks[subject], cls, rng, size)))
                    rows.append((subject, f"c{cls}", name))
        for _ in range(n_test):
            name, cls = f"img_{next(ids)}.jpg", int(rng.integers(10))
            subject = test_drivers[int(rng.integers(len(test_drivers)))]
            z.writestr(f"imgs/test/{name}", jpeg_bytes(drivers.dashboard_photo(looks[subject], cls, rng, size)))
            truth.append((subject, f"c{cls}", name))
        z.writestr("driver_imgs_list.csv",
                   pd.DataFrame(rows, columns=LIST_COLUMNS).to_csv(index=False))
        sample = pd.DataFrame({"img": [t[2] for t in truth], **{c: 0.1 for c in CLASSES}})
        z.writestr("sample_submission.csv", sample.to_csv(index=False))
    pd.DataFrame(truth, columns=LIST_COLUMNS).to_csv(dest / TRUTH, index=False)
    (dest / STANDIN_SETTINGS).write_text(json.dumps(settings))
    mark(dest, f"Synthetic State Farm photos, seed {seed}. " + HOW_TO_GET)
    (dest / f"{zpath.name}.tmp").rename(zpath)  # last: a half-written stand-in is redone
    return dest


def read_standin(dest):
    """A stand-in's photos as arrays, read from its zip: {'train', 'test'} -> (photos uint8,
    classes 0-9, drivers); the test set's classes from `test_truth.csv`; the claims; lesson 4."""
    dest = Path(dest)
    out = {}
    with zipfile.ZipFile(dest / f"{COMPETITION}.zip") as z:
        for part, rows, folder in (
                ("train", pd.read_csv(z.open("driver_imgs_list.csv")), "imgs/train/{}/"),
                ("test", pd.read_csv(dest / TRUTH), "imgs/test/")):
            photos = [np.asarray(Image.open(z.open(folder.format(r.classname) + r.img)))
                      for r in rows.itertuples()]
            out[part] = (np.stack(photos), rows.classname.str[1:].astype(int).to_numpy(),
                         rows.subject.to_numpy())
    return out


def get(data="auto", path=None, n_valid=3, seed=0, n_sample=(20, 10, 50),
        standin=(16, 3, 200, (64, 48)), **kwargs):
    """State Farm split by driver as a Data record: the real data (all of it or its sample), or
    the stand-in; the split's drivers and counts are in `info`; lesson 4."""
    path = Path(path or data_dir() / COMPETITION)
    return real_or_standin(
        data, TITLE, lambda m: _get_real(path, m, n_valid, seed, n_sample=n_sample, **kwargs),
        lambda: _get_standin(standin, seed, **kwargs))


def _data(out, mode, standin, info):
    """The Data record of bydriver/ (or its sample/): train, valid and test/ (unknown/ inside)."""
    parts = {part: out / part for part in ("train", "valid", "test")}
    return record(COMPETITION, out, mode, standin, parts, out / SAMPLE_SUBMISSION
                  if mode == "sample" else Path(info["data"]) / SAMPLE_SUBMISSION, info)


def _get_standin(standin, seed, **kwargs):
    """The stand-in, written once, then fetched and split by driver like the real data."""
    n_drivers, per_class, n_test, size = standin
    dest = make_standin(standin_dir() / COMPETITION, n_drivers, per_class, n_test, size, seed)
    # Never the Kaggle Notebooks mount: real files must not mix into the stand-in's folder.
    info = prepare(fetch(COMPETITION, dest, use_mounted=False), n_valid=max(1, n_drivers // 4),
                   seed=seed, n_sample=(2, 1, max(1, n_test // 4)), **kwargs)
    banner(TITLE, HOW_TO_GET)
    return _data(dest / OUT, "standin", True, info)


def _get_real(path, mode, n_valid, seed, **kwargs):
    """The real competition data, fetched and split by driver; its sample/ for mode 'sample'."""
    folder = fetch(COMPETITION, path)
    info = prepare(folder, n_valid, seed, **kwargs)
    out = folder / OUT
    return _data(out / "sample" if mode == "sample" else out, mode, False, info)
