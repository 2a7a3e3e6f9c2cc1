"""utils/datasets/imdb.py: Keras's real loading path and the stand-in in exactly its format."""
import hashlib
import json

import keras
import keras.src.datasets.imdb as keras_imdb
import numpy as np
import pytest

from utils.datasets import imdb
from utils.datasets.standin import is_standin


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    return imdb.make_standin(tmp_path_factory.mktemp("imdb"), n_train=300, n_test=200)


def serve_keras_files_from(monkeypatch, folder, cache):
    """Point Keras's IMDB download at local files (file:// URLs, their own hashes)."""
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


def test_real_keras_path_reads_the_file_exactly_as_our_loader_does(standin, tmp_path, monkeypatch):
    fetched = serve_keras_files_from(monkeypatch, standin, tmp_path / "cache")
    (x_train, y_train), (x_test, y_test), word_index = imdb.load_real(num_words=200)
    assert fetched == ["imdb.npz", "imdb_word_index.json"]
    (ox_train, oy_train), (ox_test, oy_test) = imdb.load_npz(standin / "imdb.npz", 200)
    assert [list(r) for r in x_train] == [list(r) for r in ox_train]
    assert [list(r) for r in x_test] == [list(r) for r in ox_test]
    assert np.array_equal(y_train, oy_train) and np.array_equal(y_test, oy_test)
    assert word_index == json.loads((standin / "imdb_word_index.json").read_text())
    assert all(r[0] == imdb.START and max(r) < 200 for r in x_train)
    assert any(imdb.OOV in r for r in x_train)  # rarer words became "unknown"


def test_get_uses_keras_when_it_can_and_says_so_when_it_cannot(standin, tmp_path, monkeypatch):
    serve_keras_files_from(monkeypatch, standin, tmp_path / "cache")
    *_, word_index, is_standin_data = imdb.get("full", num_words=100)
    assert is_standin_data is False and len(word_index) > 100

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: no network")

    monkeypatch.setattr(keras_imdb, "get_file", offline)
    monkeypatch.setenv("DL1_DATA", str(tmp_path / "data"))
    with pytest.raises(RuntimeError, match="DATA='full'"):
        imdb.get("full")
    (x_train, y_train), (x_test, _), _, is_standin_data = imdb.get("auto", 1000, (200, 100))
    assert is_standin_data and len(x_train) == 200 and len(x_test) == 100
    assert (tmp_path / "data" / "standin" / "imdb" / "imdb.npz").exists()


def test_pad_truncates_keeping_the_start_and_fills_with_zeros_in_front():
    out = imdb.pad([[1, 5, 6], [1, 2, 3, 4, 5, 6, 7]], maxlen=5)
    assert out.dtype == np.int32
    assert out.tolist() == [[0, 0, 1, 5, 6], [1, 2, 3, 4, 5]]


def test_reviews_decode_to_words_and_their_cues_carry_the_label(standin):
    word_index = json.loads((standin / "imdb_word_index.json").read_text())
    (x_train, y_train), _ = imdb.load_npz(standin / "imdb.npz")
    text = imdb.decode_review(x_train[0], word_index)
    assert text.startswith("<start> ") and len(text.split()) == len(x_train[0])
    votes = []
    for ids, label in zip(x_train, y_train):
        words = imdb.decode_review(ids, word_index).split()
        score = sum(w in imdb.POSITIVE for w in words) - sum(w in imdb.NEGATIVE for w in words)
        if score:
            votes.append((score > 0) == bool(label))
    assert np.mean(votes) > 0.8  # learnable, but not trivially: a few cues point the other way
