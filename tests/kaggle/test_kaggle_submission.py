"""utils.kaggle.submission: submissions checked against the sample submission, and sent through
a fake API client.
"""
import errno
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import requests

import utils.kaggle as kg

from kaggle_fakes import COMP, SAMPLE, FakeApi, FakeResponse, assert_clean_error, use_api

pytestmark = pytest.mark.usefixtures("isolated")


# ---------------------------------------------------------------------------------------------
# Submissions


@pytest.fixture
def sample(tmp_path):
    path = tmp_path / "sample_submission.csv"
    path.write_text("id,label\n" + "".join(f"{i},0.5\n" for i in range(1, 6)))
    return path


def test_make_submission_writes_rows_in_sample_order_and_round_trips(tmp_path, sample, capsys):
    out = tmp_path / "subs" / "first.csv"
    ids = [3, 1, 5, 2, 4]
    probs = [0.3, 0.1, 0.5, 0.2, 0.4]
    assert kg.make_submission(ids, probs, sample, out) == out
    back = pd.read_csv(out)
    assert list(back.columns) == ["id", "label"]
    assert list(back["id"]) == [1, 2, 3, 4, 5]
    np.testing.assert_allclose(back["label"], [0.1, 0.2, 0.3, 0.4, 0.5])
    assert "5 rows" in capsys.readouterr().out
    assert [p.name for p in out.parent.iterdir()] == ["first.csv"]  # no temporary file left


def test_make_submission_matches_int_and_string_ids(tmp_path, sample):
    out = kg.make_submission(np.array([" 1", "2", "3 ", "4", "5"]), np.full(5, 0.5), sample,
                             tmp_path / "s.csv")
    assert list(pd.read_csv(out)["id"]) == [1, 2, 3, 4, 5]
    out = kg.make_submission(np.arange(1.0, 6.0), np.full(5, 0.5), pd.read_csv(sample),
                             tmp_path / "t.csv")
    assert list(pd.read_csv(out)["id"]) == [1, 2, 3, 4, 5]


GOOD = dict(ids=[1, 2, 3, 4, 5], probs=[0.1, 0.2, 0.3, 0.4, 0.5])
REFUSALS = [
    (dict(ids=[1, 2, 3, 4], probs=[0.1, 0.2, 0.3, 0.4]), "1 of the sample's 5 ids are missing (e.g. '5')"),
    (dict(ids=[1, 2, 3, 4, 4], probs=GOOD["probs"]), "ids appear more than once (e.g. '4')"),
    (dict(ids=[1, 2, 3, 4, 9], probs=GOOD["probs"]), "not in the sample (e.g. '9')"),
    (dict(ids=GOOD["ids"], probs=[0.1, np.nan, 0.3, 0.4, 0.5]), "1 predictions are NaN (ids '2')"),
    (dict(ids=GOOD["ids"], probs=[0.1, 0.2, np.inf, 0.4, 0.5]), "are infinite (ids '3')"),
    (dict(ids=GOOD["ids"], probs=[0.1, 0.2, 0.3, 1.4, -0.5]), "2 predictions lie outside [0, 1]"),
    (dict(ids=GOOD["ids"], probs=np.full((5, 2), 0.5)), "wrong columns"),
    (dict(ids=GOOD["ids"], probs=pd.DataFrame({"is_dog": GOOD["probs"]})), "wrong columns"),
    (dict(ids=GOOD["ids"], probs=[0.1, 0.2]), "5 ids but 2 rows"),
]


@pytest.mark.parametrize("args, reason", REFUSALS)
def test_make_submission_refuses_a_bad_submission_and_writes_nothing(tmp_path, sample, args, reason):
    out = tmp_path / "subs" / "bad.csv"
    with pytest.raises(kg.SubmissionError) as caught:
        kg.make_submission(args["ids"], args["probs"], sample, out)
    assert reason in str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert not out.exists()


def test_make_submission_lists_every_reason(tmp_path, sample):
    with pytest.raises(ValueError) as caught:
        kg.make_submission([1, 2, 2, 7], [0.1, np.nan, 0.3, 1.5], sample, tmp_path / "bad.csv")
    message = str(caught.value)
    for reason in ["missing", "more than once", "not in the sample", "NaN", "outside [0, 1]"]:
        assert reason in message
    assert not (tmp_path / "bad.csv").exists()


def test_make_submission_clips(tmp_path, sample):
    probs = [0.0, 1.0, 0.5, 0.99, 0.01]
    out = kg.make_submission(GOOD["ids"], probs, sample, tmp_path / "a.csv", clip=0.95)
    np.testing.assert_allclose(pd.read_csv(out)["label"], [0.05, 0.95, 0.5, 0.95, 0.05])
    out = kg.make_submission(GOOD["ids"], probs, sample, tmp_path / "b.csv", clip=(0.02, 0.98))
    np.testing.assert_allclose(pd.read_csv(out)["label"], [0.02, 0.98, 0.5, 0.98, 0.02])
    with pytest.raises(ValueError, match="infinite"):  # clipping must not hide an inf
        kg.make_submission(GOOD["ids"], [np.inf] * 5, sample, tmp_path / "c.csv", clip=0.95)


def test_make_submission_takes_2d_probabilities_for_a_multiclass_sample(tmp_path):
    columns = ["img"] + [f"c{i}" for i in range(10)]
    names = ["img_1.jpg", "img_10.jpg", "img_100.jpg"]
    sample = pd.DataFrame([[n] + [0.1] * 10 for n in names], columns=columns)
    probs = np.eye(10)[[3, 0, 9]]
    out = kg.make_submission(names[::-1], probs[::-1], sample, tmp_path / "sf.csv", clip=0.9)
    back = pd.read_csv(out)
    assert list(back.columns) == columns and list(back["img"]) == names
    np.testing.assert_allclose(back.loc[0, "c3"], 0.9)
    np.testing.assert_allclose(back.loc[0, "c0"], 0.1 / 9)
    np.testing.assert_allclose(back.loc[2, "c9"], 0.9)


def test_do_clip():
    np.testing.assert_allclose(kg.do_clip([0.0, 0.5, 1.0], 0.95), [0.05, 0.5, 0.95])
    clipped = kg.do_clip(np.eye(10), 0.9)
    np.testing.assert_allclose(clipped.max(axis=1), 0.9)
    np.testing.assert_allclose(clipped.min(axis=1), 0.1 / 9)
    np.testing.assert_allclose(kg.do_clip([[0.0], [1.0]], 0.9), [[0.1], [0.9]])  # one column: binary
    with pytest.raises(ValueError):
        kg.do_clip([0.5], 0.3)


def test_label_submission_writes_whole_labels_in_sample_order(tmp_path, sample, capsys):
    out = kg.label_submission([3, 1, 5, 2, 4], np.array([1, 0, 1, 1, 0]), sample,
                              tmp_path / "labels.csv", (0, 1))
    assert out.read_text() == "id,label\n1,0\n2,1\n3,1\n4,0\n5,1\n"
    assert "5 rows" in capsys.readouterr().out


@pytest.mark.parametrize("ids, labels, reason", [
    ([1, 2, 3, 4, 5], [0, 1, 0.5, 1, 0], "5 labels are not whole numbers in [0, 1] (e.g. 0.0, 1.0, 0.5, ...)"),
    ([1, 2, 3, 4, 5], [0, 1, 2, 1, 0], "1 labels are not whole numbers in [0, 1] (e.g. 2)"),
    ([1, 2, 3, 4, 4], [0, 1, 0, 1, 0], "ids appear more than once (e.g. '4')"),
    ([1, 2, 3, 4], [0, 1, 0, 1], "1 of the sample's 5 ids are missing (e.g. '5')"),
    ([1, 2, 3, 4, 5], [0, 1], "5 ids but 2 labels"),
])
def test_label_submission_refuses_bad_labels_and_writes_nothing(tmp_path, sample, ids, labels,
                                                                reason):
    out = tmp_path / "labels.csv"
    with pytest.raises(kg.SubmissionError, match="nothing written") as caught:
        kg.label_submission(ids, np.array(labels), sample, out, (0, 1))
    assert reason in str(caught.value)
    assert not out.exists()


# ---------------------------------------------------------------------------------------------
# submit


@pytest.fixture
def csv(tmp_path, sample):
    return kg.make_submission(GOOD["ids"], GOOD["probs"], sample, tmp_path / "sub.csv")


def test_submit_sends_the_file_through_the_api(monkeypatch, csv):
    api = use_api(monkeypatch, FakeApi(submit_result="accepted"))
    assert kg.submit(csv, COMP, "vgg16 fine-tuned") == "accepted"
    assert api.calls == [("submit", str(csv), "vgg16 fine-tuned", COMP)]


@pytest.mark.parametrize("error, expected", [
    (requests.exceptions.HTTPError("403", response=FakeResponse(403)), f"competitions/{COMP}/rules"),
    (requests.exceptions.ConnectionError("down"), "no network"),
])
def test_submit_maps_api_errors(monkeypatch, csv, error, expected):
    use_api(monkeypatch, FakeApi(error))
    with pytest.raises(kg.KaggleError, match=expected) as caught:
        kg.submit(csv, COMP, "try")
    assert_clean_error(caught.value)


def test_submit_reports_a_failed_upload(monkeypatch, csv):
    use_api(monkeypatch, FakeApi(submit_result=SimpleNamespace(message="Could not submit to competition")))
    with pytest.raises(kg.KaggleError, match="failed"):
        kg.submit(csv, COMP, "try")


def test_submit_refuses_a_missing_or_non_csv_file_before_calling_kaggle(tmp_path):
    with pytest.raises(kg.KaggleError, match="No submission file"):
        kg.submit(tmp_path / "nope.csv", COMP, "try")
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    with pytest.raises(kg.KaggleError, match="not a CSV"):
        kg.submit(notes, COMP, "try")


# ---------------------------------------------------------------------------------------------
# A full disk, a bad sample submission: nothing left behind, the file named


def test_a_submission_cut_short_by_a_full_disk_leaves_no_file(tmp_path, monkeypatch):
    sample = tmp_path / "sample.csv"
    sample.write_bytes(SAMPLE)
    real_to_csv = pd.DataFrame.to_csv

    def disk_full(self, path, *args, **kwargs):
        Path(path).write_text("id,lab")  # half a file, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(pd.DataFrame, "to_csv", disk_full)
    with pytest.raises(kg.KaggleError, match="disk is full"):
        kg.make_submission([1, 2], [0.1, 0.9], sample, tmp_path / "out" / "sub.csv")
    assert list((tmp_path / "out").iterdir()) == []
    monkeypatch.setattr(pd.DataFrame, "to_csv", real_to_csv)


@pytest.mark.parametrize("content, expected", [
    ("id,label\n1,0.5\nçà,0.5\n".encode("latin-1"), "not UTF-8"),
    (b"", "is empty"),
    (b"id\n1\n2\n", "1 column"),
])
def test_a_bad_sample_submission_says_what_is_wrong(tmp_path, content, expected):
    sample = tmp_path / "sample_submission.csv"
    sample.write_bytes(content)
    with pytest.raises(kg.SubmissionError, match=expected) as caught:
        kg.make_submission([1, 2], [0.1, 0.9], sample, tmp_path / "sub.csv")
    assert str(sample) in str(caught.value) and "fetch the competition's data again" in str(
        caught.value)
    assert not (tmp_path / "sub.csv").exists()
