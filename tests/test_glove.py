"""utils/datasets/glove.py: the real download path, careful loading, missing words, the stand-in."""
import zipfile

import numpy as np
import pytest

from utils.datasets import glove
from utils.datasets.standin import is_standin
from utils.download import DownloadError

WORDS = ["the", "good", "bad", "film", "great"]


def write_glove(path, words=WORDS, dim=4, seed=0):
    rng = np.random.default_rng(seed)
    vecs = rng.normal(size=(len(words), dim)).round(4)
    path.write_text("".join(w + " " + " ".join(str(x) for x in v) + "\n"
                            for w, v in zip(words, vecs)), encoding="utf-8")
    return vecs


def make_zip(tmp_path, text_name="glove.6B.50d.txt", words=WORDS, dim=4):
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    vecs = write_glove(src / text_name, words, dim)
    archive = src / glove.ARCHIVE
    with zipfile.ZipFile(archive, "w") as z:
        z.write(src / text_name, text_name)
    return archive, vecs


def test_real_path_downloads_checks_extracts_and_loads(tmp_path):
    archive, vecs = make_zip(tmp_path)
    cache = tmp_path / "cache"
    path = glove.download_glove(50, archive.as_uri(), cache, expected_words=len(WORDS))
    assert path == cache / "glove" / "glove.6B.50d.txt"
    words, got = glove.load_glove(path, 4, expected_words=len(WORDS))
    assert words == WORDS and got.dtype == np.float32
    assert np.allclose(got, vecs, atol=1e-6)
    archive.unlink()  # cached: no second download
    assert glove.download_glove(50, archive.as_uri(), cache, expected_words=5) == path


def test_a_wrong_hash_is_refused(tmp_path):
    archive, _ = make_zip(tmp_path)
    with pytest.raises(DownloadError, match="sha256 must be 0{64}"):
        glove.download_glove(50, archive.as_uri(), tmp_path / "cache", file_hash="0" * 64,
                             expected_words=5)


def test_a_cut_short_archive_or_file_is_refused_and_the_archive_removed(tmp_path):
    archive, _ = make_zip(tmp_path)
    cut = tmp_path / "cut" / glove.ARCHIVE
    cut.parent.mkdir()
    cut.write_bytes(archive.read_bytes()[:-40])
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError, match="not a complete zip"):
        glove.download_glove(50, cut.as_uri(), cache, expected_words=5)
    assert not (cache / "glove" / glove.ARCHIVE).exists()
    assert not (cache / "glove" / "glove.6B.50d.txt").exists()
    # a whole archive whose file has fewer words than GloVe 6B's 400,000
    with pytest.raises(glove.GloveFileError, match="expected 400,000"):
        glove.download_glove(50, archive.as_uri(), cache)
    assert not (cache / "glove" / "glove.6B.50d.txt").exists()


@pytest.mark.parametrize("cut", [7, 30, 1])
def test_a_truncated_text_file_raises_instead_of_loading_part_of_it(tmp_path, cut):
    path = tmp_path / "glove.6B.50d.txt"
    write_glove(path)
    path.write_bytes(path.read_bytes()[:-cut])
    with pytest.raises(glove.GloveFileError, match="truncated"):
        glove.load_glove(path, 4)


def test_a_file_cut_at_a_line_end_is_caught_by_the_word_count(tmp_path):
    path = tmp_path / "g.txt"
    write_glove(path, WORDS[:3])
    assert len(glove.load_glove(path)[0]) == 3
    with pytest.raises(glove.GloveFileError, match="expected 5"):
        glove.load_glove(path, expected_words=5)


def test_glove_matrix_fills_known_words_and_counts_missing_ones(tmp_path):
    path = tmp_path / "g.txt"
    write_glove(path)
    words, vecs = glove.load_glove(path)
    id_to_word = {0: "<pad>", 1: "<start>", 2: "<unk>", 4: "the", 5: "Good", 6: "zyzzyva",
                  7: "great"}
    matrix, missing = glove.glove_matrix(id_to_word, 9, words, vecs)
    assert matrix.shape == (9, 4) and matrix.dtype == np.float32
    assert np.all(matrix[0] == 0)
    assert np.allclose(matrix[4], vecs[0]) and np.allclose(matrix[5], vecs[1])  # lowercased
    assert np.allclose(matrix[7], vecs[4])
    assert missing == ["zyzzyva"]  # reserved ids and unnamed ids are not words
    assert not np.allclose(matrix[6], 0) and np.all(np.isfinite(matrix))
    again, _ = glove.glove_matrix(id_to_word, 9, words, vecs)
    assert np.array_equal(matrix, again)  # seeded


def test_nearest_and_pca():
    words = ["a", "b", "c", "d"]
    vecs = np.array([[1, 0], [0.9, 0.1], [0, 1], [-1, 0]], dtype=np.float32)
    near = glove.nearest("a", words, vecs, 2)
    assert [w for w, _ in near] == ["b", "c"] and near[0][1] > 0.99
    with pytest.raises(KeyError, match="not in the GloVe"):
        glove.nearest("zz", words, vecs)
    pts = glove.pca_2d(np.random.default_rng(0).normal(size=(20, 6)))
    assert pts.shape == (20, 2) and np.allclose(pts.mean(axis=0), 0, atol=1e-9)


def test_standin_has_the_real_format_carries_sentiment_and_leaves_some_words_out(tmp_path):
    vocab = [f"word{i}" for i in range(300)] + ["great", "superb", "awful", "boring", "film"]
    path = glove.make_standin(vocab, tmp_path / "glove", dim=50, n_extra=20)
    assert path.name == "glove.6B.50d.txt" and is_standin(path.parent)
    words, vecs = glove.load_glove(path, 50)
    assert vecs.shape[1] == 50
    assert {"great", "superb", "awful", "boring", "film"} <= set(words)
    left_out = set(vocab) - set(words)
    assert 0 < len(left_out) < 30
    assert glove.nearest("great", words, vecs, 1)[0][0] == "superb"
    assert glove.nearest("awful", words, vecs, 1)[0][0] == "boring"


def test_sample_is_the_most_frequent_real_words_through_the_real_download(tmp_path,
                                                                          monkeypatch):
    monkeypatch.setenv("DL1_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(glove, "GLOVE_6B_WORDS", len(WORDS))
    archive, vecs = make_zip(tmp_path, dim=50)
    full = glove.get("full", 50, origin=archive.as_uri())
    sample = glove.get("sample", 50, origin=archive.as_uri(), n_sample=3)
    assert (full.standin, full.mode, sample.standin, sample.mode) == (False, "full", False, "sample")
    assert full["words"] == WORDS and np.allclose(full["vectors"], vecs, atol=1e-6)
    assert sample["words"] == WORDS[:3] and np.allclose(sample["vectors"], vecs[:3], atol=1e-6)
    assert set(sample.parts) == set(full.parts) == {"words", "vectors"}
    assert "a sample of the real data, 3 words" in str(sample)


def test_get_falls_back_offline_and_bad_dims_say_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DL1_DATA", str(tmp_path / "data"))
    nowhere = (tmp_path / "nowhere.zip").as_uri()
    data = glove.get("auto", 50, ["great", "awful", "plot"], origin=nowhere)
    assert data.standin and "great" in data["words"] and data["vectors"].shape[1] == 50
    assert "Could not get GloVe, so using the stand-in" in capsys.readouterr().out
    for mode in ("full", "sample"):
        with pytest.raises(DownloadError, match="put it at"):
            glove.get(mode, 50, origin=nowhere)
    with pytest.raises(ValueError, match="vocab_words"):
        glove.get("standin", 100)
    with pytest.raises(ValueError, match="50, 100, 200 or 300"):
        glove.filename(64)
