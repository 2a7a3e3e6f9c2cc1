"""utils/datasets/glove.py: the real download path, careful loading, missing words, the stand-in."""
import gzip
import sys
import zipfile
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from utils.datasets import glove
from utils.datasets.standin import StandinError, is_standin
from utils.download import DownloadError
from utils.lessons.lesson5 import glove_matrix

WORDS = ["the", "good", "bad", "film", "great"]
SMALL = glove.Standin(n_docs=400, n_contexts=200, n_extra=5)  # a stand-in learnt in a moment


def only_keras_download_lines(out):
    """True when all printed is Keras's own line on trying a URL: nothing of the kit's."""
    return all(line.startswith("Downloading data from ") for line in out.splitlines())


def listing(folder):
    """Every file under a folder with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


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
    matrix, missing = glove_matrix(id_to_word, 9, words, vecs)
    assert matrix.shape == (9, 4) and matrix.dtype == np.float32
    assert np.all(matrix[0] == 0)
    assert np.allclose(matrix[4], vecs[0]) and np.allclose(matrix[5], vecs[1])  # lowercased
    assert np.allclose(matrix[7], vecs[4])
    assert missing == ["zyzzyva"]  # reserved ids and unnamed ids are not words
    assert not np.allclose(matrix[6], 0) and np.all(np.isfinite(matrix))
    again, _ = glove_matrix(id_to_word, 9, words, vecs)
    assert np.array_equal(matrix, again)  # seeded


def test_nearest_and_pca():
    words = ["a", "b", "c", "d"]
    vecs = np.array([[1, 0], [0.9, 0.1], [0, 1], [-1, 0]], dtype=np.float32)
    near = glove.nearest("a", words, vecs, 2)
    assert [w for w, _ in near] == ["b", "c"] and near[0][1] > 0.99
    with pytest.raises(KeyError, match="not among the 4 words loaded"):
        glove.nearest("zz", words, vecs)
    pts = glove.pca_2d(np.random.default_rng(0).normal(size=(20, 6)))
    assert pts.shape == (20, 2) and np.allclose(pts.mean(axis=0), 0, atol=1e-9)


def test_standin_has_the_real_format_carries_sentiment_and_leaves_some_words_out(tmp_path):
    vocab = [f"word{i}" for i in range(300)] + ["great", "superb", "awful", "boring", "film"]
    path = glove.make_standin(vocab, tmp_path / "glove", glove.Standin(n_extra=20), dim=50)
    assert path.name == "glove.6B.50d.txt" and is_standin(path.parent)
    words, vecs = glove.load_glove(path, 50)
    assert vecs.shape[1] == 50
    assert {"great", "superb", "awful", "boring", "film"} <= set(words)
    left_out = set(vocab) - set(words)
    assert 0 < len(left_out) < 30
    assert glove.nearest("great", words, vecs, 1)[0][0] == "superb"
    assert glove.nearest("awful", words, vecs, 1)[0][0] == "boring"


def test_cooccurrence_counts_neighbours_by_distance_within_each_document():
    counts = glove.cooccurrence([["a", "b", "c"], ["c", "a"]], ["a", "b", "c"], window=2)
    assert counts[0, 1] == counts[1, 0] == 1.0      # a b: next to each other
    assert counts[0, 2] == counts[2, 0] == 1.5      # a _ c (1/2), then c a (1) in the second
    assert counts[1, 1] == 0 and counts[1, 2] == 1.0  # nothing crosses into the next document


def test_standin_vectors_are_learnt_and_rare_opinion_words_sit_with_their_side(tmp_path):
    """No vector is placed by hand: polarity comes from which words appear near which."""
    from utils.datasets import imdb
    vocab = list(imdb.POSITIVE + imdb.NEGATIVE + imdb.MOVIE_WORDS) + ["the", "not"]
    words, vecs = glove.load_glove(glove.make_standin(vocab, tmp_path / "g", glove.Standin(n_extra=5)), 50)
    assert 0.2 < vecs.std() < 0.6  # about GloVe 6B's spread
    lookup = {w: i for i, w in enumerate(words)}
    unit = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    centre = {side: unit[[lookup[w] for w in pool[:10]]].mean(0)
              for side, pool in (("+", imdb.POSITIVE), ("-", imdb.NEGATIVE))}
    rare = [(w, "+") for w in imdb.POSITIVE[30:]] + [(w, "-") for w in imdb.NEGATIVE[30:]]
    right = [unit[lookup[w]] @ centre[side] > unit[lookup[w]] @ centre["-" if side == "+" else "+"]
             for w, side in rare]
    assert np.mean(right) > 0.9  # the rare words' side, told by the common words' alone


def test_sample_is_the_most_frequent_real_words_through_the_real_download(tmp_path,
                                                                          monkeypatch):
    monkeypatch.setenv("DL1_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(glove, "GLOVE_6B_WORDS", len(WORDS))
    archive, vecs = make_zip(tmp_path, dim=50)
    full = glove.get("full", dim=50, origin=archive.as_uri())
    sample = glove.get("sample", dim=50, origin=archive.as_uri(), n_sample=3)
    assert (full.standin, full.mode, sample.standin, sample.mode) == (False, "full", False, "sample")
    assert full["words"] == WORDS and np.allclose(full["vectors"], vecs, atol=1e-6)
    assert sample["words"] == WORDS[:3] and np.allclose(sample["vectors"], vecs[:3], atol=1e-6)
    assert set(sample.parts) == set(full.parts) == {"words", "vectors"}
    assert "a sample of the real data, 3 words" in str(sample)
    mine = glove.get("full", dim=50, path=tmp_path / "mine", origin=archive.as_uri())
    assert mine.path == tmp_path / "mine" / "glove.6B.50d.txt" and mine["words"] == WORDS


def test_a_word_listed_twice_is_a_note_of_the_record_not_a_print(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DL1_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(glove, "GLOVE_6B_WORDS", len(WORDS) + 1)
    archive, _ = make_zip(tmp_path, words=WORDS + ["good"], dim=50)
    data = glove.get("full", dim=50, origin=archive.as_uri())
    assert data["words"] == WORDS
    assert "listed more than once" not in capsys.readouterr().out  # only Keras's progress
    assert data.notes == (f"{data.path}: 1 word(s) listed more than once (e.g. 'good'); the first "
                          "vector of each is kept, as fastText and gensim do.",)
    assert str(data).index("listed more than once") < str(data).index(data.summary)


def test_get_falls_back_offline_and_bad_dims_say_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DL1_DATA", str(tmp_path / "data"))
    nowhere = (tmp_path / "nowhere.zip").as_uri()
    data = glove.get("auto", dim=50, vocab_words=["great", "awful", "plot"], origin=nowhere,
                     standin=SMALL)
    assert data.standin and "great" in data["words"] and data["vectors"].shape[1] == 50
    # get prints nothing of its own, the record says it; the one line is Keras's, trying the URL
    assert only_keras_download_lines(capsys.readouterr().out)
    said = str(data)
    assert said.index("Could not get GloVe, so using the stand-in") < said.index("nowhere.zip") \
        < said.index("STAND-IN DATA") < said.index(data.summary)
    for mode in ("full", "sample"):
        with pytest.raises(DownloadError, match="put it at"):
            glove.get(mode, dim=50, origin=nowhere)
    with pytest.raises(ValueError, match="vocab_words"):
        glove.get("standin", dim=100)
    with pytest.raises(ValueError, match="50, 100, 200 or 300"):
        glove.filename(64)


def test_get_standin_prints_nothing_and_its_record_carries_the_banner(tmp_path, monkeypatch,
                                                                     capsys):
    monkeypatch.setenv("DL1_DATA", str(tmp_path / "data"))
    data = glove.get("standin", vocab_words=["great", "awful", "plot"], standin=SMALL)
    assert (data.standin, data.mode) == (True, "standin") and is_standin(data.path.parent)
    assert data.path == tmp_path / "data" / "standin" / "glove" / "glove.6B.50d.txt"
    assert capsys.readouterr().out == ""
    assert "STAND-IN DATA" in str(data) and glove.GLOVE_URL in str(data)
    assert "Could not get" not in str(data)


def test_a_changed_drawing_setting_or_vocabulary_remakes_the_standin_and_leaves_real_data_alone(
        tmp_path, monkeypatch):
    """The one freshness rule, through get: other drawing code (the reviews' writing included),
    other settings or other words draw the stand-in anew; real GloVe files stay as they are."""
    monkeypatch.setenv("DL1_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(glove, "GLOVE_6B_WORDS", len(WORDS))
    archive, _ = make_zip(tmp_path, dim=50)
    real = glove.get("full", dim=50, origin=archive.as_uri()).path.parent
    before = listing(real)
    vocab = ["great", "awful", "plot"]
    old = glove.get("standin", vocab_words=vocab, standin=SMALL)
    marker = old.path.parent / "STANDIN.txt"

    def recipe():
        return marker.read_text().splitlines()[-1]
    first = recipe()
    assert glove.get("standin", vocab_words=vocab, standin=SMALL).path == old.path
    assert recipe() == first  # the same recipe: kept
    seen = {first}
    for change in (dict(vocab_words=vocab + ["film"]), dict(standin=replace(SMALL, drop=0.5)),
                   dict(seed=1)):
        new = glove.get("standin", **{"vocab_words": vocab, "standin": SMALL, **change})
        assert new.path == old.path and recipe() not in seen
        seen.add(recipe())
    monkeypatch.setattr(glove, "DRAWING", (*glove.DRAWING, glove.pca_2d))  # "edit" the drawing
    glove.get("standin", vocab_words=vocab, standin=SMALL)
    assert recipe() not in seen
    with pytest.raises(StandinError, match="not a stand-in"):
        glove.make_standin(vocab, real, SMALL)  # real data where a stand-in would go: refused
    assert listing(real) == before


# ---------------------------------------------------------------------------------------------
# fastText's .vec(.gz) format, read by the same loader

JA = ["の", "犬", "猫", "東京", "大阪", "食べる"]


def write_vec(path, words=JA, dim=5, header=True, gz=True, seed=1, extra=""):
    """A file as fastText writes it: a header `<words> <dim>`, each line ending in a space."""
    vecs = np.random.default_rng(seed).normal(size=(len(words), dim)).round(4)
    text = (f"{len(words)} {dim}\n" if header else "") + "".join(
        w + " " + "".join(f"{x} " for x in v) + "\n" for w, v in zip(words, vecs)) + extra
    data = text.encode("utf-8")
    path.write_bytes(gzip.compress(data) if gz else data)
    return vecs


@pytest.mark.parametrize("gz", [True, False])
def test_fasttext_files_load_with_their_header_gzip_or_not(tmp_path, gz):
    path = tmp_path / ("cc.ja.300.vec.gz" if gz else "cc.ja.300.vec")
    vecs = write_vec(path, gz=gz)
    words, got = glove.load_vectors(path)
    assert words == JA and got.dtype == np.float32 and np.allclose(got, vecs, atol=1e-6)
    assert glove.load_glove is glove.load_vectors  # one reader for both formats


def test_the_cap_stops_reading_so_the_rest_of_the_file_is_never_touched(tmp_path):
    path = tmp_path / "cc.ja.300.vec.gz"
    vecs = write_vec(path, extra="broken 1 2\n")  # line 8 would fail if it were read
    words, got = glove.load_vectors(path, limit=3)
    assert words == JA[:3] and got.shape == (3, 5) and np.allclose(got, vecs[:3], atol=1e-6)
    with pytest.raises(glove.GloveFileError, match="line 8: 2 numbers after 'broken', expected 5"):
        glove.load_vectors(path)


def test_a_cut_fasttext_file_is_refused(tmp_path):
    path = tmp_path / "cc.ja.300.vec.gz"
    write_vec(path)
    whole = gzip.decompress(path.read_bytes())
    # cut at a line end: only the header's count tells
    path.write_bytes(gzip.compress(whole[:whole.index("東京".encode())]))
    with pytest.raises(glove.GloveFileError, match="has 3 words, but its header promises 6"):
        glove.load_vectors(path)
    # the download itself cut short: gzip's stream ends early
    write_vec(path)
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(glove.GloveFileError, match="could not be read to the end"):
        glove.load_vectors(path)


def test_a_header_disagreeing_with_the_dim_asked_for_says_which_it_is(tmp_path):
    path = tmp_path / "cc.ja.300.vec.gz"
    write_vec(path, dim=5)
    with pytest.raises(glove.GloveFileError, match="holds 5-number vectors.*dim=5"):
        glove.load_vectors(path, dim=300)


def test_a_long_headerless_file_grows_its_buffer(tmp_path):
    words = [f"w{i}" for i in range(3000)]  # past the first guess of 1,024 rows
    path = tmp_path / "glove.6B.50d.txt"
    vecs = write_vec(path, words, dim=3, header=False, gz=False)
    got_words, got = glove.load_vectors(path, expected_words=3000)
    assert got_words == words and got.shape == (3000, 3) and np.allclose(got, vecs, atol=1e-6)


def test_a_word_listed_twice_keeps_its_first_vector_as_fasttext_and_gensim_do(tmp_path, capsys):
    path = tmp_path / "cc.ja.300.vec.gz"
    vecs = write_vec(path, JA + ["犬"])  # cc.ja.300.vec lists some words twice
    words, got = glove.load_vectors(path)
    assert words == JA and np.allclose(got, vecs[:len(JA)], atol=1e-6)
    matrix, _ = glove_matrix({1: "犬"}, 2, words, got)
    assert np.allclose(matrix[1], vecs[1], atol=1e-6)
    assert "1 word(s) listed more than once (e.g. '犬'); the first vector of each" in capsys.readouterr().out


@pytest.mark.parametrize("dim", [None, 3])
def test_words_holding_spaces_as_in_glove_840b_load(tmp_path, dim):
    # GloVe 840B has words such as ". . ." and "at name@domain.com": the last `dim` fields are
    # the numbers, the rest is the word; one such word first must not change the dimension
    words = [". . .", "the", "at name@domain.com", ",", "of"]
    path = tmp_path / "glove.840B.300d.txt"
    vecs = write_vec(path, words, dim=3, header=False, gz=False)
    got_words, got = glove.load_vectors(path, dim, expected_words=5)
    assert got_words == words and np.allclose(got, vecs, atol=1e-6)


def test_a_headerless_file_of_another_dim_than_asked_for_says_which_it_is(tmp_path):
    path = tmp_path / "glove.6B.50d.txt"
    write_glove(path, dim=4)  # not read as words "the 0.1" with 3 numbers each
    with pytest.raises(glove.GloveFileError, match="holds 4-number vectors.*dim=4"):
        glove.load_vectors(path, dim=3)
    path.write_text("the\ngood\n")  # words alone: not vectors of no numbers
    with pytest.raises(glove.GloveFileError, match="no numbers after its words"):
        glove.load_vectors(path)


def test_get_fasttext_reads_the_real_file_up_to_the_cap(tmp_path, monkeypatch):
    monkeypatch.setenv("DL1_DATA", str(tmp_path / "data"))
    src = tmp_path / "src" / "cc.ja.300.vec.gz"
    src.parent.mkdir()
    vecs = write_vec(src)
    data = glove.get_fasttext("full", lang="ja", limit=4, origin=src.as_uri())
    assert (data.standin, data.mode, data["words"]) == (False, "full", JA[:4])
    assert np.allclose(data["vectors"], vecs[:4], atol=1e-6)
    assert data.path == tmp_path / "data" / "fasttext" / "cc.ja.300.vec.gz"
    assert glove.get_fasttext("sample", lang="ja", origin=src.as_uri(), n_sample=2)["words"] == JA[:2]
    mine = glove.get_fasttext("full", lang="ja", path=tmp_path / "mine", origin=src.as_uri())
    assert mine.path == tmp_path / "mine" / "cc.ja.300.vec.gz" and mine["words"] == JA
    assert glove.fasttext_url("ja").endswith("/vectors-crawl/cc.ja.300.vec.gz")
    with pytest.raises(ValueError, match="ISO code"):
        glove.fasttext_url("Japanese")


def test_a_download_that_is_not_fasttext_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("DL1_DATA", str(tmp_path / "data"))
    page = tmp_path / "cc.ja.300.vec.gz"
    page.write_text("<html>Access denied</html>")
    with pytest.raises(DownloadError, match="not a readable gzip|not fastText's header"):
        glove.get_fasttext("full", lang="ja", origin=page.as_uri())


def test_offline_the_standin_has_the_format_and_neighbours_make_sense(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DL1_DATA", str(tmp_path / "data"))
    data = glove.get_fasttext("auto", lang="ja", origin=(tmp_path / "nowhere.vec.gz").as_uri())
    assert data.standin and is_standin(data.path) and data["vectors"].shape[1] == 300
    assert only_keras_download_lines(capsys.readouterr().out)
    said = str(data)
    assert said.index("Could not get fastText's ja vectors, so using the stand-in") \
        < said.index("STAND-IN DATA") < said.index(data.summary)
    first = gzip.decompress(data.path.read_bytes()).decode().splitlines()[:2]
    assert first[0] == f"{len(data['words'])} 300" and first[1].startswith("犬 ") and first[1].endswith(" ")
    for word, group in [("犬", {"猫", "動物", "ペット"}), ("東京", {"大阪", "京都", "都市"})]:
        assert {w for w, _ in glove.nearest(word, data["words"], data["vectors"], 3)} == group


def test_get_fasttext_standin_prints_nothing_and_remakes_when_its_drawing_changes(tmp_path,
                                                                                  monkeypatch, capsys):
    """The one freshness rule for fastText's stand-in (before, a file there was kept whatever
    drew it): other settings or drawing code draw it anew; a real file is never touched."""
    monkeypatch.setenv("DL1_DATA", str(tmp_path / "data"))
    src = tmp_path / "src" / "cc.ja.300.vec.gz"
    src.parent.mkdir()
    write_vec(src)
    real = glove.get_fasttext("full", lang="ja", origin=src.as_uri()).path.parent
    before = listing(real)
    capsys.readouterr()  # Keras's download progress
    small = glove.FastTextStandin(dim=8, n_noise=10)
    old = glove.get_fasttext("standin", lang="ja", standin=small)
    assert capsys.readouterr().out == "" and "STAND-IN DATA" in str(old)
    assert old.path == tmp_path / "data" / "standin" / "fasttext" / "cc.ja.300.vec.gz"
    assert old["vectors"].shape == (16 + 10, 8)
    marker = (old.path.parent / "STANDIN.txt").read_text()
    bigger = glove.get_fasttext("standin", lang="ja", standin=glove.FastTextStandin(dim=8, n_noise=20))
    assert bigger["vectors"].shape == (16 + 20, 8)
    assert (old.path.parent / "STANDIN.txt").read_text() != marker
    marker = (old.path.parent / "STANDIN.txt").read_text()
    monkeypatch.setattr(glove, "_draw_fasttext", lambda dest, standin, lang, seed: write_vec(
        dest / f"cc.{lang}.300.vec.gz"))  # "edit" the drawing
    assert glove.get_fasttext("standin", lang="ja", standin=small)["words"] == JA
    assert (old.path.parent / "STANDIN.txt").read_text() != marker
    with pytest.raises(StandinError, match="not a stand-in"):
        glove.make_fasttext_standin(real, small)  # real data where a stand-in would go: refused
    assert listing(real) == before


def test_japanese_words_needs_fugashi_and_says_how_to_get_it(monkeypatch):
    monkeypatch.setattr(glove, "_tagger", None)
    monkeypatch.setitem(sys.modules, "fugashi", None)  # as if not installed
    with pytest.raises(ImportError, match="pip install fugashi unidic-lite"):
        glove.japanese_words("犬が好きです")


def test_japanese_words_returns_mecabs_surface_forms(monkeypatch):
    class Tagger:  # fugashi's interface: calling the tagger gives words with .surface
        def __call__(self, text):
            return [SimpleNamespace(surface=s) for s in ("犬", "が", "好き", "です")]
    monkeypatch.setattr(glove, "_tagger", None)
    monkeypatch.setitem(sys.modules, "fugashi", SimpleNamespace(Tagger=Tagger))
    assert glove.japanese_words("犬が好きです") == ["犬", "が", "好き", "です"]
