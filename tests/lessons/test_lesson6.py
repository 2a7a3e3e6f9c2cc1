"""nbs/lesson6.ipynb runs end to end in fast mode on the stand-in text."""
import html
import json
import math

import pytest

from utils.runner import policy_in_force, run_lesson


@pytest.mark.notebook
def test_lesson6_runs_on_the_standin_text(tmp_path, monkeypatch):
    monkeypatch.setenv("DL1_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("DL1_PRECISION", "mixed_float16")  # as a T4 runs it (Colab, Kaggle)
    results = tmp_path / "results"
    ipynb, page = run_lesson("lesson6", {"DATA": "standin", "CHARS": 30000, "N_HIDDEN": 64,
                                         "EPOCHS": 1, "NUMPY_UPDATES": 150,
                                         "RESULTS": str(results)}, tmp_path / "build")
    assert policy_in_force(ipynb) == "mixed_float16"  # setup() said so, in the notes
    summary = json.loads((results / "summary.json").read_text())
    assert summary["standin"] is True and summary["chars"] == 30000
    uniform = math.log2(summary["vocab"])
    bpc = summary["bits_per_char"]
    assert set(bpc) == {"3-char", "unrolled 8-char", "SimpleRNN", "SimpleRNN, every step",
                        "one-hot SimpleRNN, every step", "stateful LSTM + BN", "GRU",
                        "2-layer LSTM char-rnn", "TensorFlow RNN", "numpy RNN"}
    for name, value in bpc.items():  # every model learnt something beyond guessing uniformly
        assert 0 < value < uniform, (name, value)
    unigram = summary["ngram"]["tuning_bits_per_char"]["1"]
    assert bpc["3-char"] < unigram  # three characters of context beat letter frequencies
    assert summary["ngram"]["bits_per_char"] < unigram
    recipe = summary["recipe"]  # stated in the course's unit, nats, from the same figure
    assert math.isclose(recipe["nats_per_char"], bpc["2-layer LSTM char-rnn"] * math.log(2))
    assert summary["seq_by_hand_max_diff"] < 0.05  # hand-built every-step RNN = Keras's
    tf_rnn = summary["tf_rnn"]
    assert tf_rnn["updates"] == 150 and tf_rnn["last_loss"] < tf_rnn["first_loss"] - 0.5
    rnn = summary["numpy_rnn"]
    assert rnn["grad_rel_error"] < 1e-6 and rnn["tape_rel_error"] < 1e-6
    assert rnn["loss_after"] < rnn["loss_before"] - 0.5 and rnn["updates"] == 150
    text = page.read_text()
    assert "STAND-IN DATA" in text and "Python's reference documentation" in text
    from utils import claims  # the claims cell drew its panels, each captioned with its claim
    assert all(claims._sentence(c.says) in html.unescape(text) for c in claims.claims(6))
    assert not (tmp_path / "data" / "nietzsche").exists()
