"""Lesson 3: the MNIST stand-in and real download path, the SVC peer, and the notebook."""
import hashlib
import json

import numpy as np
import pytest

from utils.datasets import mnist
from utils.datasets.standin import StandinError, is_standin
from utils.download import DownloadError
from utils.paths import standin_dir
from utils.runner import policy_in_force, run_lesson


def test_standin_is_the_real_digits_upscaled_with_a_fixed_stratified_split(tmp_path):
    path = mnist.make_standin(tmp_path / "mnist")
    assert is_standin(path.parent)
    (x_trn, y_trn), (x_test, y_test) = mnist.read(path)
    assert x_trn.shape == (1257, 28, 28) and x_test.shape == (540, 28, 28)
    assert x_trn.dtype == np.uint8 and y_trn.dtype == np.uint8 and x_trn.max() > 200
    # Stratified: each digit keeps its share of the 1,797 in the 30% test set.
    shares = 0.3 * (np.bincount(y_trn) + np.bincount(y_test))
    assert np.all(np.abs(np.bincount(y_test) - shares) <= 1)
    # The same split as the SVC peer's: the upscaled test images are the raw test digits.
    _, _, raw_test, raw_y = mnist.digits_split()
    assert np.array_equal(raw_y, y_test)
    assert np.array_equal(mnist.upscale(raw_test[:5]), x_test[:5])
    # Made once: a second call reuses the file.
    stamp = path.stat().st_mtime_ns
    assert mnist.make_standin(tmp_path / "mnist").stat().st_mtime_ns == stamp


def test_upscale_keeps_the_digit_in_place():
    digit = np.zeros((8, 8))
    digit[:, 3:5] = 16  # a vertical bar in the middle
    big = mnist.upscale(digit[None])[0]
    assert big.shape == (28, 28) and big[:, 12:16].mean() > 150 and big[:, :6].max() == 0


def test_svc_peer_scores_the_published_figure():
    assert mnist.svc_peer() == pytest.approx(0.9944, abs=1e-4)


def _fake_mnist(path):
    rng = np.random.default_rng(0)
    np.savez(path, x_train=rng.integers(0, 255, (6, 28, 28), dtype=np.uint8),
             y_train=np.arange(6, dtype=np.uint8), x_test=np.zeros((2, 28, 28), np.uint8),
             y_test=np.array([1, 2], np.uint8))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_real_path_downloads_once_hash_checked_and_cached(tmp_path, monkeypatch, capsys):
    src = tmp_path / "server" / "mnist.npz"
    src.parent.mkdir()
    monkeypatch.setattr(mnist, "ORIGIN", src.as_uri())
    monkeypatch.setattr(mnist, "FILE_HASH", _fake_mnist(src))
    data = mnist.get("full", path=tmp_path / "keras")
    (x_trn, _), (_, y_test) = data["train"], data["test"]
    assert x_trn.shape == (6, 28, 28) and list(y_test) == [1, 2]
    cached = tmp_path / "keras" / "mnist.npz"
    assert cached.exists() and data.path == cached and data.mode == "full"
    assert data.notes == (f"Downloaded mnist.npz from {src.as_uri()}.",)
    src.unlink()  # the cache serves the second call
    data = mnist.get("auto", path=tmp_path / "keras")
    assert data.standin is False and data["train"][0].shape == (6, 28, 28) and data.notes == ()
    assert capsys.readouterr().out == ""  # get prints nothing, not even the download's progress


def test_sample_is_the_first_real_digits_through_the_real_download(tmp_path, monkeypatch):
    src = tmp_path / "server" / "mnist.npz"
    src.parent.mkdir()
    monkeypatch.setattr(mnist, "ORIGIN", src.as_uri())
    monkeypatch.setattr(mnist, "FILE_HASH", _fake_mnist(src))
    full = mnist.get("full", path=tmp_path / "keras")
    sample = mnist.get("sample", path=tmp_path / "keras", n_sample=(4, 1))
    assert (sample.standin, sample.mode) == (False, "sample")
    assert set(sample.parts) == set(full.parts) == {"train", "test"}
    for part, n in (("train", 4), ("test", 1)):
        assert np.array_equal(sample[part][0], full[part][0][:n])
        assert np.array_equal(sample[part][1], full[part][1][:n])
    assert "a sample of the real data, 4 training and 1 test digits" in str(sample)


def test_a_corrupt_download_is_refused_and_auto_falls_back(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DL1_DATA", str(tmp_path / "data"))
    src = tmp_path / "mnist.npz"
    _fake_mnist(src)
    monkeypatch.setattr(mnist, "ORIGIN", src.as_uri())
    monkeypatch.setattr(mnist, "FILE_HASH", "0" * 64)
    for mode in ("full", "sample"):
        with pytest.raises(DownloadError, match="sha256 must be 0{64}"):
            mnist.get(mode, path=tmp_path / "keras")
    assert not (tmp_path / "keras" / "mnist.npz").exists()
    data = mnist.get("auto", path=tmp_path / "keras")
    assert data.standin is True and data["test"][0].shape == (540, 28, 28)
    assert capsys.readouterr().out == ""  # get prints nothing: the record says why, and what
    said = str(data)
    assert said.index("Could not get MNIST, so using the stand-in") < said.index("sha256 must be")
    assert said.index("sha256 must be") < said.index("STAND-IN DATA") < said.index(data.summary)


def test_a_read_only_data_folder_is_one_clear_error(tmp_path, monkeypatch, read_only, capsys):
    data = read_only(tmp_path / "data")
    monkeypatch.setenv("DL1_DATA", str(data))
    monkeypatch.setattr(mnist, "ORIGIN", (tmp_path / "nowhere.npz").as_uri())
    with pytest.raises(StandinError, match="Cannot write to") as caught:
        mnist.get("auto", path=tmp_path / "keras")
    assert str(data) in str(caught.value) and "DL1_DATA" in str(caught.value)
    assert capsys.readouterr().out == ""
    assert list(data.iterdir()) == []


def test_get_standin_prints_nothing_and_its_record_carries_the_banner(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DL1_DATA", str(tmp_path / "data"))
    data = mnist.get("standin")
    assert capsys.readouterr().out == ""
    assert (data.standin, data.mode) == (True, "standin") and is_standin(data.path.parent)
    assert data.path == standin_dir() / "mnist" / "mnist.npz"
    said = str(data)
    assert "STAND-IN DATA: MNIST" in said and "~/.keras/datasets/mnist.npz" in said
    assert said.index("STAND-IN DATA") < said.index(data.summary)
    assert "Could not get" not in said  # asked for, not fallen back to
    assert "STAND-IN DATA" in str(mnist.get("standin"))  # every time, not only the first


def test_a_changed_drawing_or_setting_remakes_the_standin_and_leaves_real_data_alone(tmp_path,
                                                                                       monkeypatch):
    """The one freshness rule, through get: another drawing code or another setting draws the
    stand-in anew; a folder of real data (no marker) is never touched."""
    monkeypatch.setenv("DL1_DATA", str(tmp_path / "data"))
    real = tmp_path / "keras" / "mnist.npz"
    real.parent.mkdir()
    monkeypatch.setattr(mnist, "FILE_HASH", _fake_mnist(real))  # as if downloaded
    before = real.read_bytes()
    old = mnist.get("standin")
    marker = (old.path.parent / "STANDIN.txt").read_text()
    stamp = old.path.stat().st_mtime_ns
    assert mnist.get("standin").path.stat().st_mtime_ns == stamp  # the same recipe: kept
    original = mnist.upscale

    def upscale(digits, size=28):  # "an edit" to the drawing code
        return original(digits, size)
    monkeypatch.setattr(mnist, "upscale", upscale)
    new = mnist.get("standin")
    assert new.path == old.path and (new.path.parent / "STANDIN.txt").read_text() != marker
    assert np.array_equal(new["test"][0], old["test"][0])  # the same digits, drawn again
    smaller = mnist.get("standin", standin=mnist.Standin(test_size=0.25, size=14))
    assert smaller["train"][0].shape == (1347, 14, 14) and smaller.path == old.path
    with pytest.raises(StandinError, match="not a stand-in"):
        mnist.make_standin(real.parent)
    assert [p.name for p in real.parent.iterdir()] == ["mnist.npz"] and real.read_bytes() == before
    assert mnist.get("full", path=real.parent)["train"][0].shape == (6, 28, 28)


def test_read_rejects_a_file_that_is_not_mnist(tmp_path):
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(mnist.MnistError, match="not an MNIST file"):
        mnist.read(tmp_path / "other.npz")


@pytest.mark.notebook
def test_lesson3_runs_on_standin(tmp_path, monkeypatch):
    monkeypatch.setenv("DL1_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("DL1_PRECISION", "mixed_float16")  # as a T4 runs it (Colab, Kaggle)
    results = tmp_path / "results"
    ipynb, page = run_lesson("lesson3", {"DATA": "standin", "EPOCHS": 2, "AUG_EPOCHS": 1,
                                         "ENSEMBLE_EPOCHS": 2, "N_ENSEMBLE": 2,
                                         "N_HEADS": 3, "LAST_EPOCHS": 2,
                                         "LESSON2": str(tmp_path / "no-lesson2"),
                                         "RESULTS": str(results)}, tmp_path / "build")
    assert policy_in_force(ipynb) == "mixed_float16"  # setup() said so, in the notes
    s = json.loads((results / "summary.json").read_text())
    assert s["standin"] is True and s["mnist_standin"] is True
    assert s["svc_peer"] == pytest.approx(0.9944, abs=1e-4)
    # No lesson 2 results in the scratch folder: the notes say so and train the last layer here
    assert s["start"]["from_lesson2"] is False
    assert "fine-tuned model is not in" in page.read_text()
    assert s["start"]["val_accuracy"] > 0.6
    # Edge filters by hand: ours is SciPy's correlation and its convolution with the filter
    # flipped, not with the filter as it is; and two averages of pooled maps, with no training,
    # label the test 8s and 1s far better than always answering the commoner of the two.
    untrained = s["untrained_8_vs_1"]
    gaps = list(untrained["conv_gaps"].values())
    assert gaps[0] < 1e-5 and gaps[1] < 1e-5 and gaps[2] > 0.5, gaps
    assert untrained["n_test"] == int(np.isin(mnist.get("standin")["test"][1], (8, 1)).sum())
    assert untrained["accuracy"] > 0.8 and untrained["accuracy"] > untrained["commoner_share"] + 0.25
    assert untrained["accuracy_8s"] > 0.6 and untrained["accuracy_1s"] > 0.6, untrained
    # The ladder trains on the page, rung by rung; every rung learns digits far above chance
    # (0.1), and some rung after the linear model reads new digits better than it does.
    rungs = s["ladder"]["rungs"]
    assert list(rungs) == ["linear", "one hidden layer", "CNN", "CNN + augmentation",
                           "CNN + augmentation + batch norm", "CNN + augmentation + bn + dropout"]
    assert all(r["test_accuracy"] > 0.5 for r in rungs.values()), rungs
    assert max(r["test_accuracy"] for r in list(rungs.values())[1:]) > rungs["linear"]["test_accuracy"]
    dogs = s["dogscats"]
    assert set(dogs) == {"dropout 0.5", "no dropout", "batch norm", "batch norm + augmentation"}
    assert dogs["no dropout"]["val_accuracy"] > 0.7  # two classes: chance is 0.5
    assert all(0 <= v["val_accuracy"] <= 1 for v in dogs.values())
    # The dogs-vs-cats ensemble of heads: averaging probabilities cannot lose on log loss
    # (concavity of the log); on the stand-in it also matches or beats its average member
    ens = s["dogs_ensemble"]
    assert ens["n"] == 3 and len(ens["members"]) == len(ens["member_losses"]) == 3
    assert ens["loss"] <= np.mean(ens["member_losses"]) + 1e-6
    assert ens["accuracy"] >= np.mean(ens["members"])
    # The precompute speed-up is this run's own measure, printed in the notes
    pre = s["precompute"]
    ratio = pre["epoch_through_convs_s"] / pre["epoch_on_features_s"]
    assert pre["speedup"] == pytest.approx(ratio)
    assert f"{pre['speedup']:.1f} times faster per epoch" in page.read_text()
    # The claims cell: a panel per effect of lesson 3, measured with the notes' seed, captioned
    # in the notes, and a sentence with the course's figure for the effect it cannot show
    import html

    from utils import claims
    shown = html.unescape(page.read_text())
    assert all(claims._sentence(c.says) in shown for c in claims.claims(3))
    assert all(line in shown for line in claims.miss_sentences(3)) and claims.miss_sentences(3)
    ens = s["ensemble"]
    assert ens["accuracy"] >= np.mean(ens["members"])  # the ensemble beats its average member
    assert ens["n"] == 2 and len(ens["members"]) == 2 and s["n_test"] == 540
    assert ens["accuracy"] > 0.5
    assert ens["mistakes"] == round((1 - ens["accuracy"]) * 540)
    # Digit Recognizer's stand-in test digits are MNIST's stand-in test digits: the reused
    # ensemble's submission scores exactly its accuracy, so no row moved through the CSVs
    dr = s["digit_recognizer"]
    assert dr["standin"] is True and dr["overlap"] == 0 and not dr["retrained"]
    assert dr["rows"] == 540 and dr["accuracy"] == ens["accuracy"]
    assert (results / "train_convlayer_features.bc" / "array.npy").exists()
    assert "STAND-IN DATA" in page.read_text()


def test_claims_reuse_a_traced_model_yet_start_each_run_afresh(monkeypatch, float32_policy):
    """A run on the model traced once gives the figures a newly built model gives."""
    from utils.claims import lesson3
    monkeypatch.setitem(lesson3.FEW, "n_train", 64)
    monkeypatch.setitem(lesson3.FEW, "epochs", 2)
    kind = "small CNN + dropout"  # random layers too: their states must start afresh as well
    monkeypatch.setattr(lesson3, "_curved", lambda: {kind})  # its test accuracy after each epoch as well
    lesson3.train_figures.cache_clear()
    lesson3._traced_under.cache_clear()
    first = lesson3.train_figures(kind, 7)  # the kind's first model: built, traced, trained
    other = lesson3.train_figures(kind, 8)  # the same model trained again, from another start
    lesson3.train_figures.cache_clear()
    again = lesson3.train_figures(kind, 7)  # the reused model, given seed 7's start once more
    lesson3.train_figures.cache_clear()
    lesson3._traced_under.cache_clear()
    for key in ("train_accuracy", "test_accuracy", "train_loss", "test_loss", "curve"):
        assert again[key] == pytest.approx(first[key], abs=1e-6), key
    assert again["train_loss"] != other["train_loss"]  # seeds do differ, on the reused model too
    lesson3.train_figures.cache_clear()
    lesson3._traced_under.cache_clear()
