"""Lesson 7's notebook, executed end to end in fast mode on the Fisheries stand-in; and its
submission cell, run on its own against the stand-in's stage-2 sample submission."""
import html
import json
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import log_loss

from utils.datasets import fisheries as fi
from utils.images import get_batches
from utils.kaggle import do_clip, make_submission
from utils.outofcore import ArrayBatches
from utils.runner import policy_in_force, run_lesson

from notebook_cells import run_cell

FISH_WITH_BOXES = ("ALB", "BET", "DOL", "LAG", "SHARK", "YFT")


@pytest.mark.notebook
def test_lesson7_runs_on_standin(tmp_path, monkeypatch):
    monkeypatch.setenv("DL1_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("DL1_PRECISION", "mixed_float16")  # as a T4 runs it (Colab, Kaggle)
    monkeypatch.setenv("DL1_KAGGLE_INPUT", str(tmp_path / "no-kaggle-input"))
    results = tmp_path / "results"
    ipynb, page = run_lesson("lesson7", {"DATA": "standin", "STANDIN": [320, 40, 20], "EPOCHS": 15,
                                         "PSEUDO_EPOCHS": 5, "GRU_UPDATES": 40,
                                         "RESULTS": str(results)}, tmp_path / "build")
    assert policy_in_force(ipynb) == "mixed_float16"  # setup() said so, in the notes
    s = json.loads((results / "summary.json").read_text())
    assert s["standin"] is True and s["weights"] is None

    # ResNet50 and the batch norm rule of Keras 3
    assert s["resnet50"]["bn_layers"] == 53 and s["resnet50"]["params"] > 23_000_000
    assert s["bn_modes"]["frozen"]["moving_mean_after"] == 5.0
    assert s["bn_checks"]["frozen_bn_same"] and not s["bn_checks"]["trainable_bn_same"]
    # ResNet50 fine-tuned once: the last stage moved, the first conv and every BN statistic did not
    ft = s["resnet50_finetune"]
    assert ft["last_conv_moved"] > 0 and ft["first_conv_moved"] == 0 and ft["bn_stats_moved"] == 0
    assert 0 <= ft["val_accuracy"] <= 1 and ft["steps"] == 3

    # Every box lined up with its photo, nothing left over in the stand-in
    folder = tmp_path / "data/standin" / fi.COMPETITION
    n_fish = sum(len(list((folder / split / c).glob("*.jpg")))
                 for split in ("train", "valid") for c in FISH_WITH_BOXES)
    report = s["box_report"]
    assert report["images"] == 320 and report["matched"] == n_fish
    assert report["no_box_expected"] == 320 - n_fish
    assert all(report[k] == 0 for k in ("missing", "unmatched", "clipped", "outside", "duplicates"))

    # The heads learn (8 classes: chance is 0.125), the leak is real, boxes beat the average box,
    # and the class maps are hottest on the fish.
    assert s["size_only_accuracy"] > s["majority_accuracy"]
    for key in ("head_val_accuracy", "inception_val_accuracy", "fcn_val_accuracy"):
        assert s[key] > 0.25, (key, s[key])  # 49 validation photos: noisy, so a loose bound
    assert s["multi_output"]["class_val_accuracy"] > 0.3
    assert s["multi_output"]["box_iou"] > s["multi_output"]["mean_box_iou"] + 0.1
    assert s["cam_hits_in_box"] > 0.5 > 0.25 > s["cam_all-conv"]["chance"]  # far above chance
    # Without pooling the map keeps the features' resolution (72x128 photos, conv3: 9x16);
    # the course's pooled model halves it twice.
    assert s["cam_all-conv"]["map_shape"] == [9, 16] and s["cam_pooled"]["map_shape"] == [2, 4]
    assert s["cam_hits_in_box"] == s["cam_all-conv"]["hits_in_box"]
    assert 0 <= s["cam_pooled"]["hits_in_box"] <= 1 and s["fcn_pooled_val_accuracy"] > 0.125
    assert 0 <= s["pseudo_val_accuracy"] <= 1

    # A clipped submission shaped like the stage-2 sample: both stages' photos, its rows exactly
    sub = pd.read_csv(results / "fisheries-submission.csv")
    sample = pd.read_csv(folder / "sample_submission_stg2.csv")
    assert list(sub.columns) == list(sample.columns) and len(sub) == s["n_test"] == 60
    assert list(sub["image"]) == list(sample["image"])
    probs = sub[list(fi.CLASSES)].to_numpy()
    assert probs.max() <= 0.9 + 1e-9 and probs.min() >= 0.1 / 7 - 1e-9

    # The numpy GRU: gradients checked, loss going down on lesson 6's text
    assert s["gru_grad_check_max_rel_error"] < 1e-6
    assert s["gru"]["updates"] == 40 and s["gru"]["last_loss"] < s["gru"]["first_loss"] - 0.5

    text = page.read_text()
    assert "STAND-IN DATA" in text
    from utils import claims  # the claims cell drew its panels, each captioned with its claim
    assert {c.name for c in claims.claims(7)} == {"size-leak", "boxes", "cam-peak"}
    for claim in claims.claims(7):
        assert claims._sentence(claim.says) in html.unescape(text), claim.key
    assert "of the 60 test photos pseudo-labelled" in text and "1,000 test photos" not in text
    assert not (tmp_path / "data" / fi.COMPETITION).exists()


def tiny_head():
    """An untrained softmax on one feature: all the submission cell asks of a head is predict."""
    return keras.Sequential([keras.Input((1,)), keras.layers.Dense(len(fi.CLASSES),
                                                                   activation="softmax")])


def test_the_submission_cell_writes_exactly_the_stage_2_samples_rows(tmp_path):
    """Both stages' test photos, read as the notes read them, give exactly the ids and the order
    of the stage-2 sample submission, the file a late submission must match."""
    data = fi.get("standin", standin=fi.Standin(16, 6, 4))
    tst_b = get_batches(data["test"], shuffle=False, batch_size=4, target_size=(8, 8),
                        class_mode=None)
    val_y = np.eye(len(fi.CLASSES))[[0, 1, 2]]
    tst_x = np.linspace(-1, 1, len(tst_b.filenames), dtype="float32")[:, None]
    ns = run_cell("lesson7", "write-submission", head=tiny_head(), head_pl=tiny_head(),
                  val_x=np.zeros((3, 1)), val_y=val_y, tst_x=tst_x, tst_b=tst_b, data=data,
                  fish=fi, CLIP=0.9, BATCH_SIZE=4, RESULTS=tmp_path, summary={},
                  ArrayBatches=ArrayBatches, make_submission=make_submission, do_clip=do_clip,
                  log_loss=log_loss, np=np, pd=pd, Path=Path)
    sub = pd.read_csv(ns["csv"], dtype=str)
    sample = pd.read_csv(data.sample_submission, dtype=str)
    assert list(sub.columns) == list(sample.columns)
    assert list(sub["image"]) == list(sample["image"]) == data.test_ids
    assert sum(i.startswith("test_stg2/") for i in sub["image"]) == 4  # stage 2, by folder
    assert ns["summary"]["n_test"] == 6 + 4
