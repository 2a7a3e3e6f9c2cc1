"""Lesson 4's notebook, run end to end in fast mode on the stand-ins, and what it must reach."""
import json

import numpy as np
import pandas as pd

from utils.runner import policy_in_force, run_lesson

FAST = {"DATA": "standin", "MOVIELENS": "standin", "STANDIN_SIZE": [5, 5, 40],
        "HEAD_EPOCHS": 15, "PSEUDO_EPOCHS": 2, "CROSSTAB_STEPS": 600, "OPT_STEPS": 150}


def test_lesson4_runs_on_standins_and_reaches_its_targets(tmp_path, monkeypatch):
    monkeypatch.setenv("DL1_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("DL1_PRECISION", "mixed_bfloat16")  # as a recent GPU runs it
    results = tmp_path / "results"
    ipynb, page = run_lesson("lesson4", {**FAST, "RESULTS": str(results)}, tmp_path / "build")
    assert policy_in_force(ipynb) == "mixed_bfloat16"  # setup() said so, in the notes
    s = json.loads((results / "summary.json").read_text())
    assert s["standin"] and s["movielens_standin"] and s["statefarm_standin"]

    # MovieLens stand-in: the bias model comes within 10% of the noise floor sigma.
    assert s["bias_rmse_over_sigma"] <= 1.1, s["val_rmse"]
    assert s["val_rmse"]["bias"] <= 1.1 * s["sigma"]
    assert s["val_rmse"]["bias"] < s["val_rmse"]["dot"]

    # The numpy optimizers all fit the line.
    assert all(v < 0.05 for v in s["optimizer_final_loss"].values()), s["optimizer_final_loss"]

    # State Farm: split by driver, a head far above chance (0.1), a valid clipped submission.
    assert s["valid_drivers"] and not set(s["valid_drivers"]) & set(s["train_drivers"])
    assert s["head_val_accuracy"] > 0.5 and s["pseudo_val_accuracy"] > 0.5, s
    sub = pd.read_csv(results / "statefarm-submission.csv")
    sample = pd.read_csv(tmp_path / "data/standin/state-farm-distracted-driver-detection"
                                    "/sample_submission.csv")
    assert list(sub.columns) == list(sample.columns) and sorted(sub.img) == sorted(sample.img)
    probs = sub.iloc[:, 1:].to_numpy()
    assert np.all(probs <= 0.93 + 1e-9) and np.all(probs >= 0.07 / 9 - 1e-9)
    assert s["n_test"] == 40

    text = page.read_text()
    assert "STAND-IN DATA" in text and "UnknownIdError" in text
    assert not (tmp_path / "data/state-farm-distracted-driver-detection").exists()
    assert not (tmp_path / "data/movielens").exists()  # the offline download stored nothing real
