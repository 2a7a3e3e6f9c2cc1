"""utils/datasets/statefarm.py and the pseudo-labelling guard: split by driver, bad inputs, leaks.

Data lives in tmp_path; HOME and the Kaggle input folder point there and the Kaggle API is replaced
by one that fails, so nothing reaches the network. The stand-in here is tiny: 4 drivers, 2 photos
per class each, 10 test photos of 32x24 pixels.
"""
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from utils.datasets import is_standin, statefarm as sf
from utils.datasets.standin import MARKER, StandinError
from utils.kaggle import fetch
from utils.paths import data_dir, standin_dir
from utils.pseudo import LeakError, pseudo_label
from utils.standins import drivers

TINY = sf.Standin(4, 2, 10, (32, 24))


# Scratch data, home and Kaggle-input folders; no credentials; no Kaggle API (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("no_kaggle_api")


@pytest.fixture(scope="module")
def fetched_once(tmp_path_factory):
    dest = tmp_path_factory.mktemp("sf") / sf.COMPETITION
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DL1_KAGGLE_INPUT", str(dest.parent / "none"))
        sf.make_standin(dest, TINY, seed=0)
        fetch(sf.COMPETITION, dest)
    return dest


@pytest.fixture
def fetched(fetched_once, tmp_path):
    """A private copy of the fetched, unsplit stand-in."""
    return Path(shutil.copytree(fetched_once, tmp_path / "copy" / sf.COMPETITION))


def drivers_of(folder, driver_list):
    owner = pd.read_csv(driver_list).set_index("img").subject
    return {owner[p.name] for p in Path(folder).glob("*/*.jpg")}


def test_standin_zip_has_kaggles_layout(fetched_once):
    dest = fetched_once
    with zipfile.ZipFile(dest / f"{sf.COMPETITION}.zip") as z:
        names = z.namelist()
    assert {"driver_imgs_list.csv", "sample_submission.csv"} <= set(names)
    assert {n.split("/")[2] for n in names if n.startswith("imgs/train/")} == set(sf.CLASSES)
    assert sum(n.startswith("imgs/test/") for n in names) == 10
    drivers = pd.read_csv(dest / "driver_imgs_list.csv")
    assert list(drivers.columns) == list(sf.LIST_COLUMNS) and drivers.subject.nunique() == 4
    sample = pd.read_csv(dest / "sample_submission.csv")
    assert list(sample.columns) == ["img", *sf.CLASSES] and len(sample) == 10
    assert is_standin(dest)


def test_split_by_driver_puts_no_driver_in_both_sets(fetched):
    info = sf.prepare(fetched, valid_size=2, seed=1)
    out = fetched / sf.OUT
    listed = fetched / "driver_imgs_list.csv"
    train, valid = drivers_of(out / "train", listed), drivers_of(out / "valid", listed)
    assert not train & valid
    assert valid == set(info["valid_drivers"]) and len(valid) == 2 and len(train) == 2
    assert info["counts"] == {"train": 40, "valid": 40, "test": 10}
    assert len(list((out / "test/unknown").glob("*.jpg"))) == 10
    assert drivers_of(out / "sample/valid", listed) <= valid
    assert drivers_of(out / "sample/train", listed) <= train
    # Kaggle's folders are left as they were.
    assert len(list((fetched / "imgs/train").glob("*/*.jpg"))) == 80
    assert len(sf.prepare(fetched, valid_size=0.25, seed=1)["valid_drivers"]) == 1  # a share


def test_prepare_reuses_a_split_and_redoes_it_when_asked_for_another(fetched):
    first = sf.prepare(fetched, valid_drivers=["p100"])
    assert sf.prepare(fetched, valid_drivers=["p100"]) == first
    second = sf.prepare(fetched, valid_drivers=["p102", "p104"])
    assert second["valid_drivers"] == ["p102", "p104"]
    valid = drivers_of(fetched / sf.OUT / "valid", fetched / "driver_imgs_list.csv")
    assert valid == {"p102", "p104"}


def test_check_split_catches_a_driver_in_both_sets(fetched):
    sf.prepare(fetched, valid_drivers=["p100"])
    out = fetched / sf.OUT
    stray = next((out / "valid/c3").glob("*.jpg"))
    shutil.copy(stray, out / "train/c3" / stray.name)
    with pytest.raises(sf.StateFarmError, match="p100"):
        sf.check_split(out, fetched / "driver_imgs_list.csv")


@pytest.mark.parametrize("valid_size", [0, 4, 9, 1.0, 0.1])
def test_split_needs_drivers_on_both_sides(fetched, valid_size):
    with pytest.raises(sf.StateFarmError, match="valid_size.*both sets"):
        sf.prepare(fetched, valid_size=valid_size)


def test_unknown_validation_driver_is_refused(fetched):
    with pytest.raises(sf.StateFarmError, match="p999"):
        sf.prepare(fetched, valid_drivers=["p999"])


def break_the_list(folder):
    """A missing listed image, an image listed for no driver, one in the wrong class folder."""
    listed = pd.read_csv(folder / "driver_imgs_list.csv")
    gone = listed.iloc[0]
    (folder / "imgs/train" / gone.classname / gone.img).unlink()
    unlisted = listed.iloc[1]
    listed = listed.drop(index=1)
    moved = listed.iloc[5]
    shutil.move(folder / "imgs/train" / moved.classname / moved.img,
                folder / "imgs/train/c9" if moved.classname != "c9" else folder / "imgs/train/c0")
    listed.to_csv(folder / "driver_imgs_list.csv", index=False)
    return gone.img, unlisted.img, moved.img


def test_mismatches_are_counted_noted_and_left_out_of_both_sets(fetched, capsys):
    gone, unlisted, moved = break_the_list(fetched)
    data = sf.get("full", path=fetched, valid_size=1)
    info = data.info
    assert info["skipped"] == {"listed but missing": 1, "in another class folder than listed": 1,
                               "on disk but listed for no driver": 1}
    assert capsys.readouterr().out == ""  # said in the record, not printed
    said = str(data)
    assert "Left out of both" in said and gone in said and unlisted in said and moved in said
    assert said.index("Left out of both") < said.index(data.summary)
    assert sf.get("full", path=fetched, valid_size=1).notes == data.notes  # said again on re-use
    placed = {p.name for p in (fetched / sf.OUT).glob("*/*/*.jpg")}
    assert not {gone, unlisted, moved} & placed
    assert info["counts"]["train"] + info["counts"]["valid"] == 80 - 3


def test_mismatches_stop_preparing_when_asked(fetched):
    break_the_list(fetched)
    with pytest.raises(sf.StateFarmError, match="1 image.s. listed but missing") as err:
        sf.prepare(fetched, valid_size=1, on_mismatch="error")
    assert "listed for no driver" in str(err.value) and "on_mismatch='skip'" in str(err.value)
    assert not (fetched / sf.OUT / sf.DONE).exists()


def test_driver_list_problems_are_clear(fetched):
    listed = pd.read_csv(fetched / "driver_imgs_list.csv")
    pd.concat([listed, listed.head(1)]).to_csv(fetched / "driver_imgs_list.csv", index=False)
    with pytest.raises(sf.StateFarmError, match="more than once"):
        sf.prepare(fetched)
    listed.drop(columns="subject").to_csv(fetched / "driver_imgs_list.csv", index=False)
    with pytest.raises(sf.StateFarmError, match="subject"):
        sf.prepare(fetched)
    (fetched / "driver_imgs_list.csv").unlink()
    with pytest.raises(sf.StateFarmError, match="driver_imgs_list.csv is missing"):
        sf.prepare(fetched)
    with pytest.raises(ValueError, match="on_mismatch"):
        sf.prepare(fetched, on_mismatch="ignore")


@pytest.mark.parametrize("text, message", [
    ("", "driver_imgs_list.csv is empty"),
    ("subject,classname,img\n", "driver_imgs_list.csv has no rows, only its header"),
])
def test_an_empty_driver_list_says_to_fetch_it_again(fetched, text, message):
    (fetched / "driver_imgs_list.csv").write_text(text)
    with pytest.raises(sf.StateFarmError, match=f"{message}.*fetch it again"):
        sf.prepare(fetched)
    assert not (fetched / sf.OUT).exists()


def test_train_and_test_at_the_top_also_work(fetched):
    for name in ("train", "test"):
        shutil.move(fetched / "imgs" / name, fetched / name)
    assert sf.images_root(fetched) == fetched
    info = sf.prepare(fetched, valid_size=1)
    assert info["counts"]["test"] == 10
    shutil.rmtree(fetched / "train")
    with pytest.raises(sf.StateFarmError, match="No train/"):
        sf.images_root(fetched)


def test_get_standin_and_a_hand_downloaded_real_zip(tmp_path, capsys):
    data = sf.get("standin", standin=TINY)
    assert data.standin and data.mode == "standin" and data.path.name == sf.OUT
    assert capsys.readouterr().out == ""  # get prints nothing: the record says it
    assert "STAND-IN DATA" in str(data) and "kaggle.com/competitions/" + sf.COMPETITION in str(data)
    assert not set(data.info["valid_drivers"]) & set(data.info["train_drivers"])
    assert data["test"] == data.path / "test" and len(data.test_ids) == 10
    # A real-looking zip put where the data belongs (downloaded by hand) runs the real path.
    real = tmp_path / "data" / sf.COMPETITION
    sf.make_standin(tmp_path / "fake", TINY, seed=5)
    real.mkdir(parents=True)
    shutil.copy(tmp_path / "fake" / f"{sf.COMPETITION}.zip", real)
    data = sf.get("auto", valid_size=1)
    assert not data.standin and data.path == real / sf.OUT and len(data.info["valid_drivers"]) == 1
    assert data.sample_submission == real / "sample_submission.csv"
    assert sorted(data.test_ids) == sorted(p.name for p in (real / sf.OUT / "test").rglob("*.jpg"))
    sample = sf.get("sample", valid_size=1, n_sample=(1, 1, 4))
    assert sample.path == real / sf.OUT / "sample" and sample.mode == "sample"
    assert sample.sample_submission == sample.path / "sample_submission.csv"
    assert sorted(sample.test_ids) == sorted(p.name for p in sample["test"].rglob("*.jpg"))
    assert len(sample.test_ids) == 4
    assert capsys.readouterr().out == "" and "STAND-IN" not in str(data) + str(sample)


def test_get_auto_without_credentials_or_data_uses_the_standin_and_says_why(capsys):
    data = sf.get("auto", standin=TINY)
    assert data.standin and data.path == standin_dir() / sf.COMPETITION / sf.OUT
    assert capsys.readouterr().out == ""
    said = str(data)
    assert said.index("No Kaggle API credentials") < said.index("STAND-IN DATA") < said.index(data.summary)
    assert not (data_dir() / sf.COMPETITION).exists()


def test_standin_keeps_the_test_sets_truth_beside_the_zip(fetched_once):
    parts = sf.read_standin(fetched_once)
    x, y, drivers = parts["train"]
    assert x.shape == (4 * 10 * 2, 24, 32, 3) and x.dtype == np.uint8
    assert sorted(set(y)) == list(range(10)) and len(set(drivers)) == 4
    test_x, test_y, test_drivers = parts["test"]
    assert len(test_x) == len(test_y) == 10 and set(test_y) <= set(range(10))
    assert not set(test_drivers) & set(drivers)  # new drivers, as on Kaggle
    truth = pd.read_csv(fetched_once / sf.TRUTH)
    sample = pd.read_csv(fetched_once / "sample_submission.csv")
    assert sorted(truth.img) == sorted(sample.img)
    with zipfile.ZipFile(fetched_once / f"{sf.COMPETITION}.zip") as z:
        assert sf.TRUTH not in z.namelist()  # Kaggle does not ship it


def test_a_drivers_photos_share_a_look_that_other_drivers_lack():
    """A driver's photos of one behaviour are near twins; another driver's look different."""
    rng = np.random.default_rng(0)
    looks = [drivers.driver_look(rng) for _ in range(6)]
    photos = np.array([[np.asarray(drivers.dashboard_photo(look, 3, rng, (64, 48)), float)
                        for _ in range(3)] for look in looks])
    within = np.mean([np.abs(p[0] - p[1]).mean() for p in photos])
    between = np.mean([np.abs(photos[i, 0] - photos[j, 0]).mean()
                       for i in range(6) for j in range(i + 1, 6)])
    assert between > 2 * within, (within, between)


def test_a_standin_made_by_other_settings_is_made_again(tmp_path):
    dest = tmp_path / "sf"
    sf.make_standin(dest, TINY, seed=0)
    zpath = dest / f"{sf.COMPETITION}.zip"
    stamp = zpath.stat().st_mtime_ns
    sf.make_standin(dest, TINY, seed=0)
    assert zpath.stat().st_mtime_ns == stamp  # the same settings: kept
    sf.make_standin(dest, sf.Standin(4, 1, 6, (32, 24)), seed=0)
    assert len(sf.read_standin(dest)["train"][0]) == 40 and len(sf.read_standin(dest)["test"][0]) == 6


def listing(folder):
    """Every entry under a folder: its bytes (a file's) or mtime (a folder's)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() if p.is_file() else p.stat().st_mtime_ns
            for p in (folder, *folder.rglob("*"))}


def test_a_changed_drawing_remakes_the_standin_and_leaves_real_data_alone(tmp_path, monkeypatch):
    """The one freshness rule, through get: other drawing code draws the stand-in anew; the real
    competition folder beside it, prepared, is never touched, nor a real folder in its place."""
    real = data_dir() / sf.COMPETITION
    sf.make_standin(tmp_path / "fake", TINY, seed=5)
    real.mkdir(parents=True)
    shutil.copy(tmp_path / "fake" / f"{sf.COMPETITION}.zip", real)
    assert not sf.get("full", valid_size=1).standin
    before = listing(real)
    old = sf.get("standin", standin=TINY)
    marker = (standin_dir() / sf.COMPETITION / MARKER).read_text()
    photo = drivers.dashboard_photo

    def dashboard_photo(look, cls, rng, size):  # an "edit" of the drawing code
        return photo(look, cls, rng, size).transpose(0)
    monkeypatch.setattr(drivers, "dashboard_photo", dashboard_photo)
    new = sf.get("standin", standin=TINY)
    assert new.path == old.path and (standin_dir() / sf.COMPETITION / MARKER).read_text() != marker
    assert new.info["counts"] == old.info["counts"]
    assert listing(real) == before
    with pytest.raises(StandinError, match=f"no {MARKER}"):
        sf.make_standin(real, TINY)
    assert listing(real) == before


# ---------------------------------------------------------------------------------------------
# Pseudo-labels come from the test set only


class Probe:
    """A stand-in model: softmax of the first ten features."""
    output_shape = (None, 10)

    def predict_on_batch(self, x):
        z = np.asarray(x, np.float64).reshape(len(x), -1)[:, :10]
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)


def test_pseudo_labels_refuse_validation_rows_by_content(tmp_path):
    rng = np.random.default_rng(0)
    valid, test = rng.normal(size=(30, 16)), rng.normal(size=(50, 16))
    labels = pseudo_label(Probe(), test, validation=valid)
    assert labels.shape == (50, 10) and np.allclose(labels.sum(axis=1), 1)
    # The course's mistake: validation features joined to the unlabelled set.
    with pytest.raises(LeakError, match="3 unlabelled row"):
        pseudo_label(Probe(), np.concatenate([test, valid[:3]]), validation=valid)
    # Also when both sit on disk.
    np.save(tmp_path / "valid.npy", valid)
    np.save(tmp_path / "mixed.npy", np.concatenate([valid[10:], test]))
    with pytest.raises(LeakError, match="20 unlabelled row"):
        pseudo_label(Probe(), tmp_path / "mixed.npy", validation=tmp_path / "valid.npy")


def test_pseudo_labels_need_the_validation_set_to_check_against():
    with pytest.raises(ValueError, match="validation"):
        pseudo_label(Probe(), np.zeros((3, 10)), validation=None)
    with pytest.raises(TypeError):
        pseudo_label(Probe(), np.zeros((3, 10)))  # keyword-only and required


def test_pseudo_labels_refuse_validation_images_by_name(fetched):
    info = sf.prepare(fetched, valid_size=1)
    out = fetched / sf.OUT
    valid_names = [p.name for p in (out / "valid").glob("*/*.jpg")]
    test_names = [p.name for p in (out / "test/unknown").glob("*.jpg")]
    assert not set(valid_names) & set(test_names)  # the split's test set is clean
    rng = np.random.default_rng(1)
    feats = rng.normal(size=(len(test_names) + 2, 12))
    with pytest.raises(LeakError, match="2 unlabelled image"):
        pseudo_label(Probe(), feats, validation=rng.normal(size=(len(valid_names), 12)),
                     names=test_names + valid_names[:2], validation_names=valid_names)
    assert info["counts"]["test"] == len(test_names)
