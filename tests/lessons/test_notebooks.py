"""Lesson notebooks: committed clean, and executed end to end in fast mode on stand-in data."""
import json

import nbformat
import pandas as pd
import pytest

from utils.runner import NBS, policy_in_force, run_lesson

NOTEBOOKS = sorted(NBS.glob("lesson*.ipynb"))
EVERY_EDITION = NOTEBOOKS + sorted((NBS / "ja").glob("lesson*.ipynb"))  # the Japanese edition is committed too


@pytest.mark.parametrize("path", EVERY_EDITION, ids=lambda p: str(p.relative_to(NBS)))
def test_committed_notebook_has_no_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs; strip them before committing"


@pytest.mark.parametrize("path", EVERY_EDITION, ids=lambda p: str(p.relative_to(NBS)))
def test_committed_notebook_validates_with_a_stable_id_on_every_cell(path):
    """Valid nbformat (papermill and Jupyter warn on an invalid one); every cell keeps its id."""
    nb = json.loads(path.read_text())
    nbformat.validate(nb)  # raises nbformat.ValidationError, naming the cell and the field
    assert (nb["nbformat"], nb["nbformat_minor"]) >= (4, 5), f"{path.name}: cell ids need nbformat 4.5"
    ids = [c.get("id") for c in nb["cells"]]
    assert all(ids) and len(set(ids)) == len(ids), f"{path.name}: a cell lacks an id or repeats one"


@pytest.mark.parametrize("path", EVERY_EDITION, ids=lambda p: str(p.relative_to(NBS)))
def test_notebook_has_one_parameters_cell(path):
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: {len(tagged)} cells tagged 'parameters'"


@pytest.mark.notebook
def test_lesson1_runs_on_standin_and_writes_a_valid_submission(tmp_path, monkeypatch):
    monkeypatch.setenv("DL1_DATA", str(tmp_path / "data"))
    # mixed_bfloat16 as a recent GPU runs it: under mixed_float16, which a CPU computes slowly,
    # the fine-tuning cell alone ran over 9 minutes (the float32 lesson takes under one);
    # tests/plumbing/test_precision.py checks lesson 1's comparison under mixed_float16 on a small model.
    monkeypatch.setenv("DL1_PRECISION", "mixed_bfloat16")
    results = tmp_path / "results"
    ipynb, page = run_lesson("lesson1", {"DATA": "standin", "EPOCHS": 1,
                                          "RESULTS": str(results)}, tmp_path / "build")
    assert policy_in_force(ipynb) == "mixed_bfloat16"  # setup() said so, in the notes
    assert ipynb.exists() and page.exists()
    summary = json.loads((results / "summary.json").read_text())
    assert summary["standin"] is True
    assert summary["val_accuracy"] > 0.7, summary  # two balanced classes: chance is 0.5
    sub = pd.read_csv(results / "dogscats-submission.csv")
    sample = pd.read_csv(tmp_path / "data/standin/dogs-vs-cats-redux-kernels-edition/sample_submission.csv")
    assert list(sub.columns) == ["id", "label"]
    assert sorted(sub["id"]) == sorted(sample["id"])
    assert sub["label"].between(0.05, 0.95).all()
    # The notes' one-hot labels are get_batches' labels, and their cross-entropy is Keras's.
    assert summary["onehot_same"] is True and summary["xent_gap"] < 1e-5
    # The saved model and the saved weights, loaded back, predict what the fine-tuned model did.
    assert set(summary["reload_gaps"]) == {".keras", ".weights.h5"}
    assert max(summary["reload_gaps"].values()) < 1e-6, summary["reload_gaps"]
    steps, from_keras, from_h5 = summary["resumed_steps"]  # Adam's state came back with them
    assert steps > 0 and from_keras == steps and from_h5 == steps, summary["resumed_steps"]
    assert (results / "vgg16-finetuned.keras").exists()
    assert (results / "vgg16-finetuned.weights.h5").exists()
    # The stand-in says so loudly, and never lands where the real data belongs.
    text = page.read_text()
    assert "STAND-IN DATA" in text
    assert not (tmp_path / "data/dogs-vs-cats-redux-kernels-edition").exists()
