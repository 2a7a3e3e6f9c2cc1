"""utils/datasets/disastertweets.py: Kaggle's CSV layout by every route fetch knows, the sample,
the stand-in, and a checked 0/1 submission.

Small CSVs in the real layout (`id,keyword,location,text,target`; `id,keyword,location,text`;
`id,target`), with the real file's awkward cells: empty keywords and locations, commas and quotes
inside tweets, a tweet reading "NA".
"""
import os
import stat
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import utils.datasets.disastertweets as dt
import utils.kaggle as kg
from utils.datasets import csvcompetition as csvc
from utils.datasets.standin import StandinError, is_standin
from utils.kaggle import SubmissionError
from utils.paths import data_dir, standin_dir

COMP = dt.COMPETITION

pytestmark = pytest.mark.usefixtures("no_kaggle_api")

TRAIN = ('id,keyword,location,text,target\n'
         '1,,,Our Deeds are the Reason of this #earthquake May ALLAH Forgive us all,1\n'
         '4,,,Forest fire near La Ronge Sask. Canada,1\n'
         '5,,,"All residents asked to \'shelter in place\' are being notified by officers, ok",1\n'
         '23,,,What\'s up man?,0\n'
         '24,,,I love fruits,0\n'
         '48,ablaze,Birmingham,@bbcmtd Wholesale Markets ablaze http://t.co/lHYXEOHY6C,1\n'
         '49,ablaze,"Est. September 2012 - Bristol","We always try to bring the ""heavy"". #metal",0\n'
         '50,ablaze,AFRICA,#AFRICANBAZE: Breaking news:Nigeria flag set ablaze in Aba.,1\n'
         '52,ablaze,"Philadelphia, PA",Crying out for more! Set me ablaze,0\n'
         '53,body%20bags,London. UK,NA,0\n')
TEST = ('id,keyword,location,text\n'
        '0,,,Just happened a terrible car crash\n'
        '2,,,"Heard about #earthquake is different cities, stay safe everyone."\n'
        '3,,,"there is a forest fire at spot pond, geese are fleeing across the street"\n')
SAMPLE = "id,target\n0,0\n2,0\n3,0\n"


def real_files():
    return {"train.csv": TRAIN, "test.csv": TEST, "sample_submission.csv": SAMPLE}


def write_zip(path, files):
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return path


def assert_real(data, mode="full"):
    assert (data.standin, data.mode, data.name) == (False, mode, COMP)
    rows = pd.concat([data["train"], data["valid"]]).sort_values("id")
    assert rows["id"].tolist() == [1, 4, 5, 23, 24, 48, 49, 50, 52, 53]
    assert len(data["valid"]) == 2  # 15% of 10, rounded
    text = dict(zip(rows["id"], rows["text"]))
    assert text[5] == "All residents asked to 'shelter in place' are being notified by officers, ok"
    assert text[49] == 'We always try to bring the "heavy". #metal'
    assert text[53] == "NA"  # text, not a missing value
    where = dict(zip(rows["id"], rows["location"]))
    assert where[1] == "" and where[52] == "Philadelphia, PA"
    assert dict(zip(rows["id"], rows["keyword"]))[53] == "body%20bags"
    assert data["test"]["id"].tolist() == [0, 2, 3] and data.test_ids == ["0", "2", "3"]


def test_full_through_the_kaggle_api(monkeypatch):
    class Api:
        def competition_list_files(self, competition):
            raise ConnectionError("only a size hint")

        def competition_download_files(self, competition, path, quiet=False):
            write_zip(Path(path) / f"{competition}.zip", real_files())

    monkeypatch.setattr(kg.api, "connect", lambda: Api())
    assert_real(dt.get("full"))


def test_full_from_a_zip_downloaded_by_hand():
    write_zip(data_dir() / COMP / f"{COMP}.zip", real_files())
    data = dt.get("full")
    assert_real(data)
    assert not is_standin(data.path)


def test_auto_uses_the_read_only_kaggle_notebooks_mount_and_writes_nothing_there():
    mount = Path(os.environ["DL1_KAGGLE_INPUT"]) / COMP
    mount.mkdir(parents=True)
    for name, text in real_files().items():
        (mount / name).write_text(text)
    mount.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        data = dt.get("auto")
        sample = dt.get("sample", n_sample=(6, 2))
    finally:
        mount.chmod(stat.S_IRWXU)
    assert_real(data)
    assert sorted(p.name for p in mount.iterdir()) == sorted(real_files())
    assert sample.test_ids == ["0", "2"] and len(sample["train"]) + len(sample["valid"]) == 6
    assert sample.sample_submission.parent == data_dir() / COMP / "sample"


@pytest.mark.parametrize("files, message", [
    ({"train.csv": TRAIN.replace(",target\n", "\n", 1)}, "has the columns"),
    ({"train.csv": TRAIN.replace("I love fruits,0", "I love fruits,2")}, "other than 0 and 1"),
    ({"sample_submission.csv": "id,target\n0,0\n3,0\n2,0\n"}, "ids of test.csv and"),
    ({"train.csv": TRAIN[:TRAIN.index("\n") + 1]}, r"train.csv has no rows, only its header"),
    ({"sample_submission.csv": "target,id\n0,0\n0,2\n0,3\n"},
     r"sample_submission.csv has the columns \['target', 'id'\].*Download it again"),
    # cut in the last row: after its id (the tweet's text would be read as empty), inside a quote
    ({"test.csv": TEST[:TEST.rindex("3,,,") + 3]}, "test.csv ends in the middle of its last row"),
    ({"test.csv": TEST[:-20]}, "test.csv ends in the middle of its last row.*download it again"),
])
def test_files_not_in_kaggles_layout_say_so(files, message):
    write_zip(data_dir() / COMP / f"{COMP}.zip", real_files() | files)
    with pytest.raises(csvc.CompetitionFileError, match=message):
        dt.get("auto")  # bad real data is not hidden behind the stand-in


def test_files_without_a_final_newline_are_read_whole():
    # the last tweet spans two lines inside its quotes: its first line alone would look short
    test = TEST + '7,,,"Two lines,\nof one tweet"'
    sample = SAMPLE + "7,0"
    write_zip(data_dir() / COMP / f"{COMP}.zip",
              real_files() | {"test.csv": test, "sample_submission.csv": sample})
    data = dt.get("full")
    assert data["test"]["text"].iloc[-1] == "Two lines,\nof one tweet"
    assert data.test_ids == ["0", "2", "3", "7"]


def test_auto_without_credentials_uses_the_standin_in_the_same_layout(capsys):
    data = dt.get("auto")
    assert capsys.readouterr().out == ""  # get prints nothing: the record says why, and what
    said = str(data)
    assert said.index("Could not get Kaggle's Disaster Tweets") < said.index("STAND-IN DATA")
    assert said.index("STAND-IN DATA") < said.index(data.summary)
    assert data.standin and is_standin(data.path) and data.path == standin_dir() / COMP
    assert pd.read_csv(data.path / "train.csv", nrows=0).columns.tolist() == dt.TRAIN_COLUMNS
    assert pd.read_csv(data.path / "test.csv", nrows=0).columns.tolist() == dt.TEST_COLUMNS
    assert data.info["counts"] == {"train": 1275, "valid": 225, "test": 500}
    assert 0.35 < data.info["positive_share"] < 0.5  # the real file has 43% disasters
    train = data["train"]
    assert (train["keyword"] == "").any() and (train["location"] == "").any()
    assert train["location"].str.contains(",").any()  # quoted cells, as in the real file


def test_the_standin_is_learnable_and_a_submission_is_scored_with_f1(tmp_path, capsys):
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    data = dt.get("standin")
    assert capsys.readouterr().out == ""
    assert "STAND-IN DATA: Kaggle's Disaster Tweets" in str(data) and "Could not get" not in str(data)
    words = CountVectorizer().fit(data["train"]["text"])
    model = LogisticRegression(max_iter=500).fit(words.transform(data["train"]["text"]),
                                                 data["train"]["target"])
    valid = f1_score(data["valid"]["target"], model.predict(words.transform(data["valid"]["text"])))
    assert 0.8 < valid < 1.0  # learnable, but the flipped labels keep it from perfect
    labels = model.predict(words.transform(data["test"]["text"]))
    out = dt.submission(data, labels, tmp_path / "submission.csv")
    assert out.read_text().splitlines()[0] == "id,target"
    assert set(pd.read_csv(out)["target"]) <= {0, 1}
    assert csvc.score_standin(out, data.path, f1_score) > 0.8


def test_valid_size_is_a_share_or_a_count():
    write_zip(data_dir() / COMP / f"{COMP}.zip", real_files())
    assert len(dt.get("full", valid_size=3)["valid"]) == 3
    assert len(dt.get("full", valid_size=0.4)["valid"]) == 4


def test_a_changed_setting_or_drawing_remakes_the_standin_and_leaves_real_data_alone(monkeypatch):
    """The one freshness rule, through get: another setting or drawing code draws the stand-in
    anew; the real competition folder is never touched, nor taken for a stand-in."""
    real = write_zip(data_dir() / COMP / f"{COMP}.zip", real_files()).parent
    before = {p.name: p.read_bytes() for p in real.iterdir()}
    small = dt.Standin(n_train=40, n_test=10)
    old = dt.get("standin", standin=small)
    marker = (old.path / "STANDIN.txt").read_text()
    assert dt.get("standin", standin=small).info == old.info  # the same recipe: kept
    assert old.info["counts"] == {"train": 34, "valid": 6, "test": 10}
    other = dt.get("standin", standin=dt.Standin(n_train=60, n_test=20))
    other_marker = (other.path / "STANDIN.txt").read_text()
    assert other.path == old.path and other_marker != marker
    assert other.info["counts"] == {"train": 51, "valid": 9, "test": 20} and len(other.test_ids) == 20
    tweet = dt._tweet

    def redrawn(rng, templates):  # "an edit" to the drawing code
        return tweet(rng, templates)
    monkeypatch.setattr(dt, "_tweet", redrawn)
    again = dt.get("standin", standin=dt.Standin(n_train=60, n_test=20))
    assert (again.path / "STANDIN.txt").read_text() not in (marker, other_marker)
    pd.testing.assert_frame_equal(again["test"], other["test"])
    with pytest.raises(StandinError, match="not a stand-in"):
        dt.make_standin(real, small)
    assert {p.name: p.read_bytes() for p in real.iterdir()} == before


@pytest.mark.parametrize("labels, message", [
    (np.array([0.2, 0.9, 0.4]), r"not whole numbers in \[0, 1\]"),
    (np.array([0, 1, 2]), r"1 labels are not whole numbers"),
    (np.array([0, 1]), "3 ids but 2 labels"),
])
def test_a_bad_submission_is_refused_and_nothing_written(tmp_path, labels, message):
    write_zip(data_dir() / COMP / f"{COMP}.zip", real_files())
    data = dt.get("full")
    with pytest.raises(SubmissionError, match=message):
        dt.submission(data, labels, tmp_path / "submission.csv")
    assert not (tmp_path / "submission.csv").exists()


def test_submission_ids_in_another_order_are_written_in_the_samples(tmp_path):
    write_zip(data_dir() / COMP / f"{COMP}.zip", real_files())
    data = dt.get("full")
    out = kg.label_submission(["3", "0", "2"], np.array([1, 0, 1]), data.sample_submission,
                              tmp_path / "s.csv", (0, 1))
    assert out.read_text() == "id,target\n0,0\n2,1\n3,1\n"
