"""MovieLens `ml-latest-small` (lesson 4): the grouplens download, its checks, and a stand-in.

The real data is one zip from grouplens, fetched by `utils.download` into `data/movielens/` and
extracted beside it: `ml-latest-small/ratings.csv` (userId, movieId,
rating, timestamp) and `movies.csv` (movieId, title, genres). Today's release has 100,836 ratings
of 9,742 movies by 610 users; the course's copy (2016) had 100,004 ratings by 671 users.

No checksum is pinned. GroupLens calls ml-latest-small a *development* dataset that "may change
over time", and it already has changed under the same URL (the 2016 and 2018 releases above), so
a pinned hash would refuse every future release while proving nothing about it. Pass
`file_hash=` to `download` to pin the copy you have. What is always checked instead, before the
zip is kept: that it is whole, the columns of ratings.csv, that every value is a number, ratings on
the half-star scale 0.5-5, and a row count in a plausible range for this dataset. `DATA='sample'`
is the file's first 20,000 ratings.

The stand-in is written in the same zip and CSV layout and goes through the same download (from
a file:// URL) and checks. Its ratings are made from known low-rank factors plus Gaussian noise of
known standard deviation `sigma`, so no model can beat an RMSE of `sigma` on it and a good one
comes close; `truth.json` and `truth.npz` beside the zip hold the settings and the factors. Its
ratings are real numbers, not half stars, so that the noise stays exactly Gaussian.
"""
import json
import os
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from utils.datasets.base import Data, valid_count
from utils.datasets.standin import by_mode, is_standin, kind, made, with_banner
from utils.download import DownloadError, download as fetch
from utils.paths import data_dir, standin_dir

URL = "https://files.grouplens.org/datasets/movielens/ml-latest-small.zip"
NAME = "ml-latest-small"
COLUMNS = ("userId", "movieId", "rating", "timestamp")
REAL_ROWS = (80_000, 250_000)  # 100,004 (2016) and 100,836 (2018) ratings so far
STARS = (0.5, 5.0)
SAMPLE_RATINGS = 20_000  # DATA='sample': the first ratings of the file (all those of ~130 users)
HOW_TO_GET = (f"Real data: DATA='full' downloads {URL}\n"
              "(about 1 MB) into data/movielens/ on a machine with internet.")


class MovieLensError(ValueError):
    """A ratings file that is not MovieLens as expected; the message says what is wrong."""


def download(origin=URL, cache_dir=None, file_hash=None, rows=None, stars=True):
    """Download the zip (kept only once its ratings pass the checks), extract it; lesson 4.

    Returns the extracted folder holding ratings.csv. A cut-off or damaged download raises
    DownloadError and leaves no zip behind that the next run would trust.
    """
    return _download(origin, cache_dir, file_hash, rows, stars, quiet=False)


def _download(origin, cache_dir, file_hash, rows, stars, quiet):
    """`download`, with Keras's progress shown or not (`get` prints nothing)."""
    cache_dir = Path(cache_dir or data_dir() / "movielens")
    rows = REAL_ROWS if rows is None else rows
    zpath = fetch(origin, cache_dir / f"{NAME}.zip", file_hash=file_hash,
                  check=lambda path: check_zip(path, rows, stars), quiet=quiet)
    return find_folder(_extract(zpath, cache_dir / f"{NAME}_extracted"))


def check_zip(path, rows=REAL_ROWS, stars=True):
    """Raise MovieLensError unless a zip is whole and its ratings.csv passes check_ratings."""
    try:
        with zipfile.ZipFile(path) as z:
            found = [n for n in z.namelist() if n.rsplit("/", 1)[-1] == "ratings.csv"]
            if not found:
                raise MovieLensError(f"No ratings.csv in the zip (it holds {z.namelist()[:5]}): "
                                     f"it is not MovieLens {NAME}.")
            with z.open(min(found, key=len)) as f:  # a damaged member fails its CRC here
                check_ratings(pd.read_csv(f), rows, stars)
    except (zipfile.BadZipFile, EOFError, OSError) as err:
        raise MovieLensError(f"not a complete zip archive ({err})") from None


def _extract(zpath, dest):
    """Extract a zip to `dest` afresh, whole or not at all (a stale copy is replaced)."""
    part = dest.with_name(f".{dest.name}.part")
    shutil.rmtree(part, ignore_errors=True)
    with zipfile.ZipFile(zpath) as z:
        z.extractall(part)
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(part, dest)
    return dest


def find_folder(root):
    """The folder under `root` that holds ratings.csv, or an error saying what is there; lesson 4."""
    root = Path(root)
    found = sorted(root.rglob("ratings.csv"), key=lambda p: len(p.parts))
    if not found:
        raise MovieLensError(f"No ratings.csv under {root}: it is not MovieLens {NAME}. "
                             f"Delete {root}, then download again.")
    return found[0].parent


def check_ratings(ratings, rows=REAL_ROWS, stars=True):
    """Raise MovieLensError unless ratings have MovieLens's columns, values and size; lesson 4."""
    problems = []
    missing = [c for c in COLUMNS if c not in ratings.columns]
    if missing:
        problems.append(f"columns {missing} are missing (found {list(ratings.columns)})")
    else:
        for c in COLUMNS:
            if not pd.api.types.is_numeric_dtype(ratings[c]) or ratings[c].isna().any():
                problems.append(f"column {c!r} holds missing or non-numeric values")
        r = ratings["rating"]
        if stars and not problems and (~r.between(*STARS) | (r * 2 % 1 != 0)).any():
            problems.append(f"ratings outside the half-star scale {STARS[0]}-{STARS[1]}")
    if rows and not rows[0] <= len(ratings) <= rows[1]:
        problems.append(f"{len(ratings):,} rows, expected {rows[0]:,} to {rows[1]:,}")
    if problems:
        raise MovieLensError("ratings.csv is not as expected: " + "; ".join(problems) +
                             ". Delete the download and fetch it again.")
    return ratings


def read(folder, rows=REAL_ROWS, stars=True):
    """(ratings, movies) from an extracted folder, ratings checked; lesson 4."""
    folder = Path(folder)
    ratings = check_ratings(pd.read_csv(folder / "ratings.csv"), rows, stars)
    movies_csv = folder / "movies.csv"
    if movies_csv.exists():
        movies = pd.read_csv(movies_csv)
    else:  # titles are only for display; numbers stand in for them
        ids = np.unique(ratings["movieId"])
        movies = pd.DataFrame({"movieId": ids, "title": [f"movie {i}" for i in ids], "genres": ""})
    return ratings, movies


def split(ratings, valid_size=0.2, seed=0, user="userId", item="movieId"):
    """(train, valid, moved): a random split of `valid_size` ratings (share or count), less the
    `moved` validation ratings of users or movies absent from train, moved back; lesson 4."""
    draws = np.random.default_rng(seed).random(len(ratings))
    # The rows of the smallest draws: for a share, nearly the rows drawn below it, as before.
    is_valid = np.zeros(len(ratings), bool)
    is_valid[np.argsort(draws, kind="stable")[:valid_count(valid_size, len(ratings))]] = True
    train = ratings[~is_valid]
    # A model knows nothing of a user or movie it never trained on, so such a validation row
    # measures nothing; it is moved to training, and counted.
    unseen = is_valid & (~ratings[user].isin(train[user]) | ~ratings[item].isin(train[item])).to_numpy()
    is_valid &= ~unseen
    return (ratings[~is_valid].reset_index(drop=True), ratings[is_valid].reset_index(drop=True),
            int(unseen.sum()))


@dataclass(frozen=True)
class Standin:
    """The MovieLens stand-in's size and truth: users, movies, factors, noise, ratings per user."""
    n_users: int = 200
    n_movies: int = 120
    n_factors: int = 3
    sigma: float = 0.5
    per_user: tuple = (50, 110)


def make_standin(dest, standin=Standin(), seed=0):
    """Write a MovieLens-layout zip of ratings = low-rank truth + N(0, sigma) into `dest`, unless
    the one there was drawn by the same code and settings; lesson 4."""
    return made(dest, _draw, standin, _standin_title,
                what=f"Synthetic MovieLens ratings, seed {seed}. " + HOW_TO_GET, seed=seed)


def _draw(dest, standin, seed):
    """Draw the ratings and titles into the zip, and the truth they come from beside it."""
    n_users, n_movies, n_factors, sigma = standin.n_users, standin.n_movies, standin.n_factors, standin.sigma
    rng = np.random.default_rng(seed)
    scale = (0.25 / n_factors) ** 0.25  # factor dot products with a spread of about 0.5
    users = rng.normal(0, scale, (n_users, n_factors))
    movies = rng.normal(0, scale, (n_movies, n_factors))
    user_bias, movie_bias = rng.normal(0, 0.3, n_users), rng.normal(0, 0.4, n_movies)
    popularity = rng.pareto(1.5, n_movies) + 1  # a few films are rated by many, most by few
    rows = []
    for u in range(n_users):
        n = min(int(rng.integers(*standin.per_user)), n_movies)
        for m in rng.choice(n_movies, n, replace=False, p=popularity / popularity.sum()):
            rows.append((u, m))
    u, m = np.array(rows).T
    rating = (3.5 + user_bias[u] + movie_bias[m] + np.sum(users[u] * movies[m], axis=1)
              + rng.normal(0, sigma, len(u)))
    movie_ids = np.sort(rng.choice(np.arange(1, 200_000), n_movies, replace=False))
    ratings = pd.DataFrame({"userId": u + 1, "movieId": movie_ids[m], "rating": rating.round(4),
                            "timestamp": rng.integers(8e8, 1.5e9, len(u))})
    movies_csv = pd.DataFrame({"movieId": movie_ids, "title": [
        _standin_title(i, f, b) for i, f, b in zip(movie_ids, movies, movie_bias)],
        "genres": "(stand-in)"})
    with zipfile.ZipFile(dest / f"{NAME}.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{NAME}/ratings.csv", ratings.to_csv(index=False))
        z.writestr(f"{NAME}/movies.csv", movies_csv.to_csv(index=False))
    truth = {"sigma": sigma, "n_factors": n_factors, "n_users": n_users, "n_movies": n_movies,
             "n_ratings": len(ratings), "seed": seed}
    (dest / "truth.json").write_text(json.dumps(truth, indent=2))
    np.savez(dest / "truth.npz", user_ids=np.arange(1, n_users + 1), movie_ids=movie_ids,
             user_factors=users, movie_factors=movies, user_bias=user_bias, movie_bias=movie_bias,
             mean=3.5)


def _standin_title(movie_id, factors, bias):
    """A title that says where the stand-in film sits, so the factor plots can be read."""
    tags = " ".join(f"{'ABC'[i]}{'+' if f > 0 else '-'}" for i, f in enumerate(factors[:3]))
    return f"Film {movie_id} [{tags}]{' (liked)' if bias > 0.4 else ''}"


def get(data="auto", *, path=None, origin=URL, n_sample=SAMPLE_RATINGS, standin=Standin(), seed=0):
    """MovieLens as a Data record with parts 'ratings' and 'movies'; lesson 4.

    'full': all of ml-latest-small, downloaded from `origin` into `path`; 'sample': its first
    `n_sample` ratings and the films they rate; 'standin': synthetic ratings of known noise (info:
    sigma, n_factors, ...); 'auto': the real data, else the stand-in with the reason in its notes.
    """
    path = Path(path or data_dir() / "movielens")
    return by_mode(data, "MovieLens", lambda mode: _get_real(mode, path, origin, n_sample),
                   lambda: _get_standin(standin, seed), (DownloadError, MovieLensError))


def _get_real(mode, path, origin, n_sample):
    """The real ratings, all of them or the first `n_sample` with the films they rate."""
    folder = _download(origin, path, None, REAL_ROWS, True, quiet=True)
    ratings, movies = read(folder, rows=REAL_ROWS)
    if mode == "sample":
        ratings = ratings.head(n_sample)
        movies = movies[movies.movieId.isin(ratings.movieId)].reset_index(drop=True)
    return _record(folder, mode, False, ratings, movies, {"sigma": None, "origin": origin})


def _get_standin(standin, seed):
    """The stand-in drawn once, then downloaded from a file:// URL and checked like the real one."""
    dest = make_standin(standin_dir() / "movielens", standin, seed)
    truth = json.loads((dest / "truth.json").read_text())
    n = truth["n_ratings"]
    origin = (dest / f"{NAME}.zip").resolve().as_uri()
    folder = _download(origin, dest / "cache", None, (n, n), False, quiet=True)
    assert is_standin(folder)
    ratings, movies = read(folder, rows=(n, n), stars=False)
    record = _record(folder, "standin", True, ratings, movies, {**truth, "origin": origin})
    return with_banner(record, "MovieLens ml-latest-small", HOW_TO_GET)


def _record(folder, mode, standin, ratings, movies, info):
    """The Data record of a ratings table and its films."""
    summary = (f"MovieLens {NAME}: {kind(mode, standin)}, {len(ratings):,} ratings by "
               f"{ratings.userId.nunique():,} users of {ratings.movieId.nunique():,} movies, "
               f"at {folder}")
    return Data(name="movielens", path=Path(folder), standin=standin, mode=mode,
                parts={"ratings": ratings, "movies": movies}, info=dict(info), summary=summary)
