"""utils/datasets/fisheries.py: Kaggle's layout, the seeded split, fish boxes and the stand-in.

Everything lives in tmp_path; no Kaggle credentials or API. Box files are downloaded with
Keras's real, hash-checked `get_file` from file:// addresses.
"""
import hashlib
import json
import re
import shutil
import zipfile

import numpy as np
import pandas as pd
import py7zr
import pytest
from PIL import Image

import utils.datasets.fisheries as fi
from utils.datasets import is_standin
from utils.datasets.standin import StandinError
from utils.kaggle import fetch
from utils.paths import data_dir, standin_dir
from utils.standins import boats

N_TRAIN, N_TEST, N_TEST2 = 64, 8, 6
STANDIN = fi.Standin(N_TRAIN, N_TEST, N_TEST2)


# Scratch data, home and Kaggle-input folders; no credentials; no Kaggle API (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("no_kaggle_api")


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    """A small stand-in as Kaggle ships it, fetched and prepared."""
    dest = tmp_path_factory.mktemp("fish") / fi.COMPETITION
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DL1_KAGGLE_INPUT", str(dest.parent / "none"))
        fi.make_standin(dest, STANDIN, seed=0)
        fi.prepare(fetch(fi.COMPETITION, dest), n_sample=(1, 1, 2))
    return dest


def write_image(path, size=(200, 100), colour=(90, 90, 90)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)


def rect(x, y, w, h):
    return {"class": "rect", "x": x, "y": y, "width": w, "height": h}


# --------------------------------------------------------------------------------------------
# Layout and split


def test_standin_has_kaggles_layout(standin):
    assert (standin / "train.zip").is_file() and (standin / "test_stg1.zip").is_file()
    with zipfile.ZipFile(standin / "train.zip") as z:
        names = z.namelist()
    assert {n.split("/")[1] for n in names} == set(fi.CLASSES)
    assert all(n.startswith("train/") and n.endswith(".jpg") for n in names)
    sample = pd.read_csv(standin / fi.STAGE1_SAMPLE)
    assert list(sample.columns) == ["image", *fi.CLASSES] and len(sample) == N_TEST
    assert sorted(sample["image"]) == sorted(p.name for p in (standin / "test_stg1").glob("*.jpg"))
    assert is_standin(standin)
    # one box file per fish class, in the published format; none for NoF and OTHER
    for name, (attachment, _) in fi.BOX_FILES.items():
        entries = json.loads((standin / "boxes" / attachment / name).read_text())
        assert entries and all(e["annotations"][0]["class"] == "rect" for e in entries)
        assert {"x", "y", "width", "height"} <= set(entries[0]["annotations"][0])


def test_standin_ships_stage_2_as_kaggle_does(standin):
    """test_stg2.7z (7z, LZMA) holding test_stg2/image_NNNNN.jpg, and a stage-2 sample submission
    listing stage 1's photos by name and stage 2's behind their folder, as late submissions must."""
    with py7zr.SevenZipFile(standin / "test_stg2.7z") as z:
        assert z.archiveinfo().method_names == ["LZMA"]
        packed = sorted(z.getnames())
    assert len(packed) == N_TEST2
    assert all(re.fullmatch(r"test_stg2/image_\d{5}\.jpg", name) for name in packed)
    unpacked = sorted(p.relative_to(standin).as_posix() for p in (standin / "test_stg2").glob("*"))
    assert unpacked == packed
    stage1 = pd.read_csv(standin / fi.STAGE1_SAMPLE)
    stage2 = pd.read_csv(standin / "sample_submission_stg2.csv")
    assert list(stage2.columns) == ["image", *fi.CLASSES]
    assert list(stage2["image"]) == list(stage1["image"]) + packed
    np.testing.assert_allclose(stage2[list(fi.CLASSES)].sum(axis=1), 1)


def test_prepare_splits_every_class_and_is_seeded(standin, tmp_path):
    counts = json.loads((standin / fi.DONE).read_text())
    assert counts["train"] + counts["valid"] == N_TRAIN and counts["test"] == N_TEST + N_TEST2
    for c in fi.CLASSES:
        assert list((standin / "valid" / c).glob("*.jpg")), c
        train = {p.name for p in (standin / "train" / c).glob("*.jpg")}
        valid = {p.name for p in (standin / "valid" / c).glob("*.jpg")}
        assert not train & valid
    # The same seed on a fresh copy gives the same split.
    again = tmp_path / "again"
    fi.make_standin(again, STANDIN, seed=0)
    fi.prepare(fetch(fi.COMPETITION, again), n_sample=(1, 1, 2))
    for c in fi.CLASSES:
        assert ({p.name for p in (again / "valid" / c).glob("*.jpg")}
                == {p.name for p in (standin / "valid" / c).glob("*.jpg")})


def test_prepare_refuses_a_folder_without_the_classes(tmp_path):
    write_image(tmp_path / "train" / "ALB" / "img_1.jpg")
    with pytest.raises(FileNotFoundError, match="class folders"):
        fi.prepare(tmp_path)


def test_get_standin_goes_through_fetch_and_prepare(tmp_path, capsys):
    data = fi.get("standin", standin=STANDIN)
    assert data.standin and is_standin(data.path) and (data.path / fi.DONE).exists()
    # Both stages' test photos, each in the folder its id names, and the stage-2 sample for them
    assert data.sample_submission == data.path / "sample_submission_stg2.csv"
    stage1 = sorted(p.name for p in (data["test"] / "test_stg1").iterdir())
    stage2 = sorted(p.name for p in (data["test"] / "test_stg2").iterdir())
    assert len(stage1) == N_TEST and len(stage2) == N_TEST2
    assert data.test_ids == stage1 + [f"test_stg2/{name}" for name in stage2]
    assert sorted(fi.id_of(p.relative_to(data["test"])) for p in data["test"].rglob("*.jpg")) == \
        sorted(data.test_ids)
    assert data.info["counts"]["test"] == N_TEST + N_TEST2
    assert capsys.readouterr().out == ""  # get prints nothing: the record says it
    assert "STAND-IN DATA" in str(data) and "kaggle.com/competitions/" + fi.COMPETITION in str(data)
    assert not (tmp_path / "data" / fi.COMPETITION).exists()  # never where real data belongs
    with pytest.raises(ValueError, match="DATA must be one of"):
        fi.get("everything")


def test_get_auto_without_credentials_or_data_says_why_and_prints_nothing(tmp_path, capsys):
    data = fi.get("auto", standin=STANDIN)
    assert data.standin and data.mode == "standin" and data.path == standin_dir() / fi.COMPETITION
    assert capsys.readouterr().out == ""
    said = str(data)
    assert said.index("No Kaggle API credentials") < said.index("STAND-IN DATA") < said.index(data.summary)
    assert not (tmp_path / "data" / fi.COMPETITION).exists()


def test_a_valid_size_is_a_share_of_each_class_or_a_count_of_all(standin, tmp_path):
    def valid(valid_size):
        path = tmp_path / str(valid_size) / fi.COMPETITION
        for part in ("train", "valid", "test_stg1", "test_stg2"):  # prepare splits them anew
            shutil.copytree(standin / part, path / part)
        for name in (fi.STAGE1_SAMPLE, fi.SAMPLE_SUBMISSION):
            shutil.copy(standin / name, path)
        fi.prepare(path, valid_size=valid_size, n_sample=(1, 1, 2))
        return {c: len(list((path / "valid" / c).glob("*.jpg"))) for c in fi.CLASSES}
    photos = {c: len(list(standin.glob(f"*/{c}/*.jpg"))) for c in fi.CLASSES}  # train and valid
    by_share = valid(0.25)
    assert by_share == {c: max(1, round(n * 0.25)) for c, n in photos.items()}
    assert valid(16) == by_share  # 16 of the 64 photos: the same share of each class
    for wrong in (N_TRAIN, 0, 1.0):
        with pytest.raises(ValueError, match="64 training photos.*valid_size"):
            valid(wrong)


def test_prepare_says_what_to_do_when_stage_2_is_missing(standin, tmp_path):
    """A folder fetched before the kit unpacked test_stg2.7z has no stage-2 photos: say so."""
    old = tmp_path / fi.COMPETITION
    for part in ("train", "test_stg1"):
        shutil.copytree(standin / part, old / part)
    shutil.copy(standin / fi.STAGE1_SAMPLE, old)
    with pytest.raises(FileNotFoundError) as caught:
        fi.prepare(old)
    message = str(caught.value)
    assert str(old) in message and "test_stg2" in message
    assert "sample_submission_stg2.csv" in message
    assert f"{old / '.fetched'}" in message and "test_stg2.7z" in message
    assert not any((old / name).exists() for name in (fi.DONE, "valid", "sample", "test"))


def test_size_onehot_keeps_unknown_sizes_apart():
    onehot, known = fi.size_onehot([(160, 90), (200, 100), (160, 90)])
    assert known == [(160, 90), (200, 100)]
    assert onehot.tolist() == [[1, 0, 0], [0, 1, 0], [1, 0, 0]]
    other, _ = fi.size_onehot([(999, 1)], known)
    assert other.tolist() == [[0, 0, 1]]


# --------------------------------------------------------------------------------------------
# Boxes


@pytest.fixture
def planted(tmp_path):
    """Images and box files with one of each kind of bad input planted."""
    images = tmp_path / "train"
    for c, name in [("ALB", "img_1.jpg"), ("ALB", "img_2.jpg"), ("ALB", "img_3.jpg"),
                    ("BET", "img_4.jpg"), ("BET", "img_5.jpg"), ("NoF", "img_6.jpg")]:
        write_image(images / c / name)
    boxes = tmp_path / "boxes"
    boxes.mkdir()
    alb = [{"filename": "../data/fish/train/ALB/img_1.jpg", "annotations": [rect(20, 10, 40, 20)]},
           {"filename": "img_2.jpg", "annotations": [rect(5, 5, 10, 10), rect(100, 50, 60, 40)]},
           {"filename": "img_99.jpg", "annotations": [rect(1, 1, 5, 5)]},       # no such photo
           {"filename": "img_3.jpg", "annotations": [rect(180, 80, 50, 50)]}]   # partly outside
    bet = [{"filename": "img_4.jpg", "annotations": [rect(500, 500, 10, 10)]},  # all outside
           {"filename": "img_4.jpg", "annotations": [rect(600, 600, 5, 5)]}]    # listed twice
    # img_5.jpg (BET) has no box at all
    (boxes / "alb_labels.json").write_text(json.dumps(alb))
    (boxes / "bet_labels.json").write_text(json.dumps(bet))
    names = ["ALB/img_1.jpg", "ALB/img_2.jpg", "ALB/img_3.jpg", "BET/img_4.jpg",
             "BET/img_5.jpg", "NoF/img_6.jpg"]
    return images, boxes, names


def test_bad_box_input_is_counted_and_never_misaligned(planted):
    images, boxes, names = planted
    results, report = fi.load_boxes(boxes, {"train": (images, names)}, (50, 100))
    out, has_box = results["train"]
    counts = report.counts()
    assert counts == {"images": 6, "matched": 3, "no_box_expected": 1, "missing": 1,
                      "unmatched": 1, "clipped": 1, "outside": 1, "duplicates": 1}
    assert report.unmatched == [("ALB", "img_99.jpg")]
    assert report.missing == [("BET", "img_5.jpg")]
    assert report.outside == [("BET", "img_4.jpg")] and report.clipped == [("ALB", "img_3.jpg")]
    # Photos are 200x100 shown at 100x50 (width x height): every number halves.
    assert has_box.tolist() == [True, True, True, False, False, False]
    np.testing.assert_allclose(out[0], [10, 5, 20, 10])   # the folder in the name is ignored
    np.testing.assert_allclose(out[1], [50, 25, 30, 20])  # the larger of two boxes
    np.testing.assert_allclose(out[2], [90, 40, 10, 10])  # cut at the photo's edge
    assert not out[3:].any()
    text = str(report)
    for words in ("not in this set", "without a box", "cut to its edges", "dropped", "twice"):
        assert words in text, text


def test_a_different_order_of_files_moves_the_boxes_with_them(planted):
    images, boxes, names = planted
    fwd, _ = fi.load_boxes(boxes, {"a": (images, names)}, (50, 100))[0]["a"]
    rev, _ = fi.load_boxes(boxes, {"a": (images, names[::-1])}, (50, 100))[0]["a"]
    np.testing.assert_allclose(rev, fwd[::-1])


def test_entries_are_unmatched_only_when_no_split_has_the_photo(planted, tmp_path):
    images, boxes, names = planted
    valid = tmp_path / "valid"
    (valid / "ALB").mkdir(parents=True)
    (images / "ALB" / "img_2.jpg").rename(valid / "ALB" / "img_2.jpg")
    train_names = [n for n in names if n != "ALB/img_2.jpg"]
    results, report = fi.load_boxes(boxes, {"train": (images, train_names),
                                            "valid": (valid, ["ALB/img_2.jpg"])}, (50, 100))
    assert report.counts()["unmatched"] == 1 and report.matched == 3
    assert results["valid"][1].tolist() == [True]


def test_download_boxes_uses_the_hash_checked_download(tmp_path):
    served = tmp_path / "served"
    files = {}
    for name, (attachment, _) in list(fi.BOX_FILES.items())[:2]:
        body = json.dumps([{"filename": "img_1.jpg", "annotations": [rect(1, 2, 3, 4)]}])
        (served / attachment).mkdir(parents=True)
        (served / attachment / name).write_text(body)
        files[name] = (attachment, hashlib.md5(body.encode()).hexdigest())
    folder = fi.download_boxes(tmp_path / "cache", base_url=served.as_uri(), files=files)
    assert sorted(p.name for p in folder.iterdir()) == sorted(files)
    # A file whose md5 does not match is refused, with where to put a good copy.
    bad = {name: (a, "0" * 32) for name, (a, _) in files.items()}
    with pytest.raises(RuntimeError, match="md5 must be 0{32}"):
        fi.download_boxes(tmp_path / "cache2", base_url=served.as_uri(), files=bad)
    assert fi.BOX_URL.startswith("https://") and len(fi.BOX_FILES) == 6


def _red(im):
    a = np.asarray(im).astype(int)
    return (a[..., 0] > a[..., 1] + 60) & (a[..., 0] > a[..., 2] + 60)


def test_standin_boxes_really_locate_the_fish():
    rng = np.random.default_rng(3)
    for _ in range(5):
        im, (x, y, w, h) = boats.deck_photo("LAG", int(rng.integers(8)), rng, 8)
        red = _red(im)
        inside = np.zeros_like(red)
        inside[int(y):int(np.ceil(y + h)) + 1, int(x):int(np.ceil(x + w)) + 1] = True
        assert red.sum() > 30
        assert red[inside].sum() / red.sum() > 0.95  # the fish is in its box
        assert red[inside].mean() > 0.3              # and the box is mostly fish


def test_standin_boxes_survive_the_whole_pipeline(standin):
    box_dir = fi.get_boxes(standin, True)
    names = [f"LAG/{p.name}" for p in sorted((standin / "train" / "LAG").glob("*.jpg"))]
    results, report = fi.load_boxes(box_dir, {"train": (standin / "train", names)}, (60, 90))
    out, has_box = results["train"]
    assert has_box.all() and report.counts()["missing"] == 0
    for name, (x, y, w, h) in zip(names, out):
        im = Image.open(standin / "train" / name).convert("RGB").resize((90, 60))
        red = _red(im)
        inside = np.zeros_like(red)
        inside[int(y):int(np.ceil(y + h)) + 1, int(x):int(np.ceil(x + w)) + 1] = True
        assert red[inside].sum() / max(red.sum(), 1) > 0.9, name


def test_each_boat_has_its_own_camera_and_catch():
    """What makes the size leak and the boxes' task real: per boat one photo size, one fixed
    view (rail, fixtures, where the catch lies) and its own mix of fish."""
    rng = np.random.default_rng(0)
    sizes = {b: {boats.deck_photo("ALB", b, rng, 8)[0].size for _ in range(3)} for b in range(8)}
    assert all(len(s) == 1 for s in sizes.values())  # one camera, one size
    assert len({s.pop() for s in sizes.values()}) >= 6  # few boats share a size, as on Kaggle
    assert boats.boat_view(3, 160, 90) == boats.boat_view(3, 160, 90) != boats.boat_view(4, 160, 90)
    # The same photo of an empty deck (NoF), bar the light and the clutter: the view is fixed.
    a, _ = boats.deck_photo("NoF", 2, np.random.default_rng(1), 8)
    b, _ = boats.deck_photo("NoF", 2, np.random.default_rng(2), 8)
    rail = round(boats.boat_view(2, *a.size)["rail"][0]) - 1
    def top(im):
        return np.median(np.asarray(im, float)[:rail].reshape(-1, 3), axis=0)
    np.testing.assert_allclose(top(a), top(b), atol=3)  # the rail, whatever the photo
    weights = boats.boat_weights(len(fi.CLASSES))
    np.testing.assert_allclose(weights.sum(axis=1), 1)
    assert len(set(weights.argmax(axis=1))) == 8  # each boat lands mostly its own fish


def test_a_stand_in_from_another_recipe_is_written_anew(tmp_path):
    dest = tmp_path / fi.COMPETITION
    small = fi.Standin(16, 2, 2, scale=40)
    fi.make_standin(dest, small, seed=0)
    first = (dest / "train.zip").read_bytes()
    assert "recipe " in (dest / "STANDIN.txt").read_text()
    fi.make_standin(dest, small, seed=0)  # same recipe: kept as it is
    assert (dest / "train.zip").read_bytes() == first
    fi.make_standin(dest, small, seed=1)  # another: made anew
    assert (dest / "train.zip").read_bytes() != first


def test_a_changed_drawing_remakes_the_standin_and_leaves_real_data_alone(standin, monkeypatch):
    """The one freshness rule, through get: another drawing code draws the stand-in anew; the
    real competition folder beside it is never touched."""
    real = data_dir() / fi.COMPETITION
    shutil.copytree(standin, real)
    (real / "STANDIN.txt").unlink()  # the real data has no marker
    before = listing(real)
    old = fi.get("standin", standin=STANDIN)
    marker = (old.path / "STANDIN.txt").read_text()
    monkeypatch.setattr(fi, "DRAWING", (*fi.DRAWING, fi.id_of))  # "edit" the drawing code
    new = fi.get("standin", standin=STANDIN)
    assert new.path == old.path and (new.path / "STANDIN.txt").read_text() != marker
    assert new.info["counts"] == old.info["counts"]
    assert listing(real) == before
    with pytest.raises(StandinError, match="no STANDIN.txt"):
        fi.make_standin(real, STANDIN)  # a folder of real data is never drawn over
    assert listing(real) == before


def listing(folder):
    """Every file under a folder with its bytes' hash: equal listings, byte-identical folders."""
    return {p.relative_to(folder).as_posix(): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}
