"""nbs/lesson5.ipynb runs end to end in fast mode on the IMDB and GloVe stand-ins."""
import html
import json

import pytest

from utils.runner import policy_in_force, run_lesson


@pytest.mark.notebook
def test_lesson5_runs_on_the_standins(tmp_path, monkeypatch):
    monkeypatch.setenv("DL1_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("DL1_PRECISION", "mixed_float16")  # as a T4 runs it (Colab, Kaggle)
    results = tmp_path / "results"
    ipynb, page = run_lesson("lesson5", {"DATA": "standin", "STANDIN_SIZE": [2000, 500],
                                         "SEQ_LEN": 100, "EPOCHS": 3, "VGG_SIZE": 48,
                                         "RESULTS": str(results)}, tmp_path / "build")
    assert policy_in_force(ipynb) == "mixed_float16"  # setup() said so, in the notes
    summary = json.loads((results / "summary.json").read_text())
    assert summary["standin"] is True and summary["glove_standin"] is True
    assert summary["n_train"] == 2000 and summary["n_test"] == 500
    acc = summary["accuracy"]
    assert set(acc) == {"one hidden layer", "Conv1D", "GloVe, frozen", "GloVe, fine-tuned",
                        "multi-size CNN", "LSTM"}
    for name, value in acc.items():  # balanced classes: chance is 0.5
        # Each figure is the test accuracy at the epoch chosen on reviews held out from training,
        # not the best of the epochs on the test reviews. The LSTM has barely started to learn in
        # 3 epochs on 1,800 reviews, and the dense layer on flattened words learns each position
        # apart and overfits (0.50 to 0.57 on the test reviews over starts 0 to 5), so their honest
        # figures can sit at chance; they must still run. The comparisons below carry the lesson.
        at_chance = name in ("LSTM", "one hidden layer")
        assert value > (0.45 if at_chance else 0.52), (name, value)
    # what the notes say the stand-in shows: the convolution reads the negated phrases that a
    # dense layer on flattened words misses, and frozen GloVe vectors carry usable meaning
    assert acc["Conv1D"] > acc["one hidden layer"] + 0.1, acc
    assert acc["GloVe, frozen"] > 0.6, acc
    assert summary["glove_missing"] > 0  # some words are left out of the stand-in GloVe
    assert summary["vgg_bn_max_change"] < 1e-4
    trust = summary["trustworthiness"]  # t-SNE keeps each word's nearest neighbours, PCA less so
    assert summary["tsne_words"] >= 100 and trust["t-SNE"] > trust["PCA"]
    text = page.read_text()
    assert "STAND-IN DATA" in text and "GloVe" in text
    from utils import claims  # the claims cell drew its panels, each captioned with its claim
    assert all(claims._sentence(c.says) in html.unescape(text) for c in claims.claims(5))
    assert not (tmp_path / "data" / "glove").exists()  # the stand-in never lands as real data
    tweets = summary["disaster_tweets"]  # the homework section: Kaggle's Disaster Tweets
    assert tweets["standin"] is True and tweets["rows"] == 500
    assert set(tweets["models"]) == {"Conv1D", "GloVe, frozen", "LSTM"}
    # the threshold picked on validation is never worse there than 0.5
    assert all(m["f1"] >= m["f1_at_0.5"] for m in tweets["models"].values())
    assert tweets["test_f1"] > 0.7  # on the stand-in's kept test labels; template tweets
    assert (results / "disaster-tweets-submission.csv").read_text().startswith("id,target\n")
    assert "fasttext-ja: STAND-IN data" in text  # the Japanese vectors' stand-in was loaded
