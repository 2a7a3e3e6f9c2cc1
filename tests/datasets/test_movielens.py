"""utils/datasets/movielens.py: the get_file download path, the checks, the split, the stand-in."""
import functools
import http.server
import json
import threading
import zipfile

import numpy as np
import pandas as pd
import pytest

from utils.datasets import is_standin, movielens as ml
from utils.download import DownloadError

SMALL = {"n_users": 40, "n_movies": 30, "per_user": (10, 25), "n_factors": 2, "sigma": 0.3}


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
    train, valid = ml.split(df, valid_frac=0.3, seed=1)
    assert len(train) + len(valid) == len(df)
    assert valid.userId.isin(train.userId).all() and valid.movieId.isin(train.movieId).all()
    assert "Moved" in capsys.readouterr().out  # 150 movies in 400 rows: some are rated once
    assert 0.1 < len(valid) / len(df) < 0.3


def test_standin_has_the_layout_and_gaussian_noise_of_known_sigma(tmp_path):
    zpath = ml.make_standin(tmp_path / "s", **SMALL, seed=3)
    with zipfile.ZipFile(zpath) as z:
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
    assert abs(noise.mean()) < 0.05 and noise.std() == pytest.approx(SMALL["sigma"], rel=0.08)
    assert json.loads((tmp_path / "s/truth.json").read_text())["n_ratings"] == len(ratings)


def test_get_standin_runs_the_download_path_and_says_so(capsys):
    data = ml.get("standin", standin=SMALL)
    ratings, movies, info = data["ratings"], data["movies"], data.info
    assert data.standin and data.mode == "standin" and info["sigma"] == SMALL["sigma"]
    assert len(ratings) == info["n_ratings"] and set(ratings.movieId) <= set(movies.movieId)
    out = capsys.readouterr().out
    assert "STAND-IN DATA" in out and "file://" in out  # fetched through the download helper


def test_auto_falls_back_to_the_standin_offline_and_full_and_sample_refuse(tmp_path, capsys):
    nowhere = (tmp_path / "nowhere.zip").as_uri()
    assert ml.get("auto", standin=SMALL, origin=nowhere).standin
    assert "Could not get MovieLens, so using the stand-in" in capsys.readouterr().out
    for mode in ("full", "sample"):
        with pytest.raises(DownloadError, match="put it at"):
            ml.get(mode, origin=nowhere)
