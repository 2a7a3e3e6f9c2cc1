"""Kaggle's Disaster Tweets, `nlp-getting-started` (lesson 5): a text competition that never
closes, and a stand-in.

Kaggle ships `train.csv` (7,613 rows `id,keyword,location,text,target`; target 1 when the tweet
is about a real disaster), `test.csv` (3,263 rows, no target) and `sample_submission.csv`
(`id,target`, in the test file's order); the metric is F1 on the 1s. Keywords are URL-encoded
(`body%20bags`), and keyword and location are often empty. `get` returns pandas tables: 'train'
and 'valid' (a seeded hold-out keeping the share of 1s) and 'test' in the sample's order, with
empty fields as "" (so "NA" in a tweet stays text). `submission` writes 0/1 labels checked against
the sample.

Offline, the stand-in is written in the same layout from templates: tweets about fires, floods
and crashes, and everyday tweets that borrow the same words as figures of speech ("this traffic
is a disaster"), as the real ones do, with a few labels flipped.
"""
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from utils.datasets import csvcompetition as csvc
from utils.datasets.competition import real_or_standin
from utils.datasets.standin import made, with_banner
from utils.kaggle.api import how_to_get
from utils.kaggle.submission import label_submission
from utils.paths import data_dir, standin_dir

COMPETITION = "nlp-getting-started"
TITLE = "Kaggle's Disaster Tweets"
TEST_COLUMNS = ["id", "keyword", "location", "text"]
TRAIN_COLUMNS = [*TEST_COLUMNS, "target"]
SAMPLE_COLUMNS = ["id", "target"]
SAMPLE = (1500, 500)  # DATA='sample': the first training and test rows
HOW_TO_GET = how_to_get(COMPETITION)
TEXT = {"keyword": str, "location": str, "text": str}


def read_train(path):
    """A train.csv as a table: id, keyword, location, text, target (0 or 1); lesson 5."""
    table = csvc.read_table(path, TRAIN_COLUMNS, dtype={**TEXT, "id": "int64", "target": "int64"},
                            keep_default_na=False)
    if not table["target"].isin([0, 1]).all():
        raise csvc.CompetitionFileError(f"{path} has targets other than 0 and 1; download it again.")
    return table


def read_test(path):
    """A test.csv as a table: id, keyword, location, text; lesson 5."""
    return csvc.read_table(path, TEST_COLUMNS, dtype={**TEXT, "id": "int64"}, keep_default_na=False)


@dataclass(frozen=True)
class Standin:
    """The tweets stand-in's recipe: training and test tweets, the share about a real disaster,
    and the share of labels flipped (the real labels are noisy too)."""
    n_train: int = 1500
    n_test: int = 500
    positive: float = 0.43
    noise: float = 0.05


def get(data="auto", *, path=None, valid_size=0.15, n_sample=SAMPLE, standin=Standin(), seed=0):
    """Disaster Tweets as a Data record of tables 'train', 'valid' and 'test'; lesson 5.

    'full': Kaggle's 7,613 + 3,263 tweets; 'sample': its first `n_sample` (train, test) rows;
    'standin': template tweets in the same files; 'auto': the real data, else the stand-in.
    """
    path = Path(path or data_dir() / COMPETITION)

    def read_real(folder, mode, sample, rows):
        return _record(folder, mode, False, sample, valid_size, seed, rows)
    return real_or_standin(data, TITLE,
                           lambda mode: csvc.get_real(COMPETITION, path, mode, n_sample, read_real,
                                                      SAMPLE_COLUMNS),
                           lambda: _get_standin(standin, valid_size, seed))


def _get_standin(standin, valid_size, seed):
    """The stand-in, drawn once in Kaggle's layout, then fetched and read like the real files."""
    dest = make_standin(standin_dir() / COMPETITION, standin, seed)
    # Never the Kaggle Notebooks mount: real files must not mix into the stand-in's folder.
    folder = csvc.fetch_csvs(COMPETITION, dest, use_mounted=False)
    record = _record(folder, "standin", True, folder / "sample_submission.csv", valid_size, seed,
                     (None, None), info={"solution": folder / csvc.SOLUTION})
    return with_banner(record, TITLE, HOW_TO_GET, what="template tweets")


def _record(folder, mode, standin, sample, valid_size, seed, rows, info=None):
    train = read_train(folder / "train.csv").head(rows[0])
    test = read_test(folder / "test.csv").head(rows[1])
    ids = [str(i) for i in test["id"]]
    if ids != csvc.sample_ids(sample, SAMPLE_COLUMNS):
        raise csvc.CompetitionFileError(f"{folder}: the ids of test.csv and {sample} differ; fetch"
                                        " the data again.")
    trn, val = csvc.split(len(train), valid_size, train["target"], seed)
    parts = {"train": train.iloc[trn].reset_index(drop=True),
             "valid": train.iloc[val].reset_index(drop=True), "test": test}
    counts = {"train": len(trn), "valid": len(val), "test": len(test)}
    return csvc.record(COMPETITION, folder, mode, standin, parts, sample, counts,
                       {"positive_share": float(train["target"].mean())} | (info or {}))


def submission(data, labels, out_csv):
    """Write the predicted 0/1 of each test tweet as Kaggle's id,target CSV; lesson 5."""
    return label_submission(data.test_ids, labels, data.sample_submission, out_csv, (0, 1))


# ---------------------------------------------------------------------------------------------
# The stand-in

PLACES = ["California", "Calgary", "New York, NY", "Nairobi", "Mumbai", "the coast", "Texas",
          "London, UK", "Manila", "downtown"]
FILLER = ["RT", "omg", "today", "#news", "please", "everyone", "now", "wow", "@user", "again"]
DISASTER = [
    ("wildfire", "Wildfire near {place} forces {n} families to evacuate #wildfire"),
    ("flood", "Flash flood warning for {place}: roads under water, stay home"),
    ("earthquake", "Magnitude {m} earthquake hits {place}, buildings collapsed"),
    ("derailment", "{n} injured after train derailment near {place} http://t.co/{code}"),
    ("evacuated", "Residents of {place} evacuated as the river keeps rising"),
    ("bombing", "Police confirm {n} dead in {place} bombing; suspect arrested"),
    ("storm", "Storm knocks out power to {n},000 homes in {place}"),
    ("body%20bags", "Rescue crews in {place} bring out body bags after the collapse"),
    ("fire", "House fire in {place}, firefighters on scene, {n} people rescued"),
    ("crash", "Plane crash near {place} airport, {n} survivors reported"),
]
EVERYDAY = [
    ("fire", "This new track is fire, on repeat all day \U0001f525"),
    ("disaster", "My hair today is a total disaster lol"),
    ("bombing", "I was bombing my exam so hard, send help"),
    ("flood", "A flood of emails after the long weekend, yay"),
    ("crash", "Gonna crash on the couch and watch movies in {place}"),
    ("body%20bags", "Those new body bags by the brand are so \"cute\", want one"),
    ("storm", "Taking the city by storm with my new shoes"),
    ("wildfire", "That rumour spread like wildfire at school, omg"),
    (None, "Loving the sunshine in {place} today, coffee and a good book"),
    (None, "Who's watching the game tonight? Let's go!! http://t.co/{code}"),
]


def _tweet(rng, templates):
    keyword, text = templates[int(rng.integers(len(templates)))]
    text = text.format(place=PLACES[int(rng.integers(len(PLACES)))], n=int(rng.integers(2, 60)),
                       m=round(float(rng.uniform(4, 8)), 1), code="".join(
                           rng.choice(list("abcdefghijkXYZ0123"), 10)))
    # words both kinds of tweet use, so no template is one fixed string
    text = " ".join([*rng.choice(FILLER, int(rng.integers(0, 2))), text,
                     *rng.choice(FILLER, int(rng.integers(0, 3)))])
    location = PLACES[int(rng.integers(len(PLACES)))] if rng.random() < 0.6 else ""
    if keyword is None or rng.random() < 0.1:
        keyword = ""  # as in the real file, some tweets have no keyword
    return keyword, location, text


def standin_tables(standin=Standin(), seed=0):
    """The stand-in's tables: train, test, sample submission and the hidden test labels."""
    rng = np.random.default_rng(seed)
    n_test = standin.n_test
    n = standin.n_train + n_test
    target = (rng.random(n) < standin.positive).astype(int)
    rows = [_tweet(rng, DISASTER if t else EVERYDAY) for t in target]
    flip = rng.random(n) < standin.noise  # real labels are noisy too
    target = np.where(flip, 1 - target, target)
    ids = np.sort(rng.choice(np.arange(3 * n), n, replace=False))  # ids with gaps, as Kaggle's
    table = pd.DataFrame(rows, columns=["keyword", "location", "text"])
    table.insert(0, "id", ids)
    table["target"] = target
    is_test = np.zeros(n, bool)
    is_test[rng.permutation(n)[:n_test]] = True
    train, test = table[~is_test], table[is_test]
    return {"train.csv": train, "test.csv": test[TEST_COLUMNS],
            "sample_submission.csv": pd.DataFrame({"id": test["id"], "target": 0}),
            csvc.SOLUTION: test[["id", "target"]]}


def make_standin(dest, standin=Standin(), seed=0):
    """Write the tweets stand-in as Kaggle ships the competition (nlp-getting-started.zip), unless
    the one in `dest` was drawn by the same code and settings; lesson 5."""
    what = (f"Template tweets, seed {seed}, in Disaster Tweets' CSV layout. "
            + HOW_TO_GET.replace("\n", " "))
    return made(dest, _draw, standin, standin_tables, _tweet, csvc.zip_tables, PLACES, FILLER, DISASTER, EVERYDAY,
                what=what, seed=seed)


def _draw(dest, standin, seed):
    """Write the template tweets' tables, zipped as Kaggle serves them."""
    csvc.zip_tables(dest, COMPETITION, standin_tables(standin, seed))
