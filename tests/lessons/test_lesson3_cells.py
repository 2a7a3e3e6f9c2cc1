"""Lesson 3's cells that show an idea as code, run from the notebook's own source.

The notes write out the MNIST models and the cut of VGG16 where its convolutions end; the kit keeps
the same code in utils/ for the bench and later lessons. Each test executes the tagged cell and
checks it builds the same models as the helper: the same layers with the same settings, shapes and
weight counts, and the same outputs once given the same weights.
"""
import json

import keras
import numpy as np
import pytest

from utils.models import mnist as digits
from utils.models.surgery import split_at
from utils.models.vgg16 import Vgg16, vgg16_model
from utils.runner import NBS

from notebook_cells import run_cell


def _settings(config):
    """A layer's config without the names Keras numbers per instance."""
    if isinstance(config, dict):
        return {k: _settings(v) for k, v in config.items() if k != "name"}
    if isinstance(config, list):
        return [_settings(v) for v in config]
    return config


def _layers(model):
    """Each layer's type, settings, output shape and weight count."""
    return [(type(layer).__name__, _settings(layer.get_config()), tuple(layer.output.shape),
             layer.count_params()) for layer in model.layers]


def assert_same_model(ours, theirs, x):
    """Same layers, settings, loss and rate; same outputs with the same weights."""
    assert _layers(ours) == _layers(theirs)
    assert ours.count_params() == theirs.count_params()
    assert ours.loss == theirs.loss
    assert ours.optimizer.lr == pytest.approx(theirs.optimizer.lr)
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(ours(x, training=False), theirs(x, training=False), rtol=1e-5,
                               atol=1e-6)


@pytest.fixture(scope="module")
def cell():
    """The notebook's MNIST model definitions, executed from its own source."""
    return run_cell("lesson3", "lesson3-mnist-models")


@pytest.fixture(scope="module")
def digits_x():
    return np.random.default_rng(0).uniform(0, 255, (4, 28, 28, 1)).astype("float32")


R = digits.ENSEMBLE_RECIPE
CASES = {
    "linear": (lambda c: c["linear"](0.003), lambda: digits.linear_model(lr=0.003)),
    "one hidden layer": (lambda c: c["hidden"](0.003), lambda: digits.hidden_model(lr=0.003)),
    "CNN": (lambda c: c["cnn"](), lambda: digits.cnn()),
    "CNN + aug + BN + dropout": (lambda c: c["cnn"](augment=True, bn=True, dropout=0.5),
                                 lambda: digits.cnn(augment=True, bn=True, dropout=0.5)),
    "ensemble member": (lambda c: c["cnn"](augment=True, bn=True, dropout=R["dropout"],
                                           filters=R["filters"], dense=R["dense"],
                                           lr=R["schedule"][0][0]),
                        digits.ensemble_member),
}


@pytest.mark.parametrize("name", CASES)
def test_notebook_mnist_models_are_the_helpers(cell, digits_x, name):
    ours, theirs = CASES[name]
    assert_same_model(ours(cell), theirs(), digits_x)


def test_the_comparison_tells_models_apart(cell, digits_x):
    # The check above must be able to fail: a CNN without batch norm is not the one with it.
    with pytest.raises(AssertionError):
        assert_same_model(cell["cnn"](augment=True, dropout=0.5),
                          digits.cnn(augment=True, bn=True, dropout=0.5), digits_x)


def _chain():
    """A small VGG-shaped chain: two conv blocks, each ending in a max-pool, two dense layers."""
    layers = keras.layers
    inputs = x = keras.Input((16, 16, 3))
    for layer in (layers.Conv2D(4, 3, padding="same"), layers.MaxPooling2D(),
                  layers.Conv2D(8, 3, padding="same"), layers.MaxPooling2D(), layers.Flatten(),
                  layers.Dense(6), layers.Dense(2, activation="softmax")):
        x = layer(x)
    return keras.Model(inputs, x)


@pytest.mark.parametrize("build", [_chain, lambda: vgg16_model(weights=None, size=(32, 32))],
                         ids=["chain", "vgg16"])
def test_notebook_split_cuts_where_split_at_does(build):
    model = build()
    cut = run_cell("lesson3", "lesson3-split", keras=keras, model=model)
    bottom, top = split_at(model, "MaxPooling2D")
    for ours, theirs in ((cut["conv_model"], bottom), (cut["fc_model"], top)):
        assert [(type(layer).__name__, tuple(layer.output.shape), layer.count_params())
                for layer in ours.layers] == \
               [(type(layer).__name__, tuple(layer.output.shape), layer.count_params())
                for layer in theirs.layers]
    assert type(cut["conv_model"].layers[-1]).__name__ == "MaxPooling2D"
    x = np.random.default_rng(1).uniform(0, 255, (2, *model.input_shape[1:])).astype("float32")
    feats = cut["conv_model"].predict(x, verbose=0)
    np.testing.assert_allclose(feats, bottom.predict(x, verbose=0), rtol=1e-6)
    np.testing.assert_allclose(cut["fc_model"].predict(feats, verbose=0),
                               model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def vgg():
    return Vgg16(weights=None, size=(32, 32))


def _continue(vgg, lesson2, standin=True, weights=None):
    """Run the notebook's continue-from-lesson-2 cell against a lesson 2 results folder."""
    from pathlib import Path
    return run_cell("lesson3", "lesson3-continue", keras=keras, json=json, Path=Path,
                    build_dir=None, vgg=vgg, LESSON2=str(lesson2), standin=standin,
                    WEIGHTS=weights, IMAGE_SIZE=32)


def _lesson2_results(vgg, folder, standin=True, weights=None):
    """What lesson 2 leaves: its fine-tuned network's weights and its summary."""
    out = keras.layers.Dense(2, activation="softmax", dtype="float32", name="dogscats")
    net = keras.Model(vgg.model.input, out(vgg.model.get_layer("fc2").output))
    rng = np.random.default_rng(2)
    net.set_weights([rng.normal(size=w.shape).astype("float32") for w in net.get_weights()])
    folder.mkdir()
    net.save_weights(folder / "dogscats_finetuned.weights.h5")
    (folder / "summary.json").write_text(json.dumps({"standin": standin, "weights": weights}))
    return net


def test_lesson3_continues_from_lesson2s_saved_model(vgg, tmp_path, capsys):
    saved = _lesson2_results(vgg, tmp_path / "lesson2")
    ns = _continue(vgg, tmp_path / "lesson2")
    assert ns["from_lesson2"] is True
    for got, want in zip(ns["model"].get_weights(), saved.get_weights()):
        np.testing.assert_array_equal(got, want)
    assert "Continuing from lesson 2's fine-tuned model" in capsys.readouterr().out


def test_without_lesson2_or_from_other_data_it_says_so_and_starts_fresh(vgg, tmp_path, capsys):
    ns = _continue(vgg, tmp_path / "nothing")
    assert ns["from_lesson2"] is False
    assert "is not in" in capsys.readouterr().out
    _lesson2_results(vgg, tmp_path / "real", standin=False, weights="imagenet")
    ns = _continue(vgg, tmp_path / "real")
    assert ns["from_lesson2"] is False
    assert "not using it" in capsys.readouterr().out


def test_a_saved_model_of_another_size_is_not_used(vgg, tmp_path, capsys):
    _lesson2_results(Vgg16(weights=None, size=(64, 64)), tmp_path / "lesson2")
    ns = _continue(vgg, tmp_path / "lesson2")
    assert ns["from_lesson2"] is False and "does not fit" in capsys.readouterr().out


def test_lesson2_saves_the_model_lesson3_continues_from():
    # The file name is the contract between the two notebooks.
    nb = json.loads((NBS / "lesson2.ipynb").read_text())
    code = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert 'save_weights(RESULTS / "dogscats_finetuned.weights.h5")' in code
