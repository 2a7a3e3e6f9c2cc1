"""utils/datasets/movielens.py: the get_file download path, the checks, the split, the stand-in."""
import functools
import http.server
import json
import threading
import zipfile
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from utils.datasets import is_standin, movielens as ml
from utils.datasets.standin import MARKER, StandinError
from utils.download import DownloadError
from utils.paths import data_dir, standin_dir

SMALL = ml.Standin(n_users=40, n_movies=30, n_factors=2, sigma=0.3, per_user=(10, 25))


@pytest.fixture(autouse=True)
def scratch_data(tmp_path, monkeypatch):
    monkeypatch.setenv("DL1_DATA", str(tmp_path / "data"))


def real_like_zip(folder, n=200, seed=0, columns=ml.COLUMNS):
    """A small zip laid out like grouplens's, with half-star ratings."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"userId": rng.integers(1, 20, n), "movieId": rng.integers(1, 500, n),
                       "rating": rng.integers(1, 11, n) / 2, "timestamp": rng.integers(1e9, 2e9, n)})
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "ml-latest-small.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("ml-latest-small/ratings.csv", df[list(columns)].to_csv(index=False))
        z.writestr("ml-latest-small/movies.csv", "movieId,title,genres\n1,Toy Story (1995),Comedy\n")
    return path, df


@pytest.fixture
def http_server(tmp_path):
    """A loopback HTTP server over tmp_path/www: the real download code, no internet."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_download_over_http_extracts_and_reads_a_real_layout(http_server, tmp_path):
    root, base = http_server
    _, df = real_like_zip(root)
    folder = ml.download(f"{base}/ml-latest-small.zip", cache_dir=tmp_path / "cache",
                         rows=(100, 1000))
    assert (folder / "ratings.csv").is_file()
    ratings, movies = ml.read(folder, rows=(100, 1000))
    pd.testing.assert_frame_equal(ratings, df)
    assert movies.title[0] == "Toy Story (1995)"
    assert not is_standin(folder)


def test_download_checks_a_pinned_hash(tmp_path):
    path, _ = real_like_zip(tmp_path / "src")
    with pytest.raises(DownloadError, match="hash"):
        ml.download(path.as_uri(), cache_dir=tmp_path / "cache", file_hash="0" * 64,
                    rows=(100, 1000))


def test_a_zip_without_ratings_is_refused_and_not_kept(tmp_path):
    (tmp_path / "src").mkdir()
    with zipfile.ZipFile(tmp_path / "src/ml-latest-small.zip", "w") as z:
        z.writestr("something/else.csv", "a,b\n1,2\n")
    with pytest.raises(DownloadError, match="No ratings.csv"):
        ml.download((tmp_path / "src/ml-latest-small.zip").as_uri(), cache_dir=tmp_path / "c")
    assert not (tmp_path / "c" / "ml-latest-small.zip").exists()


def test_sample_is_the_first_real_ratings_through_the_real_download(http_server, monkeypatch):
    root, base = http_server
    _, df = real_like_zip(root, n=300)
    monkeypatch.setattr(ml, "REAL_ROWS", (100, 1000))
    full = ml.get("full", origin=f"{base}/ml-latest-small.zip")
    sample = ml.get("sample", origin=f"{base}/ml-latest-small.zip", n_sample=120)
    assert (full.standin, full.mode, sample.standin, sample.mode) == (False, "full", False, "sample")
    pd.testing.assert_frame_equal(full["ratings"], df)
    pd.testing.assert_frame_equal(sample["ratings"], df.head(120))
    assert set(sample.parts) == set(full.parts) == {"ratings", "movies"}
    assert set(sample["movies"].movieId) <= set(sample["ratings"].movieId)
    assert "a sample of the real data, 120 ratings" in str(sample)


def good_ratings(n=100):
    return pd.DataFrame({"userId": np.arange(n) % 7 + 1, "movieId": np.arange(n) % 11 + 1,
                         "rating": (np.arange(n) % 10 + 1) / 2, "timestamp": np.arange(n) + 10**9})


@pytest.mark.parametrize("change, message", [
    (lambda d: d.drop(columns="timestamp"), "timestamp"),
    (lambda d: d.assign(rating=d.rating.astype(str) + "*"), "non-numeric"),
    (lambda d: d.assign(rating=d.rating.where(d.index != 3)), "missing"),
    (lambda d: d.assign(rating=d.rating + 0.25), "half-star"),
    (lambda d: d.assign(rating=d.rating * 2), "half-star"),
    (lambda d: d.head(10), "10 rows"),
])
def test_check_ratings_refuses_what_is_not_movielens(change, message):
    ml.check_ratings(good_ratings(), rows=(50, 200))
    with pytest.raises(ml.MovieLensError, match=message):
        ml.check_ratings(change(good_ratings()), rows=(50, 200))


def test_real_row_range_covers_both_known_releases():
    assert ml.REAL_ROWS[0] <= 100_004 and 100_836 <= ml.REAL_ROWS[1]


def test_split_keeps_every_validation_user_and_movie_in_training(capsys):
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"userId": rng.integers(0, 60, 400), "movieId": rng.integers(0, 150, 400),
                       "rating": 3.0, "timestamp": 0})
    train, valid, moved = ml.split(df, valid_size=0.3, seed=1)
    assert len(train) + len(valid) == len(df)
    assert valid.userId.isin(train.userId).all() and valid.movieId.isin(train.movieId).all()
    assert moved > 0  # 150 movies in 400 rows: some are rated once
    assert len(valid) + moved == 120  # 0.3 of 400 drawn, then the unseen moved back
    assert capsys.readouterr().out == ""  # counted, not printed
    train, valid, moved = ml.split(df, valid_size=50, seed=1)  # a count
    assert len(valid) + moved == 50 and len(train) + len(valid) == len(df)
    with pytest.raises(ValueError, match="valid_size"):
        ml.split(df, valid_size=1.0)


def test_standin_has_the_layout_and_gaussian_noise_of_known_sigma(tmp_path):
    dest = ml.make_standin(tmp_path / "s", SMALL, seed=3)
    with zipfile.ZipFile(dest / "ml-latest-small.zip") as z:
        assert {"ml-latest-small/ratings.csv", "ml-latest-small/movies.csv"} <= set(z.namelist())
        ratings = pd.read_csv(z.open("ml-latest-small/ratings.csv"))
    assert list(ratings.columns) == list(ml.COLUMNS)
    assert is_standin(tmp_path / "s")
    truth = np.load(tmp_path / "s/truth.npz")
    u = pd.Index(truth["user_ids"]).get_indexer(ratings.userId)
    m = pd.Index(truth["movie_ids"]).get_indexer(ratings.movieId)
    clean = (truth["mean"] + truth["user_bias"][u] + truth["movie_bias"][m]
             + np.sum(truth["user_factors"][u] * truth["movie_factors"][m], axis=1))
    noise = ratings.rating - clean
    assert abs(noise.mean()) < 0.05 and noise.std() == pytest.approx(SMALL.sigma, rel=0.08)
    assert json.loads((tmp_path / "s/truth.json").read_text())["n_ratings"] == len(ratings)


def test_get_standin_runs_the_download_path_and_says_so_in_its_record(capsys):
    data = ml.get("standin", standin=SMALL)
    ratings, movies, info = data["ratings"], data["movies"], data.info
    assert data.standin and data.mode == "standin" and info["sigma"] == SMALL.sigma
    assert len(ratings) == info["n_ratings"] and set(ratings.movieId) <= set(movies.movieId)
    assert info["origin"].startswith("file://")  # fetched through the download helper
    assert capsys.readouterr().out == ""  # get prints nothing: the record says it
    assert "STAND-IN DATA" in str(data) and ml.URL in str(data)
    again = ml.get("standin", standin=SMALL)
    assert "STAND-IN DATA" in str(again) and again.path == data.path  # every time, kept


def test_auto_falls_back_to_the_standin_offline_and_full_and_sample_refuse(tmp_path, capsys):
    nowhere = (tmp_path / "nowhere.zip").as_uri()
    data = ml.get("auto", standin=SMALL, origin=nowhere)
    assert data.standin and capsys.readouterr().out == ""
    said = str(data)
    assert said.index("Could not get MovieLens, so using the stand-in") < said.index("STAND-IN DATA") \
        < said.index(data.summary)
    for mode in ("full", "sample"):
        with pytest.raises(DownloadError, match="put it at"):
            ml.get(mode, origin=nowhere)


def listing(folder):
    """Every file under a folder with its bytes, and every folder's mtime."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() if p.is_file() else p.stat().st_mtime_ns
            for p in (folder, *folder.rglob("*"))}


def test_a_changed_drawing_or_setting_remakes_the_standin_and_leaves_real_data_alone(tmp_path,
                                                                                  monkeypatch):
    """The one freshness rule, through get: other drawing code or other settings draw the
    stand-in anew; the real download beside it, and a real folder in its place, are never touched."""
    zpath, _ = real_like_zip(tmp_path / "src", n=300)
    monkeypatch.setattr(ml, "REAL_ROWS", (100, 1000))
    real = ml.get("full", origin=zpath.as_uri())
    assert not real.standin and (data_dir() / "movielens").is_dir()
    before = listing(data_dir() / "movielens")
    old = ml.get("standin", standin=SMALL)
    marker = (standin_dir() / "movielens" / MARKER).read_text()
    ml.get("standin", standin=SMALL)
    assert (standin_dir() / "movielens" / MARKER).read_text() == marker  # the same recipe: kept

    def _standin_title(movie_id, factors, bias):  # an "edit" of the drawing code
        return f"Edited film {movie_id}"
    monkeypatch.setattr(ml, "_standin_title", _standin_title)
    new = ml.get("standin", standin=SMALL)
    assert (standin_dir() / "movielens" / MARKER).read_text() != marker
    assert new["movies"].title.str.startswith("Edited film").all()
    pd.testing.assert_frame_equal(new["ratings"], old["ratings"])  # same seed, same ratings
    other = ml.get("standin", standin=replace(SMALL, sigma=0.2))
    assert other.info["sigma"] == 0.2
    assert listing(data_dir() / "movielens") == before
    # A folder of real files where the stand-in goes is refused, and left as it is.
    with pytest.raises(StandinError, match=f"no {MARKER}"):
        ml.make_standin(data_dir() / "movielens", SMALL)
    assert listing(data_dir() / "movielens") == before
