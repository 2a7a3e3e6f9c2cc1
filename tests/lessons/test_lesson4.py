"""Lesson 4's notebook, run end to end in fast mode on the stand-ins, and what it must reach."""
import json

import numpy as np
import pandas as pd
import pytest

from utils.runner import policy_in_force, run_lesson

FAST = {"DATA": "standin", "MOVIELENS": "standin", "STANDIN_SIZE": [8, 3, 40],
        "HEAD_EPOCHS": 15, "PSEUDO_EPOCHS": 2, "CROSSTAB_STEPS": 600, "OPT_STEPS": 150}


@pytest.mark.notebook
def test_lesson4_runs_on_standins_and_reaches_its_targets(tmp_path, monkeypatch):
    monkeypatch.setenv("DL1_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("DL1_PRECISION", "mixed_float16")  # as a T4 runs it (Colab, Kaggle)
    results = tmp_path / "results"
    ipynb, page = run_lesson("lesson4", {**FAST, "RESULTS": str(results)}, tmp_path / "build")
    assert policy_in_force(ipynb) == "mixed_float16"  # setup() said so, in the notes
    s = json.loads((results / "summary.json").read_text())
    assert s["standin"] and s["movielens_standin"] and s["statefarm_standin"]

    # MovieLens stand-in: the bias model comes within 10% of the noise floor sigma.
    assert s["bias_rmse_over_sigma"] <= 1.1, s["val_rmse"]
    assert s["val_rmse"]["bias"] <= 1.1 * s["sigma"]
    assert s["val_rmse"]["bias"] < s["val_rmse"]["dot"]

    # The numpy optimizers all fit the line.
    assert all(v < 0.05 for v in s["optimizer_final_loss"].values()), s["optimizer_final_loss"]

    # The hand convolution written out in the notes computes what the kit's helper computes, in this run.
    assert s["conv_by_hand_vs_kit"] < 1e-5
    # The spreadsheet's 15 x 15 table, fitted by the notes' fit_table, is fitted closely: below the
    # stand-in's noise sigma, as the notes say (150 numbers against at most 225 ratings).
    assert s["crosstab_rmse"] < s["sigma"]

    # PCA of the movie factors: five titles of movies.csv at each end of each component.
    titles = set(pd.read_csv(next((tmp_path / "data").rglob("movies.csv"))).title)
    assert len(s["pca_ends"]) == 3
    for comp, ends in s["pca_ends"].items():
        one, other = ends["one end"], ends["other end"]
        assert len(one) == len(other) == 5 and not set(one) & set(other), comp
        assert set(one) | set(other) <= titles, comp

    # State Farm: split by driver, a head well above chance (0.1) on drivers it never saw, a valid
    # clipped submission. Each stand-in driver has their own look and habits, and the conv layers'
    # weights are random here, so new drivers are hard: far from the real data's accuracy.
    assert s["valid_drivers"] and not set(s["valid_drivers"]) & set(s["train_drivers"])
    assert s["head_val_accuracy"] > 0.25 and s["pseudo_val_accuracy"] > 0.25, s
    sub = pd.read_csv(results / "statefarm-submission.csv")
    sample = pd.read_csv(tmp_path / "data/standin/state-farm-distracted-driver-detection"
                                    "/sample_submission.csv")
    assert list(sub.columns) == list(sample.columns) and sorted(sub.img) == sorted(sample.img)
    probs = sub.iloc[:, 1:].to_numpy()
    assert np.all(probs <= 0.93 + 1e-9) and np.all(probs >= 0.07 / 9 - 1e-9)
    assert s["n_test"] == 40

    # From scratch: both small CNNs trained; features of one augmented pass, a head on them.
    assert set(s["scratch_cnn"]) == {"plain", "augmented"}
    assert s["scratch_cnn"]["plain"]["train"] > 0.2, s["scratch_cnn"]  # chance is 0.1
    assert s["aug_feature_rows"] == s["n_train"] > 0
    assert s["aug_head_val_accuracy"] > 0.25, s

    # Soft targets of three of the head's own answers: temperature 1 leaves them as they are, and
    # each hotter temperature lowers the largest probability while every answer stays the same.
    soft = s["soft_targets"]
    assert soft["temperatures"] == [1, 2, 5] and len(set(soft["photos"])) == 3
    assert soft["same_answer"] is True and soft["t1_gap"] < 1e-5
    for largest in soft["largest"]:
        assert largest[0] > largest[1] > largest[2] > 0.1, soft
    assert soft["largest"][0][0] >= soft["largest"][1][0] >= soft["largest"][2][0]  # surest first

    # Look, diagnose, try one thing: at the too-high rate the linear model's answers on the
    # validation photos fall on at most two classes, each answer near certain; at the lowered rate
    # they spread over more classes, far less sure, and score no worse.
    look = s["look_diagnose"]
    high, low = look["too_high"], look["lowered"]
    assert look["high_rate"] > look["low_rate"]
    assert high["classes_predicted"] <= 2, look
    assert high["mean_top_probability"] > 0.9, look
    assert low["classes_predicted"] > high["classes_predicted"], look
    assert low["mean_top_probability"] < 0.5, look
    assert low["val_accuracy"] >= high["val_accuracy"], look
    assert sum(high["photos_per_class"]) == sum(low["photos_per_class"]) > 0
    assert set(look["one_change"]) == {"none", "width shift", "height shift", "shear", "rotation",
                                       "channel shift"}
    # The first row of the one-change table is the lowered-rate model again: the same start, the
    # same passes, and an optimizer that starts afresh give the same answers, to the last photo.
    assert look["one_change"]["none"]["photos_per_class"] == low["photos_per_class"], look
    assert look["one_change"]["none"]["val_accuracy"] == low["val_accuracy"], look
    assert all(0 <= v["val_accuracy"] <= 1 for v in look["one_change"].values())

    # The conv fine-tune streamed its 6 batches and measured its peak memory.
    assert s["ft_batches"] == 6 and s["ft_batch_size"] == 8
    assert 0 < s["ft_rss_before_mib"] <= s["ft_rss_peak_mib"]

    text = page.read_text()
    assert "STAND-IN DATA" in text and "UnknownIdError" in text
    assert "(patch * filter).sum() =" in text and "RssAnon:" in text and "peak" in text
    assert not (tmp_path / "data/state-farm-distracted-driver-detection").exists()
    assert not (tmp_path / "data/movielens").exists()  # the offline download stored nothing real
