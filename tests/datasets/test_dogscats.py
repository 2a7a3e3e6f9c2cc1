"""utils/datasets/dogscats.py: the stand-in, Kaggle's flat layout into class folders, and `get`.

Everything lives in tmp_path: DL1_DATA, HOME (so no Kaggle credentials are found) and the Kaggle
Notebooks input folder are all pointed there, and the Kaggle API is replaced by one that fails.
The stand-in is small (40 training and 10 test images of 32 px).
"""
import io
import json
import os
import shutil
import zipfile
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
from PIL import Image

import utils.datasets.dogscats as dc
import utils.kaggle as kg
from utils.datasets import is_standin
from utils.images import get_batches
from utils.kaggle import fetch, make_submission
from utils.paths import data_dir, standin_dir
from utils.standins import pets

COMP = dc.COMPETITION
N_TRAIN, N_TEST, PX = 40, 10, 32
STANDIN = dc.Standin(N_TRAIN, N_TEST, PX)
# what _get_standin derives from STANDIN: n_valid = n_train // 4, samples n_train // 10, // 20
STANDIN_COUNTS = {"train": 30, "valid": 10, "sample/train": 4, "sample/valid": 2, "test": 10,
                  "sample/test": 2}
SAMPLE = (6, 4, 3)  # the sample's train, valid and test images in the prepare tests


# Scratch data, home and Kaggle-input folders; no credentials; no Kaggle API (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("no_kaggle_api")


@pytest.fixture(scope="module")
def flat(tmp_path_factory):
    """A stand-in as Kaggle ships it, fetched (extracted) but not prepared; copy before use."""
    dest = tmp_path_factory.mktemp("standin") / COMP
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DL1_KAGGLE_INPUT", str(dest.parent / "no-kaggle-input"))
        dc.make_standin(dest, dc.Standin(N_TRAIN, N_TEST, PX), seed=0)
        fetch(COMP, dest)
    return dest


@pytest.fixture
def fetched(flat, tmp_path):
    """A private copy of the fetched, unprepared stand-in."""
    return Path(shutil.copytree(flat, tmp_path / "copy" / COMP))


def jpeg(value, size=PX):
    buf = io.BytesIO()
    Image.new("RGB", (size, size), (value, 255 - value, 90)).save(buf, "JPEG")
    return buf.getvalue()


def write_flat_zips(folder, n_per_class=6, n_test=5, first=0):
    """A fake 'real' competition: train.zip (train/cat.N.jpg, train/dog.N.jpg), test.zip, CSV."""
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(folder / "train.zip", "w") as z:
        for i in range(first, first + n_per_class):
            z.writestr(f"train/cat.{i}.jpg", jpeg(10 + i))
            z.writestr(f"train/dog.{i}.jpg", jpeg(200 - i))
    with zipfile.ZipFile(folder / "test.zip", "w") as z:
        for i in range(1, n_test + 1):
            z.writestr(f"test/{i}.jpg", jpeg(i * 20))
    pd.DataFrame({"id": range(1, n_test + 1), "label": 0.5}).to_csv(
        folder / "sample_submission.csv", index=False)
    return folder


def names(folder, pattern):
    return sorted(p.relative_to(folder).as_posix() for p in Path(folder).glob(pattern))


def listing(folder):
    """Every file under a folder with its size and modification time."""
    return {p.relative_to(folder).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in Path(folder).rglob("*") if p.is_file()}


def counts(path):
    return {"train": len(names(path, "train/*/*.jpg")), "valid": len(names(path, "valid/*/*.jpg")),
            "sample/train": len(names(path, "sample/train/*/*.jpg")),
            "sample/valid": len(names(path, "sample/valid/*/*.jpg")),
            "test": len(names(path, "test/*/*.jpg")),
            "sample/test": len(names(path, "sample/test/*/*.jpg"))}


def assert_prepared(path, n_images, n_valid, n_sample, n_test):
    """The course's layout, each training image exactly once, classes in the right folders."""
    path = Path(path)
    assert counts(path) == {"train": n_images - n_valid, "valid": n_valid,
                            "sample/train": n_sample[0], "sample/valid": n_sample[1],
                            "test": n_test, "sample/test": n_sample[2]}
    assert names(path, "train/*.jpg") == [] and names(path, "test/*.jpg") == []
    assert names(path, "test/*/*.jpg") == names(path, "test/unknown/*.jpg")
    train = {p.name for p in path.glob("train/*/*.jpg")}
    valid = {p.name for p in path.glob("valid/*/*.jpg")}
    assert not train & valid
    assert len(train | valid) == n_images
    for split in ("train", "valid", "sample/train", "sample/valid"):
        found = sorted(p.name for p in (path / split).iterdir())
        # a tiny random sample may miss a class; the splits themselves never do
        assert found == ["cats", "dogs"] if "/" not in split else set(found) <= {"cats", "dogs"}
        for cls, prefix in (("cats", "cat."), ("dogs", "dog.")):
            assert all(p.name.startswith(prefix) for p in (path / split).glob(f"{cls}/*"))
    for split in ("train", "valid", "test"):  # samples are copies of files of the same split
        for rel in names(path / "sample" / split, "*/*.jpg"):
            assert (path / split / rel).read_bytes() == (path / "sample" / split / rel).read_bytes()
    # the sample's own sample submission: the full one's rows for exactly its test images
    sample = pd.read_csv(path / "sample" / dc.SAMPLE_SUBMISSION)
    full = pd.read_csv(path / dc.SAMPLE_SUBMISSION).set_index("id")
    assert sorted(sample["id"]) == sorted(int(p.stem) for p in path.glob("sample/test/*/*.jpg"))
    assert (full.loc[sample["id"], "label"].to_numpy() == sample["label"].to_numpy()).all()
    return train, valid


# ---------------------------------------------------------------------------------------------
# The stand-in as Kaggle ships it


def test_make_standin_writes_kaggle_files(tmp_path):
    dest = dc.make_standin(tmp_path / "s", dc.Standin(N_TRAIN, N_TEST, PX), seed=0)
    with zipfile.ZipFile(dest / "train.zip") as z:
        train = sorted(z.namelist())
        im = Image.open(io.BytesIO(z.read("train/cat.0.jpg")))
        assert im.format == "JPEG" and im.mode == "RGB"
        assert 0.8 * PX - 1 <= im.size[0] <= 1.25 * PX + 1
    assert train == sorted([f"train/cat.{i}.jpg" for i in range(20)]
                           + [f"train/dog.{i}.jpg" for i in range(20)])
    with zipfile.ZipFile(dest / "test.zip") as z:
        assert sorted(z.namelist()) == sorted(f"test/{i}.jpg" for i in range(1, N_TEST + 1))
    sample = pd.read_csv(dest / "sample_submission.csv")
    assert list(sample.columns) == ["id", "label"]
    assert sample["id"].tolist() == list(range(1, N_TEST + 1))
    assert (dest / "STANDIN.txt").read_text().startswith("STAND-IN DATA")
    assert is_standin(dest)
    assert not list(dest.glob("*.tmp"))
    before = listing(dest)
    dc.make_standin(dest, dc.Standin(N_TRAIN, N_TEST, PX), seed=0)  # already there: left alone
    assert listing(dest) == before


def test_make_standin_is_seeded(tmp_path):
    a = dc.make_standin(tmp_path / "a", dc.Standin(4, 2, 16), seed=3)
    b = dc.make_standin(tmp_path / "b", dc.Standin(4, 2, 16), seed=3)
    c = dc.make_standin(tmp_path / "c", dc.Standin(4, 2, 16), seed=4)
    def read(d):
        return {n: zipfile.ZipFile(d / "train.zip").read(n) for n in zipfile.ZipFile(d / "train.zip").namelist()}
    assert read(a) == read(b) != read(c)


# ---------------------------------------------------------------------------------------------
# prepare


def test_fetch_then_prepare_gives_the_course_layout(fetched):
    assert names(fetched, "train/*.jpg")  # flat before
    out = dc.prepare(fetched, valid_size=10, n_sample=SAMPLE, seed=0)
    assert out == fetched
    assert_prepared(fetched, N_TRAIN, 10, SAMPLE, N_TEST)
    assert json.loads((fetched / dc.DONE).read_text()) == {
        "train": 30, "valid": 10, "sample/train": 6, "sample/valid": 4, "test": 10,
        "sample/test": 3}


def test_the_split_is_seeded(flat, tmp_path):
    def split(seed, where):
        path = Path(shutil.copytree(flat, tmp_path / where / COMP))
        dc.prepare(path, valid_size=10, n_sample=SAMPLE, seed=seed)
        return (names(path, "valid/*/*.jpg"), names(path, "sample/train/*/*.jpg"),
                names(path, "sample/valid/*/*.jpg"), names(path, "sample/test/*/*.jpg"))
    first = split(0, "a")
    assert split(0, "b") == first
    assert split(1, "c")[0] != first[0]


def test_prepare_is_idempotent(fetched, monkeypatch):
    dc.prepare(fetched, valid_size=10, n_sample=SAMPLE)
    before = listing(fetched)

    def refuse(*args, **kwargs):
        raise AssertionError("prepare moved or copied a file on its second run")
    monkeypatch.setattr(shutil, "move", refuse)
    monkeypatch.setattr(dc, "place", refuse)
    assert dc.prepare(fetched, valid_size=10, n_sample=SAMPLE) == fetched
    assert listing(fetched) == before


def test_prepare_redone_without_its_marker_moves_nothing(fetched):
    """Interrupted after the last copy but before writing .prepared: the re-run only checks."""
    dc.prepare(fetched, valid_size=10, n_sample=SAMPLE)
    (fetched / dc.DONE).unlink()
    before = listing(fetched)
    dc.prepare(fetched, valid_size=10, n_sample=SAMPLE)
    after = listing(fetched)
    assert after.pop(dc.DONE)
    assert after == before


def interrupt_after(monkeypatch, owner, name, n):
    """Make owner.<name> fail like a killed process after n successful calls."""
    real = getattr(owner, name)
    calls = []

    def flaky(*args, **kwargs):
        if len(calls) >= n:
            raise KeyboardInterrupt(f"interrupted after {n} calls of {name}")
        calls.append(args)
        return real(*args, **kwargs)
    monkeypatch.setattr(owner, name, flaky)
    return calls


@pytest.mark.parametrize("owner, name, n", [(shutil, "move", 7), (shutil, "move", 45),
                                            (dc, "place", 3)])
def test_prepare_resumes_after_an_interruption(flat, fetched, tmp_path, monkeypatch, owner, name,
                                               n):
    with monkeypatch.context() as mp:
        interrupt_after(mp, owner, name, n)
        with pytest.raises(KeyboardInterrupt):
            dc.prepare(fetched, valid_size=10, n_sample=SAMPLE, seed=0)
    assert not (fetched / dc.DONE).exists()
    # each image is in exactly one place, even half way
    assert len(names(fetched, "train/*.jpg") + names(fetched, "train/*/*.jpg")
               + names(fetched, "valid/*/*.jpg")) == N_TRAIN
    dc.prepare(fetched, valid_size=10, n_sample=SAMPLE, seed=0)
    _, valid = assert_prepared(fetched, N_TRAIN, 10, SAMPLE, N_TEST)
    # and the split is the one an uninterrupted run makes
    clean = Path(shutil.copytree(flat, tmp_path / "clean" / COMP))
    dc.prepare(clean, valid_size=10, n_sample=SAMPLE, seed=0)
    for pattern in ("valid/*/*.jpg", "train/*/*.jpg", "sample/*/*/*.jpg", "test/*/*.jpg"):
        assert names(fetched, pattern) == names(clean, pattern)


def test_prepare_resumes_after_a_copy_cut_short(fetched, monkeypatch):
    """A copy into sample/ (where links are refused, as across disks) that stops half way leaves
    a partial file; the re-run must not take it for a finished copy."""
    real = shutil.copy2
    calls = []

    def no_links(*args, **kwargs):
        raise OSError(18, "Invalid cross-device link")

    def copy_cut_short(src, dst, **kwargs):
        if len(calls) == 2:
            data = Path(src).read_bytes()
            Path(dst).write_bytes(data[: len(data) // 2])
            raise OSError(28, "No space left on device")
        calls.append(dst)
        return real(src, dst, **kwargs)
    with monkeypatch.context() as mp:
        mp.setattr(shutil, "copy2", copy_cut_short)
        mp.setattr(os, "link", no_links)
        mp.setattr(os, "symlink", no_links)
        with pytest.raises(OSError):
            dc.prepare(fetched, valid_size=10, n_sample=SAMPLE, seed=0)
    dc.prepare(fetched, valid_size=10, n_sample=SAMPLE, seed=0)
    assert_prepared(fetched, N_TRAIN, 10, SAMPLE, N_TEST)  # every sample equals its source


def test_prepare_refuses_a_valid_size_that_leaves_nothing_to_train_on(fetched):
    before = listing(fetched)
    for valid_size in (N_TRAIN, N_TRAIN + 1, 1.0, 0):
        with pytest.raises(ValueError, match=f"{fetched}.*valid_size"):
            dc.prepare(fetched, valid_size=valid_size, n_sample=(1, 1))
    assert listing(fetched) == before  # refused before moving anything


# What macOS adds when it zips or copies a folder: '._' files holding a file's metadata (not a
# JPEG, whatever their name), under __MACOSX/ or beside the file itself.
APPLE_DOUBLE = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        " + b"\x00" * 40


def test_prepare_passes_over_macos_metadata_files(fetched, capsys):
    for rel in ("train/__MACOSX/._cat.0.jpg", "train/__MACOSX/._dog.3.jpg",
                "train/cats/._cat.1.jpg"):
        (fetched / rel).parent.mkdir(parents=True, exist_ok=True)
        (fetched / rel).write_bytes(APPLE_DOUBLE)
    dc.prepare(fetched, valid_size=10, n_sample=SAMPLE)
    assert (fetched / "train/__MACOSX/._cat.0.jpg").read_bytes() == APPLE_DOUBLE  # left as it was
    train = get_batches(fetched / "train", batch_size=8, target_size=(PX, PX))
    assert train.class_names == ["cats", "dogs"] and train.samples == N_TRAIN - 10
    assert "Moved 3 corrupt" in capsys.readouterr().out  # screened aside, as not images


def test_prepare_names_an_unexpected_image_and_moves_nothing(fetched):
    (fetched / "train" / "extra").mkdir()
    (fetched / "train" / "extra" / "x.jpg").write_bytes(jpeg(5))
    before = listing(fetched)
    with pytest.raises(ValueError, match="Move it out") as caught:
        dc.prepare(fetched, valid_size=10, n_sample=SAMPLE)
    assert str(fetched / "train" / "extra" / "x.jpg") in str(caught.value)
    assert "delete it" in str(caught.value)
    assert listing(fetched) == before  # refused before moving anything


# ---------------------------------------------------------------------------------------------
# get


def test_get_standin_is_under_standin_dir_and_says_so(capsys):
    data = dc.get("standin", standin=STANDIN)
    assert data.standin is True and data.mode == "standin"
    assert data.path == standin_dir() / COMP
    assert is_standin(data.path)
    assert capsys.readouterr().out == ""  # get prints nothing: the record says it
    assert "STAND-IN DATA" in str(data) and "kaggle.com/competitions/" + COMP in str(data)
    assert not (data_dir() / COMP).exists()
    assert counts(data.path) == STANDIN_COUNTS
    assert data["test"] == data.path / "test" and data.test_ids == [str(i) for i in range(1, 11)]
    again = dc.get("standin", standin=STANDIN)
    assert again == data and "STAND-IN DATA" in str(again)  # every time, not only the first


def test_get_auto_without_credentials_or_data_uses_the_standin(capsys):
    assert not kg.credentials_present()
    data = dc.get("auto", standin=STANDIN)
    assert data.standin is True and is_standin(data.path)
    assert data.path == standin_dir() / COMP
    assert capsys.readouterr().out == ""
    said = str(data)
    assert said.index("No Kaggle API credentials") < said.index("STAND-IN DATA") < said.index(data.summary)
    assert not (data_dir() / COMP).exists()


def test_get_auto_uses_real_data_already_on_disk(capsys):
    real = write_flat_zips(data_dir() / COMP, n_per_class=6, n_test=5)
    data = dc.get("auto", valid_size=4, n_sample=(4, 2, 3))
    assert (data.path, data.standin, data.mode) == (real, False, "full")
    assert not is_standin(data.path)
    assert_prepared(data.path, 12, 4, (4, 2, 3), 5)
    assert data.parts == {p: real / p for p in ("train", "valid", "test")}
    assert data.sample_submission == real / "sample_submission.csv"
    assert data.test_ids == ["1", "2", "3", "4", "5"]
    assert "STAND-IN" not in str(data) and capsys.readouterr().out == ""
    assert not standin_dir().exists()
    sample = dc.get("sample", valid_size=4, n_sample=(4, 2, 3))
    assert (sample.path, sample.standin, sample.mode) == (real / "sample", False, "sample")
    assert sample["test"] == real / "sample" / "test" and len(sample.test_ids) == 3
    assert dc.get("full", valid_size=4, n_sample=(4, 2, 3)) == data


def test_get_auto_uses_the_competition_mounted_by_kaggle_notebooks(tmp_path, monkeypatch,
                                                                   capsys):
    """On Kaggle Notebooks the competition's zips are mounted read-only and there are usually no
    API credentials; `fetch` knows the mount, so 'auto' must use the real data there."""
    mount = tmp_path / "kaggle-input"
    write_flat_zips(mount / COMP, n_per_class=6, n_test=5)
    monkeypatch.setenv("DL1_KAGGLE_INPUT", str(mount))
    assert not kg.credentials_present()
    data = dc.get("auto", valid_size=4, n_sample=(4, 2, 3), standin=STANDIN)
    assert data.standin is False
    assert not is_standin(data.path)
    assert_prepared(data.path, 12, 4, (4, 2, 3), 5)


def test_the_standin_never_mixes_with_a_mounted_real_competition(tmp_path, monkeypatch):
    """get('standin') on Kaggle Notebooks with the competition attached: the stand-in folder must
    hold the stand-in's images only, not the mounted real ones extracted on top of them."""
    mount = tmp_path / "kaggle-input"
    write_flat_zips(mount / COMP, n_per_class=6, n_test=5, first=1000)
    monkeypatch.setenv("DL1_KAGGLE_INPUT", str(mount))
    data = dc.get("standin", standin=STANDIN)
    assert data.standin is True
    assert not list(data.path.rglob("*.1000.jpg"))
    assert counts(data.path) == STANDIN_COUNTS


def test_get_auto_falls_back_to_the_standin_when_the_download_fails(monkeypatch, capsys):
    def refused():
        raise kg.KaggleError("Kaggle refused access (HTTP 403): accept the rules (test).")
    monkeypatch.setattr(kg.api, "connect", refused)
    data = dc.get("auto", standin=STANDIN)
    assert data.standin is True and data.path == standin_dir() / COMP
    assert capsys.readouterr().out == ""
    assert "Could not get" in str(data) and "HTTP 403" in str(data) and "STAND-IN DATA" in str(data)


def test_get_full_without_data_or_credentials_raises_instead_of_using_the_standin():
    with pytest.raises(kg.KaggleError, match="credentials"):
        dc.get("full")
    assert not standin_dir().exists()


def test_get_rejects_an_unknown_mode():
    with pytest.raises(ValueError, match="bogus"):
        dc.get("bogus")
    assert not data_dir().exists()


# ---------------------------------------------------------------------------------------------
# Round trip: stand-in -> model -> submission


def test_standin_round_trip_to_a_submission(tmp_path, capsys):
    data = dc.get("standin", standin=STANDIN)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((PX, PX, 3)),
        keras.layers.Rescaling(1 / 255),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(2, activation="softmax"),
    ])
    model.compile("adam", "categorical_crossentropy")
    batches = get_batches(data["train"], batch_size=10, target_size=(PX, PX))
    assert batches.class_indices == {"cats": 0, "dogs": 1}
    model.fit(batches, epochs=1, verbose=0)
    test = get_batches(data["test"], shuffle=False, batch_size=4, class_mode=None,
                       target_size=(PX, PX))
    probs = model.predict(test, verbose=0)[:, 1]
    ids = [int(Path(f).stem) for f in test.filenames]
    out = make_submission(ids, probs, data.sample_submission, tmp_path / "sub.csv",
                          clip=0.95)
    sub = pd.read_csv(out)
    assert list(sub.columns) == ["id", "label"]
    assert sorted(sub["id"]) == list(range(1, N_TEST + 1))
    assert sub["id"].is_unique
    assert sub["label"].between(0.05, 0.95).all()
    by_id = dict(zip(sub["id"], sub["label"]))
    for i, p in zip(ids, probs):
        assert by_id[i] == pytest.approx(min(max(p, 0.05), 0.95), abs=1e-6)


def test_standin_classes_are_not_told_apart_by_colour():
    """Cats and dogs come in the same fur colours, rooms and light: a photo's average colour
    alone says little (the class is in the ears and the face)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    rng = np.random.default_rng(0)
    kinds = ["cat", "dog"] * 100
    colours = [np.asarray(pets.pet_photo(k, rng, 32)).reshape(-1, 3).mean(axis=0)
               for k in kinds]
    score = cross_val_score(LogisticRegression(max_iter=1000), np.array(colours),
                            np.array(kinds), cv=5).mean()
    assert score < 0.7, score


def test_a_changed_drawing_remakes_the_standin_and_leaves_real_data_alone(monkeypatch):
    """The one freshness rule, through get: another drawing code draws the stand-in anew; the
    real competition folder beside it is never touched."""
    real = write_flat_zips(data_dir() / COMP, n_per_class=6, n_test=5)
    before = listing(real)
    old = dc.get("standin", standin=STANDIN)
    marker = (old.path / "STANDIN.txt").read_text()
    monkeypatch.setattr(dc.pets, "DRAWING", (*dc.pets.DRAWING, dc._is_class_image))  # "edit" the drawing
    new = dc.get("standin", standin=STANDIN)
    assert new.path == old.path and (new.path / "STANDIN.txt").read_text() != marker
    assert counts(new.path) == STANDIN_COUNTS
    assert listing(real) == before
