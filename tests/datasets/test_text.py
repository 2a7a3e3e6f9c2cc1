"""utils/datasets/text.py, lesson 6's character windows, layouts and models (utils.lessons.lesson6),
and the helpers around them in utils/models/text.py."""
import functools
import http.server
import threading

import keras
import numpy as np
import pytest

from utils.datasets import text as textdata
from utils.datasets.standin import StandinError, is_standin
from utils.download import DownloadError
from utils.lessons import lesson6
from utils.models import text as tm
from utils.paths import data_dir
from utils.training import compile_model

CORPUS = "It was the best of times, it was the worst of times. " * 40


@pytest.fixture
def served(tmp_path):
    """A loopback HTTP server (127.0.0.1 only) serving tmp_path/www."""
    www = tmp_path / "www"
    www.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield www, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_real_download_path_fetches_checks_and_caches(tmp_path, served):
    www, url = served
    (www / "nietzsche.txt").write_text(CORPUS, encoding="utf-8")
    cache = tmp_path / "cache"
    got = textdata.download_nietzsche(f"{url}/nietzsche.txt", cache, min_chars=1000)
    assert got == CORPUS
    assert (cache / "nietzsche" / "nietzsche.txt").read_text() == CORPUS
    (www / "nietzsche.txt").unlink()  # a second call uses the cache, not the network
    assert textdata.download_nietzsche(f"{url}/nietzsche.txt", cache, min_chars=1000) == CORPUS


def test_a_cut_short_download_is_refused_and_removed(tmp_path):
    src = tmp_path / "short.txt"
    src.write_text("too short", encoding="utf-8")
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError, match="cut short"):
        textdata.download_nietzsche(src.as_uri(), cache, min_chars=1000)
    assert not (cache / "nietzsche" / "nietzsche.txt").exists()


def test_sample_is_the_start_of_the_real_corpus_through_the_real_download(tmp_path, served,
                                                                          monkeypatch):
    www, url = served
    (www / "nietzsche.txt").write_text(CORPUS, encoding="utf-8")
    monkeypatch.setenv("DL1_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(textdata, "MIN_CHARS", 1000)
    full = textdata.get("full", origin=f"{url}/nietzsche.txt")
    sample = textdata.get("sample", origin=f"{url}/nietzsche.txt", n_sample=500)
    assert (full.standin, full.mode, sample.standin, sample.mode) == (False, "full", False, "sample")
    assert full["text"] == CORPUS and sample["text"] == CORPUS[:500]
    assert sample.path == full.path == tmp_path / "data" / "nietzsche" / "nietzsche.txt"
    assert "a sample of the real data, 500 characters" in str(sample)


def test_offline_auto_falls_back_to_the_marked_standin(tmp_path, capsys):
    missing = (tmp_path / "nowhere.txt").as_uri()
    data = textdata.get("auto", origin=missing)
    corpus = data["text"]
    assert data.standin and data.mode == "standin" and corpus == textdata.standin_text()
    assert len(corpus) > 300_000 and "statement" in corpus
    assert is_standin(data.path.parent) and data.path == textdata.make_standin()
    assert capsys.readouterr().out == ""  # get prints nothing: the record says it
    said = str(data)
    assert said.index("Could not get the Nietzsche corpus") < said.index("STAND-IN DATA") < said.index(data.summary)
    for mode in ("full", "sample"):
        with pytest.raises(DownloadError, match="put it at"):
            textdata.get(mode, origin=missing)
    with pytest.raises(ValueError, match="DATA must be"):
        textdata.get("nietzsche")


def test_get_standin_prints_nothing_and_its_record_says_what_it_is(capsys):
    data = textdata.get("standin")
    assert data.standin and data["text"] == textdata.standin_text()
    assert capsys.readouterr().out == ""
    assert "STAND-IN DATA" in str(data) and textdata.NIETZSCHE_URL in str(data)
    assert "Python's reference documentation" in str(data)


def test_real_data_goes_into_the_folder_path(tmp_path, served, monkeypatch, capsys):
    www, url = served
    (www / "nietzsche.txt").write_text(CORPUS, encoding="utf-8")
    monkeypatch.setattr(textdata, "MIN_CHARS", 1000)
    data = textdata.get("auto", path=tmp_path / "mine", origin=f"{url}/nietzsche.txt")
    assert (data.standin, data.path, data["text"]) == (False, tmp_path / "mine" / "nietzsche.txt", CORPUS)
    assert capsys.readouterr().out == "" and str(data) == data.summary  # no notes, no progress bar


def test_a_changed_drawing_remakes_the_standin_and_leaves_real_data_alone(tmp_path, monkeypatch):
    """The one freshness rule: another stand-in text (a new Python's documentation) is written
    anew; the real corpus's folder, and a folder without the marker, are never touched."""
    monkeypatch.setenv("DL1_DATA", str(tmp_path / "data"))
    real = data_dir() / "nietzsche"
    real.mkdir(parents=True)
    (real / "nietzsche.txt").write_text(CORPUS, encoding="utf-8")
    old = textdata.get("standin")
    marker = (old.path.parent / "STANDIN.txt").read_text()
    monkeypatch.setattr(textdata, "standin_text", lambda: "Another Python's documentation. " * 10)
    new = textdata.get("standin")
    assert new.path == old.path and (new.path.parent / "STANDIN.txt").read_text() != marker
    assert new["text"] == "Another Python's documentation. " * 10
    assert (real / "nietzsche.txt").read_text(encoding="utf-8") == CORPUS
    with pytest.raises(StandinError, match="no STANDIN.txt"):
        textdata.make_standin(real)  # a folder of real data is never drawn over
    assert sorted(p.name for p in real.iterdir()) == ["nietzsche.txt"]
    assert (real / "nietzsche.txt").read_text(encoding="utf-8") == CORPUS


def test_a_read_only_data_folder_is_one_clear_error_not_a_half_written_standin(tmp_path,
                                                                               monkeypatch,
                                                                               read_only):
    data = read_only(tmp_path / "data")
    monkeypatch.setenv("DL1_DATA", str(data))
    missing = (tmp_path / "nowhere.txt").as_uri()
    for mode in ("auto", "standin"):
        with pytest.raises(StandinError, match="Cannot write to") as caught:
            textdata.get(mode, origin=missing)
        assert str(data) in str(caught.value) and "DL1_DATA" in str(caught.value)
        assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert list(data.iterdir()) == []


def test_char_vocab_encode_decode_and_split():
    chars = textdata.char_vocab(CORPUS)
    assert chars == sorted(set(CORPUS))
    idx = textdata.encode(CORPUS, chars)
    assert idx.dtype == np.int32 and textdata.decode(idx, chars) == CORPUS
    assert textdata.indices_char(chars)[textdata.char_indices(chars)["w"]] == "w"
    with pytest.raises(ValueError, match="not in the alphabet"):
        textdata.encode("Zebra", chars)
    train, tune, test = textdata.split_text(idx, 0.1, 0.1)
    assert len(train) + len(tune) + len(test) == len(idx)
    assert np.array_equal(np.concatenate([train, tune, test]), idx)
    with pytest.raises(ValueError, match="too short"):
        textdata.split_text(idx[:5])


def char_model(model, lr=0.002):
    """A lesson 6 model compiled as the notes compile it: Adam at `lr`, sparse cross-entropy."""
    return compile_model(model, lr, "sparse_categorical_crossentropy")


def gru():
    """The section 5 GRU at toy size, with dropout, compiled."""
    return char_model(lesson6.char_rnn(vocab=5, n_fac=3, n_hidden=6, dropout=0.3))


def test_windows_for_next_char_models():
    idx = np.arange(20)
    x, y = lesson6.char_windows(idx, 3)
    assert x.shape == (17, 3) and list(x[0]) == [0, 1, 2] and y[0] == 3 and y[-1] == 19
    columns = lesson6.as_columns(x)
    assert len(columns) == 3 and columns[2].shape == (17, 1) and columns[2][0, 0] == 2
    xs, ys = lesson6.seq_windows(idx, 4, 2)
    assert list(xs[1]) == [2, 3, 4, 5] and list(ys[1]) == [3, 4, 5, 6]
    with pytest.raises(ValueError, match="no 3-character windows"):
        lesson6.char_windows(idx[:3], 3)


def test_stateful_layout_continues_each_row_in_the_next_batch():
    idx = np.arange(1000)
    x, y = lesson6.stateful_layout(idx, batch_size=4, cs=10)
    assert len(x) % 4 == 0 and np.array_equal(y, x + 1)
    batches = x.reshape(-1, 4, 10)
    for b in range(4):  # row b of batch i+1 starts where row b of batch i stopped
        assert np.all(batches[1:, b, 0] == batches[:-1, b, -1] + 1)
    with pytest.raises(ValueError, match="too short"):
        lesson6.stateful_layout(idx[:30], batch_size=4, cs=10)


def test_stateful_model_fits_and_its_state_resets_per_layer():
    keras.utils.set_random_seed(0)
    model = char_model(lesson6.stateful_model(vocab=5, batch_size=4, cs=6, n_fac=3, n_hidden=8))
    x, y = lesson6.stateful_layout(np.arange(400) % 5, batch_size=4, cs=6)
    model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0,
              callbacks=[tm.ResetStatesEachEpoch()])
    assert tm.reset_states(model) == 1
    first = model.predict(x[:4], batch_size=4, verbose=0)
    second = model.predict(x[:4], batch_size=4, verbose=0)  # the state carried over
    assert not np.allclose(first, second)
    assert tm.reset_states(model) == 1
    assert np.allclose(model.predict(x[:4], batch_size=4, verbose=0), first, atol=1e-6)


def test_the_stateless_twin_has_the_same_weights_and_forgets_between_batches():
    keras.utils.set_random_seed(0)
    stateful = lesson6.stateful_model(vocab=5, batch_size=4, cs=6, n_fac=3, n_hidden=8)
    stateless = lesson6.stateful_model(vocab=5, batch_size=4, cs=6, n_fac=3, n_hidden=8,
                                       stateful=False)
    assert [w.shape for w in stateful.weights] == [w.shape for w in stateless.weights]
    assert tm.reset_states(stateless) == 0
    x = (np.arange(48) % 5).reshape(8, 6)
    first = stateless.predict(x[:4], batch_size=4, verbose=0)
    assert np.allclose(stateless.predict(x[:4], batch_size=4, verbose=0), first)


def test_start_over_trains_as_a_freshly_built_model_would():
    x = np.random.default_rng(0).integers(0, 5, (32, 6))

    def trained(model):
        model.fit(x, x, batch_size=8, epochs=2, shuffle=False, verbose=0)
        return model.predict(x[:8], verbose=0)
    keras.utils.set_random_seed(3)
    fresh = trained(gru())
    used = gru()
    trained(used)  # trained once already: moved weights, Adam's moments, dropout's random state
    keras.utils.set_random_seed(3)
    again = trained(tm.start_over(used, gru()))
    assert np.allclose(again, fresh, atol=1e-5)
    assert float(keras.ops.convert_to_numpy(used.optimizer.learning_rate)) == pytest.approx(0.002)


def test_char_log2_probs_scores_every_char_after_the_burn_in_exactly_once():
    keras.utils.set_random_seed(0)
    model = lesson6.char_rnn(vocab=4, n_fac=3, n_hidden=6)
    idx = np.random.default_rng(0).integers(0, 4, 37)
    got = tm.char_log2_probs(model, idx, burn=5, score=6)
    assert got.shape == (37 - 5,)
    # brute force: char j is predicted after reading its window from the window's start,
    # and windows start `burn` chars before each block of `score` scored chars
    want = []
    for j in range(5, 37):
        start = 5 + (j - 5) // 6 * 6 - 5
        p = keras.ops.convert_to_numpy(model(idx[None, start:j]))[0, -1]
        want.append(np.log2(p[idx[j]]))
    assert np.allclose(got, want, atol=1e-5)


def test_small_char_models_build_and_sample():
    chars = list("abc ")
    m3 = lesson6.char3_model(4, n_fac=3, n_hidden=8)
    assert m3.predict([np.zeros((2, 1))] * 3, verbose=0).shape == (2, 4)
    unrolled = lesson6.unrolled_rnn(4, cs=5, n_fac=3, n_hidden=8)
    assert unrolled.predict(np.zeros((2, 5)), verbose=0).shape == (2, 4)
    seq = lesson6.simple_rnn_model(4, cs=5, n_fac=3, n_hidden=8, return_sequences=True)
    assert seq.predict(np.zeros((2, 5)), verbose=0).shape == (2, 5, 4)
    out = lesson6.sample_text(unrolled, "abcab", 7, chars, temperature=0.8, cs=5)
    assert out.startswith("abcab") and len(out) == 12 and set(out) <= set(chars)
    # one input per character, and a guess per step from which the last is kept
    assert len(lesson6.sample_text(m3, "abc", 4, chars, cs=3)) == 7
    again = lesson6.sample_text(seq, "abcab", 7, chars, temperature=0.8, cs=5, rng=np.random.default_rng(2))
    assert again == lesson6.sample_text(seq, "abcab", 7, chars, temperature=0.8, cs=5,
                                        rng=np.random.default_rng(2))
