"""utils/datasets/digitrecognizer.py: Kaggle's CSV layout by every route fetch knows, the sample,
the stand-in, and a checked submission of digits.

Small CSVs in the real layout (`label,pixel0..pixel783`; `pixel0..pixel783`; `ImageId,Label`)
are written into tmp_path; the Kaggle API is a fake that serves them zipped as Kaggle does.
"""
import os
import stat
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import utils.datasets.digitrecognizer as dr
import utils.kaggle as kg
from utils.datasets import csvcompetition as csvc
from utils.datasets.standin import StandinError, is_standin
from utils.kaggle import SubmissionError
from utils.paths import data_dir, standin_dir

COMP = dr.COMPETITION
N_TRAIN, N_TEST = 50, 20

pytestmark = pytest.mark.usefixtures("no_kaggle_api")


def real_tables(n_train=N_TRAIN, n_test=N_TEST, seed=0):
    """The three files as Kaggle ships them, with random pixels and digits 0-9 in turn."""
    rng = np.random.default_rng(seed)
    train = pd.DataFrame(rng.integers(0, 256, (n_train, 784)), columns=dr.PIXELS)
    train.insert(0, "label", np.arange(n_train) % 10)
    test = pd.DataFrame(rng.integers(0, 256, (n_test, 784)), columns=dr.PIXELS)
    sample = pd.DataFrame({"ImageId": np.arange(1, n_test + 1), "Label": 0})
    return {"train.csv": train, "test.csv": test, "sample_submission.csv": sample}


def write_files(folder, tables):
    folder.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        table.to_csv(folder / name, index=False)
    return folder


def write_zip(path, tables):
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for name, table in tables.items():
            zf.writestr(name, table.to_csv(index=False))
    return path


def assert_real(data, tables, mode="full", n_train=N_TRAIN, n_test=N_TEST):
    (x, _), (xv, yv), test = data["train"], data["valid"], data["test"]
    assert (data.standin, data.mode, data.name) == (False, mode, COMP)
    assert x.shape == (n_train - round(0.1 * n_train), 28, 28) and x.dtype == np.uint8
    assert len(xv) == round(0.1 * n_train) and set(yv) <= set(range(10))
    assert test.shape == (n_test, 28, 28)
    # pixels land where Kaggle's row-major pixel0..pixel783 put them
    assert np.array_equal(test[0].ravel(), tables["test.csv"].iloc[0].to_numpy())
    assert data.test_ids == [str(i) for i in range(1, n_test + 1)]


def test_full_through_the_kaggle_api(monkeypatch):
    tables = real_tables()

    class Api:
        def competition_list_files(self, competition):
            raise ConnectionError("only a size hint")

        def competition_download_files(self, competition, path, quiet=False):
            write_zip(Path(path) / f"{competition}.zip", tables)

    monkeypatch.setattr(kg.api, "connect", lambda: Api())
    assert_real(dr.get("full"), tables)


def test_full_from_a_zip_downloaded_by_hand():
    tables = real_tables()
    write_zip(data_dir() / COMP / f"{COMP}.zip", tables)
    data = dr.get("full")
    assert_real(data, tables)
    assert data.path == data_dir() / COMP and not is_standin(data.path)


def test_auto_uses_the_read_only_kaggle_notebooks_mount_and_writes_nothing_there(tmp_path,
                                                                                monkeypatch):
    tables = real_tables()
    mount = write_files(Path(os.environ["DL1_KAGGLE_INPUT"]) / COMP, tables)
    before = sorted(p.name for p in mount.iterdir())
    mount.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        data = dr.get("auto")
        assert_real(data, tables)
        sample = dr.get("sample", n_sample=(30, 5))
    finally:
        mount.chmod(stat.S_IRWXU)
    assert sorted(p.name for p in mount.iterdir()) == before
    assert data.path == data_dir() / COMP  # the folder of links, not the mount
    assert len(sample["test"]) == 5 and sample.test_ids == ["1", "2", "3", "4", "5"]
    assert sample.sample_submission == data_dir() / COMP / "sample" / "sample_submission.csv"


def test_sample_is_the_first_rows_with_a_sample_submission_for_exactly_them():
    tables = real_tables()
    write_zip(data_dir() / COMP / f"{COMP}.zip", tables)
    data = dr.get("sample", n_sample=(30, 8))
    assert_real(data, tables, "sample", n_train=30, n_test=8)
    assert pd.read_csv(data.sample_submission).shape == (8, 2)


@pytest.mark.parametrize("change, message", [
    (lambda t: t["train.csv"].drop(columns="label"), r"has the columns \['pixel0'"),
    (lambda t: t["train.csv"].assign(pixel5=300), "outside 0-255"),
    (lambda t: t["train.csv"].assign(label=12), "labels outside 0-9"),
    (lambda t: t["train.csv"].head(0), r"train.csv has no rows, only its header.*download it again"),
])
def test_a_file_not_in_kaggles_layout_says_so(change, message):
    tables = real_tables()
    tables["train.csv"] = change(tables)
    write_zip(data_dir() / COMP / f"{COMP}.zip", tables)
    with pytest.raises(csvc.CompetitionFileError, match=message):
        dr.get("auto")  # bad real data is not hidden behind the stand-in


@pytest.mark.parametrize("mode", ["full", "sample"])
def test_a_sample_submission_with_other_columns_is_refused(mode):
    tables = real_tables()
    tables["sample_submission.csv"] = tables["sample_submission.csv"][["Label", "ImageId"]]
    write_zip(data_dir() / COMP / f"{COMP}.zip", tables)
    with pytest.raises(csvc.CompetitionFileError) as err:
        dr.get(mode)  # not ids of '0' for every test image
    assert str(err.value).startswith(f"{data_dir() / COMP / 'sample_submission.csv'} has the"
                                     " columns ['Label', 'ImageId']")
    assert "Download it again" in str(err.value)


def test_a_folder_without_the_three_files_says_which_are_missing():
    write_zip(data_dir() / COMP / f"{COMP}.zip", {"train.csv": real_tables()["train.csv"]})
    with pytest.raises(csvc.CompetitionFileError, match=r"lacks \['test.csv', 'sample_submission.csv'\]"):
        dr.get("full")


def test_auto_without_credentials_uses_the_standin_in_the_same_layout(capsys):
    data = dr.get("auto")
    assert capsys.readouterr().out == ""  # get prints nothing: the record says why, and what
    said = str(data)
    assert said.index("Could not get Kaggle's Digit Recognizer") < said.index("STAND-IN DATA")
    assert said.index("STAND-IN DATA") < said.index(data.summary)
    assert data.standin and data.mode == "standin" and is_standin(data.path)
    assert data.path == standin_dir() / COMP
    # Kaggle's headers, and scikit-learn's 1,797 digits split 70/30
    assert pd.read_csv(data.path / "train.csv", nrows=0).columns.tolist() == ["label", *dr.PIXELS]
    assert pd.read_csv(data.path / "test.csv", nrows=0).columns.tolist() == dr.PIXELS
    assert data.info["counts"] == {"train": 1131, "valid": 126, "test": 540}
    assert data.test_ids[:3] == ["1", "2", "3"] and len(data.test_ids) == 540


def test_the_standin_is_learnable_and_a_submission_is_scored_against_its_labels(tmp_path, capsys):
    from sklearn.neighbors import KNeighborsClassifier
    data = dr.get("standin")
    assert capsys.readouterr().out == ""
    assert "STAND-IN DATA: Kaggle's Digit Recognizer" in str(data) and "Could not get" not in str(data)
    x, y = data["train"]
    model = KNeighborsClassifier(3).fit(x.reshape(len(x), -1) / 255, y)
    xv, yv = data["valid"]
    assert model.score(xv.reshape(len(xv), -1) / 255, yv) > 0.9
    digits = model.predict(data["test"].reshape(len(data["test"]), -1) / 255)
    out = dr.submission(data, digits, tmp_path / "submission.csv")
    assert pd.read_csv(out).columns.tolist() == ["ImageId", "Label"]
    assert out.read_text().splitlines()[1] == f"1,{digits[0]}"  # whole numbers, not 3.0
    accuracy = csvc.score_standin(out, data.path, lambda t, p: np.mean(t == p))
    assert accuracy > 0.9


def test_valid_size_is_a_share_or_a_count():
    write_zip(data_dir() / COMP / f"{COMP}.zip", real_tables())
    assert len(dr.get("full", valid_size=7)["valid"][1]) == 7
    assert len(dr.get("full", valid_size=0.3)["valid"][1]) == 15
    with pytest.raises(ValueError, match="valid_size=50"):
        dr.get("full", valid_size=50)  # nothing left to train on


def test_a_changed_setting_or_drawing_remakes_the_standin_and_leaves_real_data_alone(monkeypatch):
    """The one freshness rule, through get: another setting or drawing code draws the stand-in
    anew; the real competition folder is never touched, nor taken for a stand-in."""
    real = write_zip(data_dir() / COMP / f"{COMP}.zip", real_tables()).parent
    before = {p.name: p.read_bytes() for p in real.iterdir()}
    old = dr.get("standin")
    marker = (old.path / "STANDIN.txt").read_text()
    assert dr.get("standin").info == old.info  # the same recipe: kept, as extracted
    half = dr.get("standin", standin=dr.Standin(test_size=0.5))
    half_marker = (half.path / "STANDIN.txt").read_text()
    assert half.path == old.path and half_marker != marker
    assert len(half["test"]) == 899 and len(half.test_ids) == 899
    draw = dr._draw

    def redrawn(dest, standin, seed):  # "an edit" to the drawing code
        draw(dest, standin, seed)
    monkeypatch.setattr(dr, "_draw", redrawn)
    again = dr.get("standin", standin=dr.Standin(test_size=0.5))
    assert (again.path / "STANDIN.txt").read_text() not in (marker, half_marker)
    assert np.array_equal(again["test"], half["test"])
    with pytest.raises(StandinError, match="not a stand-in"):
        dr.make_standin(real)
    assert {p.name: p.read_bytes() for p in real.iterdir()} == before


@pytest.mark.parametrize("labels, message", [
    (np.full(N_TEST, 10), r"not whole numbers in \[0, 1, .*, 9\]"),
    (np.full(N_TEST, 0.5), "not whole numbers"),
    (np.zeros(N_TEST - 1, int), "20 ids but 19 labels"),
])
def test_a_bad_submission_is_refused_and_nothing_written(tmp_path, labels, message):
    write_zip(data_dir() / COMP / f"{COMP}.zip", real_tables())
    data = dr.get("full")
    with pytest.raises(SubmissionError, match=message):
        dr.submission(data, labels, tmp_path / "submission.csv")
    assert not (tmp_path / "submission.csv").exists()
