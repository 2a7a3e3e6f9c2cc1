"""utils/datasets/imdb.py: Keras's real loading path and the stand-in in exactly its format."""
import hashlib
import json
from collections import Counter

import keras
import keras.src.datasets.imdb as keras_imdb
import numpy as np
import pytest

from utils.datasets import imdb
from utils.datasets.standin import StandinError, is_standin
from utils.download import DownloadError

SMALL = imdb.Standin(n_train=200, n_test=100)  # a stand-in that draws in a moment


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    return imdb.make_standin(tmp_path_factory.mktemp("imdb"), imdb.Standin(n_train=300, n_test=200))


def serve_keras_files_from(monkeypatch, folder, cache):
    """Point Keras's own IMDB download at local files (file:// URLs, their own hashes)."""
    cache.mkdir(exist_ok=True)
    real_get_file = keras.utils.get_file
    fetched = []

    def get_file(fname, origin, file_hash=None, **kwargs):
        src = folder / origin.rsplit("/", 1)[-1]
        fetched.append(src.name)
        digest = hashlib.sha256(src.read_bytes()).hexdigest()
        return real_get_file(fname, src.as_uri(), file_hash=digest, cache_dir=str(cache))

    monkeypatch.setattr(keras_imdb, "get_file", get_file)
    return fetched


def serve_kit_files_from(monkeypatch, folder, tmp_path):
    """Point the kit's IMDB download at `folder` (file:// URL, its files' own hashes) and
    Keras's cache at tmp_path/keras."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(imdb, "BASE_URL", folder.as_uri() + "/")
    monkeypatch.setattr(imdb, "FILES", {
        "imdb.npz": hashlib.sha256((folder / "imdb.npz").read_bytes()).hexdigest(),
        "imdb_word_index.json": hashlib.md5((folder / "imdb_word_index.json").read_bytes()
                                            ).hexdigest()})
    return tmp_path / "keras" / "datasets"


def test_standin_has_keras_layout(standin):
    assert is_standin(standin)
    with np.load(standin / "imdb.npz", allow_pickle=True) as f:
        assert sorted(f.files) == ["x_test", "x_train", "y_test", "y_train"]
        assert f["x_train"].dtype == object and f["x_train"].shape == (300,)
        assert isinstance(f["x_train"][0], list) and len(f["x_test"]) == 200
        assert set(np.unique(f["y_train"])) == {0, 1}
        top = max(max(r) for r in f["x_train"])
    word_index = json.loads((standin / "imdb_word_index.json").read_text())
    assert sorted(word_index.values()) == list(range(1, len(word_index) + 1))
    assert top <= len(word_index)


def test_the_kit_reads_keras_files_exactly_as_keras_does(standin, tmp_path, monkeypatch):
    fetched = serve_keras_files_from(monkeypatch, standin, tmp_path / "cache")
    (kx_train, ky_train), (kx_test, ky_test) = keras.datasets.imdb.load_data(num_words=200)
    assert fetched == ["imdb.npz"]
    cache = serve_kit_files_from(monkeypatch, standin, tmp_path)
    data = imdb.get("full", num_words=200)
    (x_train, y_train), (x_test, y_test) = data["train"], data["test"]
    assert data.path == cache and (cache / "imdb.npz").is_file()
    assert [list(r) for r in x_train] == [list(r) for r in kx_train]
    assert [list(r) for r in x_test] == [list(r) for r in kx_test]
    assert np.array_equal(y_train, ky_train) and np.array_equal(y_test, ky_test)
    word_index = json.loads((standin / "imdb_word_index.json").read_text())
    assert data.info["word_index"] == word_index
    assert all(r[0] == imdb.START and max(r) < 200 for r in x_train)
    assert any(imdb.OOV in r for r in x_train)  # rarer words became "unknown"


def test_sample_is_the_first_real_reviews_through_the_real_download(standin, tmp_path,
                                                                    monkeypatch):
    serve_kit_files_from(monkeypatch, standin, tmp_path)
    full = imdb.get("full", num_words=100)
    sample = imdb.get("sample", num_words=100, n_sample=50)
    assert (full.standin, full.mode, sample.standin, sample.mode) == (False, "full", False, "sample")
    assert set(sample.parts) == set(full.parts) == {"train", "test"}
    for part in ("train", "test"):
        assert [list(r) for r in sample[part][0]] == [list(r) for r in full[part][0][:50]]
        assert np.array_equal(sample[part][1], full[part][1][:50])
    assert set(sample["train"][1]) == {0, 1}  # first after Keras's shuffle: both labels
    assert sample.info["word_index"] == full.info["word_index"]
    assert "a sample of the real data, 50 training and 50 test reviews" in str(sample)
    mine = imdb.get("full", num_words=100, path=tmp_path / "mine")  # a folder of one's own
    assert mine.path == tmp_path / "mine" and (tmp_path / "mine" / "imdb.npz").is_file()


def test_get_falls_back_to_the_standin_offline_and_full_refuses(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(imdb, "BASE_URL", (tmp_path / "nowhere").as_uri() + "/")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("DL1_DATA", str(tmp_path / "data"))
    for mode in ("full", "sample"):
        with pytest.raises(DownloadError, match="imdb.npz"):
            imdb.get(mode)
    capsys.readouterr()
    data = imdb.get("auto", num_words=1000, standin=SMALL)
    assert data.standin and len(data["train"][0]) == 200 and len(data["test"][0]) == 100
    # get prints nothing of its own, the record says it; the one line is Keras's, trying the URL
    assert [line for line in capsys.readouterr().out.splitlines()
            if not line.startswith("Downloading data from ")] == []
    said = str(data)
    assert said.index("Could not get the IMDB reviews, so using the stand-in") \
        < said.index("STAND-IN DATA") < said.index(data.summary)
    assert "imdb.npz" in said  # the download's own reason
    assert (tmp_path / "data" / "standin" / "imdb" / "imdb.npz").exists()


def test_get_standin_prints_nothing_and_its_record_carries_the_banner(tmp_path, monkeypatch,
                                                                     capsys):
    monkeypatch.setenv("DL1_DATA", str(tmp_path / "data"))
    data = imdb.get("standin", num_words=1000, standin=SMALL)
    assert (data.standin, data.mode) == (True, "standin") and is_standin(data.path)
    assert data.path == tmp_path / "data" / "standin" / "imdb"
    assert capsys.readouterr().out == ""
    assert "STAND-IN DATA" in str(data) and "DATA='full'" in str(data)
    assert "Could not get" not in str(data)  # asked for: no fallback to explain


def listing(folder):
    """Every file under a folder with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_changed_drawing_or_size_remakes_the_standin_and_leaves_real_data_alone(
        standin, tmp_path, monkeypatch):
    """The one freshness rule, through get: other drawing code or other sizes draw the stand-in
    anew; the real files in Keras's cache, and a folder of them without the marker, stay as
    they are."""
    monkeypatch.setenv("DL1_DATA", str(tmp_path / "data"))
    real = serve_kit_files_from(monkeypatch, standin, tmp_path)
    imdb.get("full", num_words=100)  # the real files, downloaded into Keras's cache
    before = listing(real)
    old = imdb.get("standin", standin=SMALL)
    marker = (old.path / "STANDIN.txt").read_text()
    assert imdb.get("standin", standin=SMALL).path == old.path
    assert (old.path / "STANDIN.txt").read_text() == marker  # the same recipe: kept
    monkeypatch.setattr(imdb, "DRAWING", (*imdb.DRAWING, imdb.pad))  # "edit" the drawing
    new = imdb.get("standin", standin=SMALL)
    assert new.path == old.path and (new.path / "STANDIN.txt").read_text() != marker
    bigger = imdb.get("standin", standin=imdb.Standin(n_train=250, n_test=100))
    assert len(bigger["train"][0]) == 250
    with pytest.raises(StandinError, match="not a stand-in"):
        imdb.make_standin(real, SMALL)  # real data where a stand-in would go: refused
    assert listing(real) == before


def test_pad_truncates_keeping_the_start_and_fills_with_zeros_in_front():
    out = imdb.pad([[1, 5, 6], [1, 2, 3, 4, 5, 6, 7]], maxlen=5)
    assert out.dtype == np.int32
    assert out.tolist() == [[0, 0, 1, 5, 6], [1, 2, 3, 4, 5]]


def _phrase_score(words):
    """Sentiment words counted +1/-1, flipped after "not" ("not funny or clever": both flip)."""
    score, negated = 0, False
    for w in words:
        polarity = (w in imdb.POSITIVE) - (w in imdb.NEGATIVE)
        if polarity:
            score += -polarity if negated else polarity
        elif w == imdb.NEGATION:
            negated = True
        elif w != "or":
            negated = False
    return score


def test_reviews_decode_to_words_and_their_cues_carry_the_label(standin):
    word_index = json.loads((standin / "imdb_word_index.json").read_text())
    (x_train, y_train), _ = imdb.load_npz(standin / "imdb.npz")
    text = imdb.decode_review(x_train[0], word_index)
    assert text.startswith("<start> ") and len(text.split()) == len(x_train[0])
    words_alone, phrases = [], []
    for ids, label in zip(x_train, y_train):
        words = imdb.decode_review(ids, word_index).split()
        score = sum(w in imdb.POSITIVE for w in words) - sum(w in imdb.NEGATIVE for w in words)
        if score:
            words_alone.append((score > 0) == bool(label))
        if (score := _phrase_score(words)):
            phrases.append((score > 0) == bool(label))
    # Counting words is right most of the time, but negation misleads it ("not boring" in a good
    # review); reading each phrase whole does clearly better, and a few mixed reviews remain.
    assert 0.65 < np.mean(words_alone) < np.mean(phrases) - 0.05
    assert 0.85 < np.mean(phrases) < 0.99


def test_opinions_come_in_phrases_with_a_long_tail_of_rare_words(standin):
    (x_train, _), _ = imdb.load_npz(standin / "imdb.npz")
    words = imdb.index_to_word(json.loads((standin / "imdb_word_index.json").read_text()))
    used = [words[i] for r in x_train for i in r if words.get(i) in imdb.POSITIVE]
    counts = np.array(sorted(Counter(used).values(), reverse=True))
    assert counts[0] > 10 * counts[-1]  # "great" is common, the last ones rare
    text = " ".join(imdb.decode_review(r, json.loads((standin / "imdb_word_index.json")
                                                     .read_text())) for r in x_train[:50])
    assert " was not " in text or " is not " in text


def test_writing_for_the_glove_standin_has_opinions_and_plain_prose():
    docs = imdb.writing(40, seed=3)
    opinions = [d for d in docs if set(d) & set(imdb.POSITIVE + imdb.NEGATIVE)]
    assert len(docs) == 40 and 15 <= len(opinions) <= 25
    assert docs == imdb.writing(40, seed=3) and docs != imdb.writing(40, seed=4)
