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
with `on_mismatch='skip'` (the default) they are left out of both sets, counted and said in a
note of the record; with `on_mismatch='error'` preparing stops and says what is wrong. Nothing is
dropped silently.

`prepare` links (or copies) the photos into `bydriver/{train,valid}/c0..c9/` and
`bydriver/test/unknown/`, leaving Kaggle's folders as they were, so a new split is cheap, and
makes `bydriver/sample/`, a small subset with the same parts (its own test images and a sample
submission for exactly those). `get` returns it as a `Data` record.
"""
import json
import shutil
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from utils.datasets.base import valid_count
from utils.datasets.competition import place, real_or_standin, record, sample_test
from utils.datasets.standin import jpeg_bytes, made, with_banner
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
    """The mismatches between the driver list and the folders: raised, or a note (none if none)."""
    found = {k: v for k, v in problems.items() if v}
    if not found:
        return []
    lines = [f"{len(v)} image(s) {k} (e.g. {', '.join(v[:3])})" for k, v in found.items()]
    if on_mismatch == "error":
        raise StateFarmError("driver_imgs_list.csv and the image folders disagree:\n  - "
                             + "\n  - ".join(lines) + "\nFetch the data again, or pass "
                             "on_mismatch='skip' to leave these images out of both sets.")
    return ["Left out of both training and validation, as they cannot be placed by driver:\n  - "
            + "\n  - ".join(lines)]


def split_by_driver(drivers, valid_size=3, seed=0, valid_drivers=None):
    """(train rows, valid rows, validation drivers): `valid_size` whole drivers (a count, or a
    share of them) go to validation; lesson 4."""
    subjects = sorted(drivers.subject.unique())
    if valid_drivers is None:
        try:
            n_valid = valid_count(valid_size, len(subjects))
        except ValueError:
            raise StateFarmError(f"valid_size={valid_size!r} does not split the {len(subjects)} drivers: "
                                 "both sets need at least one (give a count or a share).") from None
        valid_drivers = sorted(np.random.default_rng(seed).choice(subjects, n_valid,
                                                                  replace=False).tolist())
    unknown = sorted(set(valid_drivers) - set(subjects))
    if unknown:
        raise StateFarmError(f"validation drivers {unknown} are not in the driver list")
    is_valid = drivers.subject.isin(valid_drivers)
    train, valid = drivers[~is_valid], drivers[is_valid]
    assert not set(train.subject) & set(valid.subject)
    return train.reset_index(drop=True), valid.reset_index(drop=True), list(valid_drivers)


def prepare(path, valid_size=3, seed=0, valid_drivers=None, on_mismatch="skip",
            n_sample=(20, 10, 50)):
    """Split the training photos by driver into bydriver/train, valid, test and sample; lesson 4.

    `valid_size` counts the validation drivers (or is their share); `n_sample` counts the
    sample's training and validation photos per class, and its test photos. The returned info
    holds the split's drivers and counts, and `notes` on the photos left out.
    """
    if on_mismatch not in ("skip", "error"):
        raise ValueError(f"on_mismatch must be 'skip' or 'error', not {on_mismatch!r}")
    path = Path(path)
    out = path / OUT
    wanted = {"valid_size": valid_size, "seed": seed, "valid_drivers": valid_drivers,
              "n_sample": list(n_sample)}
    if (out / DONE).exists():
        done = json.loads((out / DONE).read_text())
        if done["settings"] == wanted:
            return {**done, "data": str(path)}  # the folder may have moved since
        shutil.rmtree(out)  # another split was asked for: only links are deleted
    root = images_root(path)
    good, problems = audit(root, read_driver_list(path / "driver_imgs_list.csv"))
    notes = _report(problems, on_mismatch)
    train, valid, chosen = split_by_driver(good, valid_size, seed, valid_drivers)
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
            "skipped": {k: len(v) for k, v in problems.items()}, "notes": notes}
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


@dataclass(frozen=True)
class Standin:
    """The State Farm stand-in's size: drivers, photos per class per driver, test photos, and the
    photos' (width, height) in pixels."""
    n_drivers: int = 16
    per_class: int = 3
    n_test: int = 200
    size: tuple = (64, 48)


def make_standin(dest, standin=Standin(), seed=0):
    """Write a learnable State Farm stand-in as Kaggle ships it: one zip with imgs/ and CSVs; lesson 4.

    The test photos show as many new drivers as training has, never seen in training, as on
    Kaggle. Their classes and drivers, which Kaggle keeps to itself, are written beside the zip
    (`test_truth.csv`), so the claims can measure accuracy on new drivers. A stand-in already
    there is kept if it was drawn by the same code and settings, and drawn again if not.
    """
    return made(dest, _draw, standin, drivers.driver_look, drivers.dashboard_photo,
                what=f"Synthetic State Farm photos, seed {seed}. " + HOW_TO_GET, seed=seed)


def _draw(dest, standin, seed):
    """Draw the drivers' photos into Kaggle's zip, and the test photos' truth beside it."""
    n_drivers, per_class, n_test, size = standin.n_drivers, standin.per_class, standin.n_test, tuple(standin.size)
    rng = np.random.default_rng(seed)
    looks = {f"p{100 + 2 * i:03d}": drivers.driver_look(rng) for i in range(2 * n_drivers)}
    train_drivers, test_drivers = list(looks)[:n_drivers], list(looks)[n_drivers:]
    rows, truth = [], []
    ids = iter(rng.permutation(10 * n_drivers * per_class + n_test) + 1)
    with zipfile.ZipFile(dest / f"{COMPETITION}.zip", "w") as z:
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


def get(data="auto", *, path=None, valid_size=3, n_sample=(20, 10, 50), standin=Standin(), seed=0,
        valid_drivers=None, on_mismatch="skip"):
    """State Farm split by driver as a Data record: the real data (all of it or its sample), or
    the stand-in; `valid_size` counts the validation drivers (or is their share), `valid_drivers`
    names them instead; the split's drivers and counts are in `info`; lesson 4."""
    path = Path(path or data_dir() / COMPETITION)
    split = {"valid_drivers": valid_drivers, "on_mismatch": on_mismatch}
    return real_or_standin(data, TITLE, lambda m: _get_real(path, m, valid_size, seed, n_sample, split),
                           lambda: _get_standin(standin, seed, split))


def _data(out, mode, standin, info):
    """The Data record of bydriver/ (or its sample/): train, valid and test/ (unknown/ inside),
    with the notes of the split (photos left out)."""
    parts = {part: out / part for part in ("train", "valid", "test")}
    data = record(COMPETITION, out, mode, standin, parts, out / SAMPLE_SUBMISSION
                  if mode == "sample" else Path(info["data"]) / SAMPLE_SUBMISSION, info)
    return replace(data, notes=(*data.notes, *info.get("notes", ())))


def _get_standin(standin, seed, split):
    """The stand-in, drawn once, then fetched and split by driver like the real data."""
    dest = make_standin(standin_dir() / COMPETITION, standin, seed)
    # Never the Kaggle Notebooks mount: real files must not mix into the stand-in's folder.
    info = prepare(fetch(COMPETITION, dest, use_mounted=False), valid_size=max(1, standin.n_drivers // 4),
                   seed=seed, n_sample=(2, 1, max(1, standin.n_test // 4)), **split)
    return with_banner(_data(dest / OUT, "standin", True, info), TITLE, HOW_TO_GET)


def _get_real(path, mode, valid_size, seed, n_sample, split):
    """The real competition data, fetched and split by driver; its sample/ for mode 'sample'."""
    folder = fetch(COMPETITION, path)
    info = prepare(folder, valid_size, seed, n_sample=n_sample, **split)
    out = folder / OUT
    return _data(out / "sample" if mode == "sample" else out, mode, False, info)
