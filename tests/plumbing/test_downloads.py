"""Every URL download of the kit, cut off half-way: one clear error, nothing trusted left, a retry works.

Each download (MovieLens, GloVe, the Nietzsche corpus, the Fisheries boxes, IMDB, MNIST) is run
against a loopback server that first cuts the connection half-way, with a Content-Length (the
client can tell) and without one (only the file's own check or hash can tell), then serves the
file whole.
"""
import hashlib
import io
import json
import traceback
import zipfile

import numpy as np
import pandas as pd
import pytest

from utils.datasets import fisheries as fi, glove, imdb, mnist, movielens as ml, text as textdata
from utils.download import PART, DownloadError, download

from loopback import serve

CORPUS = "It was the best of times, it was the worst of times. " * 200


def _zip(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in members.items():
            z.writestr(name, text)
    return buf.getvalue()


def _ratings(n=300):
    rng = np.random.default_rng(0)
    return pd.DataFrame({"userId": rng.integers(1, 20, n), "movieId": rng.integers(1, 500, n),
                         "rating": rng.integers(1, 11, n) / 2,
                         "timestamp": rng.integers(1e9, 2e9, n)})


def _movielens(tmp_path, monkeypatch):
    df = _ratings()
    files = {"/ml-latest-small.zip": _zip({"ml-latest-small/ratings.csv": df.to_csv(index=False),
                                           "ml-latest-small/movies.csv": "movieId,title,genres\n"})}

    def run(server, cache):
        folder = ml.download(server.url("/ml-latest-small.zip"), cache_dir=cache, rows=(100, 1000))
        pd.testing.assert_frame_equal(pd.read_csv(folder / "ratings.csv"), df)
    return files, run, "ml-latest-small.zip"


def _glove(tmp_path, monkeypatch):
    words = [f"w{i}" for i in range(400)]
    text = "".join(f"{w} {i / 10:.1f} 0.5\n" for i, w in enumerate(words))
    files = {"/glove.6B.zip": _zip({"glove.6B.50d.txt": text, "glove.6B.100d.txt": text})}

    def run(server, cache):
        path = glove.download_glove(50, server.url("/glove.6B.zip"), cache, expected_words=400)
        assert glove.load_glove(path, 2, 400)[0] == words
    return files, run, "glove.6B.zip"


def _text(tmp_path, monkeypatch):
    files = {"/nietzsche.txt": CORPUS.encode()}

    def run(server, cache):
        got = textdata.download_nietzsche(server.url("/nietzsche.txt"), cache,
                                          min_chars=len(CORPUS) - 100)
        assert got == CORPUS
    return files, run, "nietzsche.txt"


def _boxes(tmp_path, monkeypatch):
    body = json.dumps([{"filename": "img_1.jpg", "annotations": []}] * 50).encode()
    name, (attachment, _) = next(iter(fi.BOX_FILES.items()))
    boxes = {name: (attachment, hashlib.md5(body).hexdigest())}

    def run(server, cache):
        folder = fi.download_boxes(cache, base_url=server.url(""), files=boxes)
        assert (folder / name).read_bytes() == body
    return {f"/{attachment}/{name}": body}, run, name


def _imdb(tmp_path, monkeypatch):
    made = imdb.make_standin(tmp_path / "made", imdb.Standin(30, 20))
    bodies = {n: (made / n).read_bytes() for n in imdb.FILES}
    hashes = {"imdb.npz": hashlib.sha256(bodies["imdb.npz"]).hexdigest(),
              "imdb_word_index.json": hashlib.md5(bodies["imdb_word_index.json"]).hexdigest()}

    def run(server, cache):
        folder = imdb.download(server.url("/"), cache, files=hashes)
        train, _, word_index = imdb.load_real(100, folder)
        assert len(train[0]) == 30 and word_index == json.loads(bodies["imdb_word_index.json"])
    return {f"/{n}": b for n, b in bodies.items()}, run, "imdb.npz"


def _mnist(tmp_path, monkeypatch):
    buf = io.BytesIO()
    np.savez(buf, x_train=np.ones((50, 28, 28), np.uint8), y_train=np.arange(50) % 10,
             x_test=np.zeros((10, 28, 28), np.uint8), y_test=np.arange(10))
    body = buf.getvalue()
    monkeypatch.setattr(mnist, "FILE_HASH", hashlib.sha256(body).hexdigest())

    def run(server, cache):
        monkeypatch.setattr(mnist, "ORIGIN", server.url("/mnist.npz"))
        (x, _), _ = mnist.read(mnist.download(cache))
        assert x.shape == (50, 28, 28)
    return {"/mnist.npz": body}, run, "mnist.npz"


DOWNLOADS = {"movielens": _movielens, "glove": _glove, "text": _text, "boxes": _boxes,
             "imdb": _imdb, "mnist": _mnist}


def _files(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize("cut", ["cut", "cut-unsized"])
@pytest.mark.parametrize("which", sorted(DOWNLOADS))
def test_a_cut_off_download_fails_clearly_keeps_nothing_and_a_retry_works(which, cut, tmp_path,
                                                                         monkeypatch):
    files, run, name = DOWNLOADS[which](tmp_path, monkeypatch)
    cache = tmp_path / "cache"
    with serve(files, mode=cut) as server:
        for attempt in range(2):  # a second cut-off run fails the same way: nothing was trusted
            with pytest.raises(DownloadError) as err:
                run(server, cache)
            message = str(err.value)
            assert name in message and server.url("/") in message
            assert "run again to retry" in message and "put it at" in message
            assert _files(cache) == [], f"{which}: a cut-off download left {_files(cache)}"
        server.mode = "good"
        run(server, cache)
        fetched = len(server.requests)
        run(server, cache)  # now cached: served without asking the server again
        assert len(server.requests) == fetched


@pytest.mark.parametrize("cut", ["cut", "cut-unsized"], ids=["cut-off", "truncated-zip"])
def test_a_failed_download_is_one_error_with_one_traceback(cut, tmp_path, monkeypatch):
    # The message already says which file and what to do: urllib's and Keras's tracebacks
    # chained above it would only bury that.
    files, run, _ = _movielens(tmp_path, monkeypatch)
    with serve(files, mode=cut) as server, pytest.raises(DownloadError) as err:
        run(server, tmp_path / "cache")
    assert err.value.__cause__ is None and err.value.__suppress_context__
    printed = "".join(traceback.format_exception(err.value))
    assert printed.count("Traceback (most recent call last)") == 1


def test_a_download_onto_a_folder_says_so_up_front_and_leaves_no_part_file(tmp_path):
    folder = tmp_path / "glove.6B.zip"
    (folder / "glove.6B.50d.txt").parent.mkdir()
    (folder / "glove.6B.50d.txt").write_text("mine")
    with serve({"/glove.6B.zip": b"x" * 1000}) as server:
        with pytest.raises(DownloadError) as err:
            download(server.url("/glove.6B.zip"), folder)
        assert server.requests == []  # refused before fetching anything
    message = str(err.value)
    assert f"{folder} is a folder" in message and "remove the folder" in message
    assert _files(tmp_path) == ["glove.6B.zip/glove.6B.50d.txt"]


def test_a_damaged_file_left_by_an_older_run_is_downloaded_again(tmp_path, monkeypatch):
    files, run, name = _movielens(tmp_path, monkeypatch)
    cache = tmp_path / "cache"
    cache.mkdir()
    body = files["/ml-latest-small.zip"]
    (cache / name).write_bytes(body[:len(body) // 2])  # as a cut-off download used to leave it
    with serve(files) as server, pytest.warns(UserWarning, match="downloading it again"):
        run(server, cache)
    assert (cache / name).read_bytes() == body


def test_download_keeps_a_hash_checked_file_and_refuses_a_wrong_one(tmp_path):
    body = b"some bytes" * 100
    good = hashlib.sha256(body).hexdigest()
    with serve({"/f.bin": body}) as server:
        with pytest.raises(DownloadError, match=f"sha256 must be {'0' * 64}"):
            download(server.url("/f.bin"), tmp_path / "f.bin", file_hash="0" * 64)
        assert _files(tmp_path) == []
        (tmp_path / ("f.bin" + PART)).write_bytes(b"half")  # a killed run's leftover
        assert download(server.url("/f.bin"), tmp_path / "f.bin", good).read_bytes() == body
        assert _files(tmp_path) == ["f.bin"]
        server.files.clear()  # cached and hash-valid: the server is not asked again
        assert download(server.url("/f.bin"), tmp_path / "f.bin", good).read_bytes() == body
    with pytest.raises(DownloadError, match="HTTP 404"):
        with serve({}) as server:
            download(server.url("/gone.bin"), tmp_path / "gone.bin")


def test_a_stalled_download_times_out_into_the_same_clear_error(tmp_path):
    with serve({"/f.bin": b"x" * 10_000}, mode="stall") as server:
        with pytest.raises(DownloadError, match="timed out") as err:
            download(server.url("/f.bin"), tmp_path / "f.bin", timeout=1)
    assert "put it at" in str(err.value) and _files(tmp_path) == []


def test_imagenet_class_names_cut_off_fall_back_to_placeholders_and_nothing_is_kept(
        tmp_path, monkeypatch):
    from utils.models import vgg16
    body = json.dumps({str(i): [f"n{i:08d}", f"class{i}"] for i in range(1000)}).encode()
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(vgg16, "CLASS_INDEX_MD5", hashlib.md5(body).hexdigest())
    with serve({"/imagenet_class_index.json": body}, mode="cut-unsized") as server:
        monkeypatch.setattr(vgg16, "CLASS_INDEX_URL", server.url("/imagenet_class_index.json"))
        assert vgg16.imagenet_classes()[:2] == ["imagenet_0", "imagenet_1"]
        assert _files(tmp_path) == []
        server.mode = "good"
        assert vgg16.imagenet_classes()[:2] == ["class0", "class1"]
