"""The Nature Conservancy Fisheries Monitoring (lesson 7): Kaggle's layout, fish boxes, a stand-in.

Kaggle ships `train/{ALB,BET,DOL,LAG,NoF,OTHER,SHARK,YFT}/img_N.jpg` (3,777 photos from cameras on
fishing boats) and a test set in two stages: `test_stg1/img_N.jpg` (1,000 photos, scored while the
competition ran) and, released for its last week, `test_stg2.7z` holding `test_stg2/image_N.jpg`
(12,153 more). A late submission follows `sample_submission_stg2.csv` (image,ALB,...,YFT), whose
rows are both stages' photos: stage 1's by file name, stage 2's as `test_stg2/<file name>`
(`id_of`); `sample_submission_stg1.csv` lists stage 1 alone. `fetch` unpacks the zips and the 7z.
`prepare` moves a seeded share of each class into `valid/` (files `fetch` extracted, or its links
to a read-only mount), links both stages' photos into `test/test_stg1/` and `test/test_stg2/`
(one folder to predict, its names giving the ids), and makes `sample/`, a small subset with the same
parts (`train/`, `valid/`, `test/` and the stage-2 sample's rows for exactly its test photos).
`get` returns a `Data` record.

A competitor drew a box around the fish in every photo of the six fish classes and published them
as one JSON file per class (NoF, "no fish", and OTHER have none). `download_boxes` gets them with
Keras's hash-checked download; `match_boxes` lines them up with a list of image files, scales them
to the model's input size, and counts everything that does not fit (entries for photos that are
not there, photos without a box, boxes reaching outside the photo) instead of dropping it quietly.
"""
import hashlib
import json
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import py7zr
from PIL import Image

from utils.datasets.base import valid_count
from utils.datasets.competition import count_images, place, real_or_standin, record, sample_test
from utils.datasets.standin import jpeg_bytes, made, with_banner
from utils.download import download
from utils.kaggle.api import how_to_get
from utils.kaggle.fetching import MARKER, fetch
from utils.paths import data_dir, standin_dir
from utils.standins import boats

COMPETITION = "the-nature-conservancy-fisheries-monitoring"
TITLE = "Kaggle's Fisheries Monitoring"
CLASSES = ("ALB", "BET", "DOL", "LAG", "NoF", "OTHER", "SHARK", "YFT")
TEST = "test_stg1"
TEST2 = "test_stg2"  # stage 2's test photos, shipped as test_stg2.7z
TESTS = "test"       # both stages' photos, linked: test/test_stg1/, test/test_stg2/
STAGE1_SAMPLE = "sample_submission_stg1.csv"
SAMPLE_SUBMISSION = "sample_submission_stg2.csv"  # both stages: what a submission must match now
DONE = ".prepared"
BOX_URL = "https://storage.googleapis.com/kaggle-forum-message-attachments/147157"
# file name -> (attachment id, md5) of the published annotation files
BOX_FILES = {"bet_labels.json": ("5458", "bd20591439b650f44b36b72a98d3ce27"),
             "shark_labels.json": ("5459", "94b1b3110ca58ff4788fb659eda7da90"),
             "dol_labels.json": ("5460", "91a25d29a29b7e8b8d7a8770355993de"),
             "yft_labels.json": ("5461", "9ef63caad8f076457d48a21986d81ddc"),
             "alb_labels.json": ("5462", "731c74d347748b5272042f0661dad37c"),
             "lag_labels.json": ("5463", "92d75d9218c3333ac31d74125f2b380a")}
BOX_SUBDIR = "boxes"
HOW_TO_GET = how_to_get(COMPETITION)


# ---------------------------------------------------------------------------------------------
# Folders


def prepare(path, valid_size=0.15, n_sample=(12, 4, 40), seed=0):
    """Move a seeded share of each class into valid/, link both test stages into test/ and make
    a small sample/; lesson 7.

    `valid_size` is the share of each class to validate on (a count is taken as its share of all
    the photos); `n_sample` counts the sample's training and validation photos per class, and its
    test photos of each stage.
    """
    path = Path(path)
    # A folder prepared before the kit knew stage 2 has no test/: it is prepared again.
    if (path / DONE).exists() and (path / TESTS).is_dir():
        return path
    missing = [c for c in CLASSES if not (path / "train" / c).is_dir()]
    if missing:
        raise FileNotFoundError(f"{path}/train lacks the class folders {missing}: is this the "
                                f"Fisheries data? Expected train/{{{','.join(CLASSES)}}}/.")
    _check_stage2(path)
    # A re-run after an interruption plans the same split from the union of both folders.
    labelled = {c: sorted(p.name for split in ("train", "valid") for p in (path / split / c).glob("*.jpg"))
                for c in CLASSES}
    share = _valid_share(path, valid_size, sum(map(len, labelled.values())))
    rng = np.random.default_rng(seed)
    for c, files in labelled.items():
        # Every class with two photos or more gives at least one to valid/, and keeps one.
        n_valid = min(len(files) - 1, max(1, round(len(files) * share))) if len(files) > 1 else 0
        valid = set(rng.permutation(files)[:n_valid])
        for name in files:
            split = "valid" if name in valid else "train"
            for src in (path / "train" / c / name, path / "valid" / c / name):
                dst = path / split / c / name
                if src.exists() and src != dst:
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    shutil.move(src, dst)
    for split, n in zip(("train", "valid"), n_sample):
        _copy_sample(path, split, n, seed)
    for stage in (TEST, TEST2):
        for photo in sorted((path / stage).glob("*.jpg")):
            place(photo, path / TESTS / stage / photo.name)
    # The sample: a few photos of each stage, and the stage-2 sample's rows for exactly those.
    full, small = path / SAMPLE_SUBMISSION, path / "sample" / SAMPLE_SUBMISSION
    stage1 = sample_test((path / TEST).glob("*.jpg"), path / "sample" / TESTS / TEST, full, small,
                         id_of, n_sample[2], seed)
    sample_test((path / TEST2).glob("*.jpg"), path / "sample" / TESTS / TEST2, full, small,
                lambda name: id_of(f"{TEST2}/{name}"), n_sample[2], seed, also=stage1)
    counts = {split: sum(1 for _ in (path / split).glob("*/*.jpg")) for split in ("train", "valid")}
    counts["test"] = count_images(path / TESTS)
    (path / DONE).write_text(json.dumps(counts))
    return path


def _valid_share(path, valid_size, total):
    """The share of each class that `valid_size` (a share, or a count of all `total` photos)
    holds out, or a ValueError saying why it cannot, before anything moves."""
    try:
        n_valid = valid_count(valid_size, total)
    except ValueError as err:
        raise ValueError(f"{path} has {total} training photos: {err}.") from None
    return valid_size if isinstance(valid_size, float) else n_valid / total


def _check_stage2(path):
    """A FileNotFoundError saying how to get stage 2, for a folder without it (fetched before the
    kit unpacked test_stg2.7z, or extracted by hand without it)."""
    missing = [name for name in (TEST2, SAMPLE_SUBMISSION) if not (path / name).exists()]
    if missing:
        raise FileNotFoundError(
            f"{path} has no {' and no '.join(missing)}: the second stage of the competition's"
            " test set, which a submission must cover. Put test_stg2.7z and"
            f" sample_submission_stg2.csv.zip from https://www.kaggle.com/competitions/{COMPETITION}"
            f"/data in {path} (Kaggle Notebooks attach them), delete {path / MARKER} so that they"
            " are unpacked, and re-run.")


def _copy_sample(path, split, n_per_class, seed):
    """Link (or copy) a few seeded files of each class of a split into sample/."""
    rng = np.random.default_rng(seed + 1)
    for c in CLASSES:
        files = sorted((path / split / c).glob("*.jpg"))
        for i in rng.permutation(len(files))[:n_per_class]:
            place(files[i], path / "sample" / split / c / files[i].name)


def id_of(filename):
    """The sample submission's id of a test photo: its file name, behind `test_stg2/` for a
    stage-2 photo (a name or path in its stage's folder); lesson 7."""
    path = Path(filename)
    return f"{TEST2}/{path.name}" if path.parent.name == TEST2 else path.name


def image_sizes(folder, filenames):
    """(width, height) of each image, read from the file headers only; lesson 7."""
    sizes = np.zeros((len(filenames), 2), dtype="int32")
    for i, name in enumerate(filenames):
        with Image.open(Path(folder) / name) as im:
            sizes[i] = im.size
    return sizes


def size_onehot(sizes, known=None):
    """Each image's (width, height) as a one-hot row over the `known` sizes; lesson 7."""
    sizes = [tuple(int(v) for v in s) for s in np.asarray(sizes)]
    known = sorted(set(sizes)) if known is None else [tuple(k) for k in known]
    index = {s: i for i, s in enumerate(known)}
    out = np.zeros((len(sizes), len(known) + 1), dtype="float32")  # last column: a size not seen
    for row, s in enumerate(sizes):
        out[row, index.get(s, len(known))] = 1.0
    return out, known


# ---------------------------------------------------------------------------------------------
# Bounding boxes


def download_boxes(cache_dir=None, base_url=BOX_URL, files=None):
    """Download the per-class box files (hash-checked, cached); returns their folder; lesson 7."""
    files = BOX_FILES if files is None else files
    folder = Path(cache_dir or data_dir() / COMPETITION) / BOX_SUBDIR
    for name, (attachment, md5) in files.items():
        # A cut-off or wrong file raises DownloadError saying where to put a good copy.
        download(f"{base_url}/{attachment}/{name}", folder / name, file_hash=md5,
                 hash_algorithm="md5", quiet=True)  # quiet: no progress bars in the notes
    return folder


def read_box_files(folder):
    """The rectangles of every box file in a folder, keyed by (class, image name); lesson 7."""
    boxes, duplicates = {}, []
    for f in sorted(Path(folder).glob("*_labels.json")):
        cls = f.name.split("_")[0].upper()
        for entry in json.loads(f.read_text()):
            key = (cls, Path(str(entry["filename"]).replace("\\", "/")).name)
            rects = [a for a in entry.get("annotations", []) if a.get("class", "rect") == "rect"]
            if key in boxes:
                duplicates.append(key)
            boxes.setdefault(key, []).extend(rects)
    return boxes, duplicates


def largest_box(rects):
    """The biggest of an image's rectangles as (x, y, width, height); lesson 7."""
    best = max(rects, key=lambda a: float(a["width"]) * float(a["height"]))
    return tuple(float(best[k]) for k in ("x", "y", "width", "height"))


@dataclass
class BoxReport:
    """What did not line up between box files and images, counted with a few examples; lesson 7."""

    images: int = 0
    matched: int = 0
    no_box_expected: int = 0
    missing: list = field(default_factory=list)
    unmatched: list = field(default_factory=list)
    clipped: list = field(default_factory=list)
    outside: list = field(default_factory=list)
    duplicates: list = field(default_factory=list)

    def counts(self):
        """The report as plain numbers, for summaries and tests."""
        return {"images": self.images, "matched": self.matched,
                "no_box_expected": self.no_box_expected, "missing": len(self.missing),
                "unmatched": len(self.unmatched), "clipped": len(self.clipped),
                "outside": len(self.outside), "duplicates": len(self.duplicates)}

    def __str__(self):
        lines = [f"{self.images} images: {self.matched} with a box, {self.no_box_expected} of "
                 "classes that have no boxes (NoF, OTHER)"]
        for what, items in (("fish photos without a box (trained as 'no box')", self.missing),
                            ("box entries for photos not in this set", self.unmatched),
                            ("boxes reaching outside the photo (cut to its edges)", self.clipped),
                            ("boxes entirely outside the photo (dropped)", self.outside),
                            ("photos listed twice in the box files (largest box kept)",
                             self.duplicates)):
            if items:
                shown = ", ".join("/".join(map(str, k)) for k in items[:3])
                lines.append(f"{len(items)} {what}, e.g. {shown}")
        return "\n".join(lines)


def match_boxes(filenames, sizes, boxes, target_size):
    """One box per image in `filenames` order, scaled to `target_size` (h, w); lesson 7."""
    th, tw = target_size
    out = np.zeros((len(filenames), 4), dtype="float32")
    has_box = np.zeros(len(filenames), dtype=bool)
    report = BoxReport(images=len(filenames))
    seen = set()
    for i, (name, (w, h)) in enumerate(zip(filenames, np.asarray(sizes))):
        parts = Path(name).parts
        key = (parts[-2] if len(parts) > 1 else "", parts[-1])
        seen.add(key)
        rects = boxes.get(key)
        if not rects:
            if key[0] in ("NoF", "OTHER"):
                report.no_box_expected += 1
            else:
                report.missing.append(key)
            continue
        x, y, bw, bh = largest_box(rects)
        x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + bw, w), min(y + bh, h)
        if x1 <= x0 or y1 <= y0:
            report.outside.append(key)
            continue
        if (x0, y0, x1, y1) != (x, y, x + bw, y + bh):
            report.clipped.append(key)
        # The model sees the photo stretched to target_size, so each axis scales on its own.
        sx, sy = tw / w, th / h
        out[i] = (x0 * sx, y0 * sy, (x1 - x0) * sx, (y1 - y0) * sy)
        has_box[i] = True
        report.matched += 1
    report.unmatched = sorted(k for k in boxes if k not in seen)
    return out, has_box, report


def load_boxes(folder, sets, target_size):
    """Read the box files and match them to several image sets at once; lesson 7.

    `sets` maps a name to (image folder, file names relative to it, as batches list them).
    Returns {name: (boxes, has_box)} and one BoxReport over all sets.
    """
    boxes, duplicates = read_box_files(folder)
    results, total = {}, BoxReport(duplicates=list(duplicates))
    for split, (image_folder, names) in sets.items():
        out, has_box, report = match_boxes(names, image_sizes(image_folder, names), boxes,
                                           target_size)
        results[split] = (out, has_box)
        total.images += report.images
        total.matched += report.matched
        total.no_box_expected += report.no_box_expected
        for what in ("missing", "clipped", "outside"):
            getattr(total, what).extend(getattr(report, what))
    # An entry is unmatched only when no set holds its photo (train and valid split one class).
    held = {(Path(n).parts[-2] if len(Path(n).parts) > 1 else "", Path(n).name)
            for _, names in sets.values() for n in names}
    total.unmatched = sorted(k for k in boxes if k not in held)
    return results, total


# ---------------------------------------------------------------------------------------------
# Stand-in


def _box_entry(name, box):
    x, y, w, h = (round(float(v), 1) for v in box)
    return {"annotations": [{"class": "rect", "x": x, "y": y, "width": w, "height": h}],
            "class": "image", "filename": name}


@dataclass(frozen=True)
class Standin:
    """The Fisheries stand-in's size: training photos, test photos of stage 1 and of stage 2, and
    how many times smaller than the real cameras' its photos are."""
    n_train: int = 320
    n_test: int = 80
    n_test2: int = 40
    scale: int = 8


# The code that draws the stand-in: an edit to any of it draws the stand-in anew.
DRAWING = (boats.rgb, boats.boat_view, boats.deck_photo, boats.boat_weights, _box_entry)


def make_standin(dest, standin=Standin(), seed=0):
    """Write a learnable Fisheries stand-in as Kaggle ships it, both test stages and box files
    included, unless the one in `dest` was drawn by the same code and settings; lesson 7."""
    return made(dest, _draw, standin, *DRAWING, seed=seed,
                what=f"Synthetic fishing-boat photos, seed {seed}. " + HOW_TO_GET)


def _draw(dest, standin, seed):
    """Draw the stand-in's photos into Kaggle's zips and 7z, its sample submissions and box files."""
    rng = np.random.default_rng(seed)
    weights = boats.boat_weights(len(CLASSES))
    entries = {c: [] for c in CLASSES}
    with zipfile.ZipFile(dest / "train.zip", "w") as z:
        for i in range(standin.n_train):
            boat = int(rng.integers(len(boats.BOAT_SIZES)))
            # every class appears at least a few times, the rest follows the boat's habits
            cls = CLASSES[i % len(CLASSES)] if i < 4 * len(CLASSES) else str(
                rng.choice(CLASSES, p=weights[boat]))
            im, box = boats.deck_photo(cls, boat, rng, standin.scale)
            name = f"img_{i:05d}.jpg"
            z.writestr(f"train/{cls}/{name}", jpeg_bytes(im))
            if box is not None and cls != "OTHER":
                # the published files name some photos with a folder in front: keep that quirk
                shown = f"../data/fish/train/{cls}/{name}" if i % 5 == 0 else name
                entries[cls].append(_box_entry(shown, box))
    test_names = []
    with zipfile.ZipFile(dest / f"{TEST}.zip", "w") as z:
        for i in range(standin.n_test):
            boat = int(rng.integers(len(boats.BOAT_SIZES)))
            cls = str(rng.choice(CLASSES, p=weights[boat]))
            name = f"img_{standin.n_train + 1000 + i:05d}.jpg"
            z.writestr(f"{TEST}/{name}", jpeg_bytes(boats.deck_photo(cls, boat, rng, standin.scale)[0]))
            test_names.append(name)
    stage2 = []
    # Kaggle's file is 7z; LZMA, as it is said to be compressed (unconfirmed: see lesson 7's notes).
    lzma_only = [{"id": py7zr.FILTER_LZMA}]
    with py7zr.SevenZipFile(dest / f"{TEST2}.7z", "w", filters=lzma_only) as z:
        for i in range(standin.n_test2):
            boat = int(rng.integers(len(boats.BOAT_SIZES)))
            cls = str(rng.choice(CLASSES, p=weights[boat]))
            name = f"{TEST2}/image_{i + 1:05d}.jpg"
            z.writestr(jpeg_bytes(boats.deck_photo(cls, boat, rng, standin.scale)[0]), name)
            stage2.append(name)
    uniform = {c: 1 / len(CLASSES) for c in CLASSES}
    pd.DataFrame({"image": test_names, **uniform}).to_csv(dest / STAGE1_SAMPLE, index=False)
    pd.DataFrame({"image": test_names + stage2, **uniform}).to_csv(dest / SAMPLE_SUBMISSION,
                                                                   index=False)
    for name, (attachment, _) in BOX_FILES.items():
        folder = dest / BOX_SUBDIR / attachment
        folder.mkdir(parents=True, exist_ok=True)
        cls = name.split("_")[0].upper()
        (folder / name).write_text(json.dumps(entries[cls], indent=1))


def standin_box_files(dest):
    """The stand-in's box files as a BOX_FILES-like table with their own md5s; lesson 7."""
    files = {}
    for name, (attachment, _) in BOX_FILES.items():
        data = (Path(dest) / BOX_SUBDIR / attachment / name).read_bytes()
        files[name] = (attachment, hashlib.md5(data).hexdigest())
    return files


# ---------------------------------------------------------------------------------------------
# Entry points


def get(data="auto", *, path=None, valid_size=0.15, n_sample=(12, 4, 40), standin=Standin(), seed=0):
    """Fisheries as a Data record: the real data (all of it or its sample), or the stand-in;
    lesson 7. `data['test']` holds both stages' test photos (test/test_stg1/, test/test_stg2/)
    and `sample_submission` is the stage-2 one."""
    path = Path(path or data_dir() / COMPETITION)
    return real_or_standin(data, TITLE, lambda m: _get_real(path, m, valid_size, n_sample, seed),
                           lambda: _get_standin(standin, valid_size, seed))


def _data(folder, mode, standin):
    """The Data record of a prepared folder (the whole set or its sample/)."""
    parts = {"train": folder / "train", "valid": folder / "valid", "test": folder / TESTS}
    return record(COMPETITION, folder, mode, standin, parts, folder / SAMPLE_SUBMISSION)


def _get_real(path, mode, valid_size, n_sample, seed):
    """The real competition data, fetched and prepared; its sample/ for mode 'sample'."""
    folder = prepare(fetch(COMPETITION, path), valid_size, n_sample, seed)
    return _data(folder / "sample" if mode == "sample" else folder, mode, False)


def _get_standin(standin, valid_size, seed):
    """The stand-in, drawn once, then put through the same fetch and prepare as real data."""
    folder = prepared_standin(standin_dir() / COMPETITION, standin, valid_size, seed)
    return with_banner(_data(folder, "standin", True), TITLE, HOW_TO_GET)


def prepared_standin(dest, standin=Standin(), valid_size=0.15, seed=0):
    """A stand-in drawn in `dest` (once) and fetched and prepared as real data is; lesson 7."""
    make_standin(dest, standin, seed)
    # Never the Kaggle Notebooks mount: real files must not mix into the stand-in's folder.
    return prepare(fetch(COMPETITION, dest, use_mounted=False), valid_size,
                   n_sample=(2, 1, max(1, standin.n_test // 4)), seed=seed)


def get_boxes(folder, standin):
    """The box files' folder: downloaded for real data, the stand-in's own otherwise; lesson 7."""
    folder = Path(folder)
    if not standin:
        return download_boxes(data_dir() / COMPETITION)
    # The stand-in's files go through the same hash-checked download, from a file:// address.
    root = next(p for p in (folder, *folder.parents) if (p / BOX_SUBDIR).is_dir())
    return download_boxes(root / ".downloaded", base_url=(root / BOX_SUBDIR).as_uri(),
                          files=standin_box_files(root))
