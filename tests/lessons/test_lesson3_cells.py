"""Lesson 3's cells: the MNIST ladder and the photo augmentation its export cells define
(utils/lessons/lesson3.py, generated from them), the cut of VGG16 where its convolutions end, and
continuing from lesson 2's saved model, each run from the notebook's own source.
"""
import json

import keras
import numpy as np
import pytest

from utils.lessons import lesson3
from utils.models.surgery import split_at
from utils.models.vgg16 import Vgg16, vgg16_model
from utils.runner import NBS

from notebook_cells import run_cell


def _kinds(model):
    """The model's layer types, in order."""
    return [type(layer).__name__ for layer in model.layers]


def test_the_first_rungs_weigh_every_pixel_into_a_float32_softmax():
    linear, hidden = lesson3.linear(0.003), lesson3.hidden(0.003)
    assert linear.count_params() == 784 * 10 + 10
    assert hidden.count_params() == (784 * 512 + 512) + (512 * 10 + 10)
    for model in (linear, hidden):
        assert model.input_shape == (None, 28, 28, 1) and model.output_shape == (None, 10)
        assert model.loss == "sparse_categorical_crossentropy"
        assert model.optimizer.lr == pytest.approx(0.003)
        assert model.layers[-1].dtype_policy.name == "float32"
    assert lesson3.linear(input_shape=(14, 14, 1)).count_params() == 196 * 10 + 10


def test_the_cnn_adds_each_cure_where_the_notes_say():
    plain = lesson3.cnn(filters=(4, 8), dense=16)
    assert _kinds(plain).count("Conv2D") == 4 and _kinds(plain).count("MaxPooling2D") == 2
    assert "BatchNormalization" not in _kinds(plain) and "Dropout" not in _kinds(plain)
    assert plain.layers[1].__class__.__name__ == "Rescaling"
    cured = lesson3.cnn(augment=True, bn=True, dropout=0.5, filters=(4, 8), dense=16)
    assert _kinds(cured)[1] == "Sequential" and cured.layers[1].name == "augment"  # before scaling
    assert _kinds(cured).count("BatchNormalization") == 5  # after 4 convolutions and the dense layer
    assert [layer.rate for layer in cured.layers if isinstance(layer, keras.layers.Dropout)] == [0.5]
    # A layer followed by batch norm has no bias of its own: batch norm adds one.
    assert not any(layer.use_bias for layer in cured.layers if isinstance(layer, (keras.layers.Conv2D,
                                                                                  keras.layers.Dense))
                   and layer is not cured.layers[-1])
    assert all(layer.use_bias for layer in plain.layers if isinstance(layer, keras.layers.Conv2D))


def test_an_ensemble_member_is_the_recipes_cnn():
    member = lesson3.ensemble_member({"filters": (4, 8), "dense": 16})
    same = lesson3.cnn(augment=True, bn=True, dropout=0.5, filters=(4, 8), dense=16,
                       lr=lesson3.SCHEDULE[0][0])
    assert member.count_params() == same.count_params()
    assert _kinds(member) == _kinds(same)
    assert member.optimizer.lr == pytest.approx(lesson3.ENSEMBLE_RECIPE["schedule"][0][0])
    assert lesson3.ENSEMBLE_RECIPE["schedule"] is lesson3.SCHEDULE  # the ladder's schedule too


def test_the_digits_and_photos_augmentations_act_only_while_training():
    x = np.random.default_rng(0).uniform(0, 255, (2, 28, 28, 1)).astype("float32")
    keras.utils.set_random_seed(0)
    digits = lesson3.augmentation()
    np.testing.assert_array_equal(digits(x, training=False), x)
    assert not np.allclose(digits(x, training=True), x)
    photos = lesson3.default_augmentation()
    settings = photos.get_config()
    assert (settings["rotation"], settings["shift"], settings["zoom"], settings["flip"],
            settings["shear"]) == (10, 0.1, 0.1, True, 0)  # the course's, as the notes teach
    rgb = np.repeat(x, 3, axis=-1)
    np.testing.assert_array_equal(photos(rgb, training=False), rgb)
    assert not np.allclose(photos(rgb, training=True), rgb)


# ---------------------------------------------------------------------------------------------
# The edge filters by hand and the classifier of 8 against 1 with no training


def test_an_eighth_of_a_turn_twice_is_a_quarter_turn_and_eight_come_full_circle():
    edge, turn = lesson3.EDGE, lesson3.turn45
    np.testing.assert_array_equal(turn(turn(edge)), np.rot90(edge, -1))  # clockwise
    full = edge
    for _ in range(8):
        full = turn(full)
    np.testing.assert_array_equal(full, edge)
    bank = lesson3.edge_bank()
    assert bank.shape == (8, 3, 3) and bank.dtype == np.float32
    assert len({b.tobytes() for b in bank}) == 8  # eight different filters
    np.testing.assert_array_equal(bank[4], edge[::-1, ::-1])  # half a turn: the opposite edge
    np.testing.assert_array_equal(bank[1], [[1, -1, -1], [0, 1, -1], [0, 0, 1]])  # a diagonal edge
    assert all(b.sum() == 0 for b in bank)  # each gives 0 on a flat patch


@pytest.mark.parametrize("shape, k", [((28, 28), 3), ((5, 13, 17), 3), ((2, 3, 12, 9), 5)])
def test_correlate_is_scipys_correlate_and_a_flipped_convolve(shape, k):
    from scipy import ndimage
    rng = np.random.default_rng(k)
    images = rng.uniform(0, 1, shape).astype("float32")
    filt = rng.normal(size=(k, k)).astype("float32")
    ours = lesson3.correlate(images, filt)
    assert ours.shape == images.shape
    # SciPy on the last two axes only: a filter of size 1 along the others.
    whole = filt.reshape((1,) * (len(shape) - 2) + (k, k))
    np.testing.assert_allclose(ours, ndimage.correlate(images, whole, mode="constant"), atol=1e-5)
    np.testing.assert_allclose(ours, ndimage.convolve(images, whole[..., ::-1, ::-1], mode="constant"),
                               atol=1e-5)
    assert np.abs(ours - ndimage.convolve(images, whole, mode="constant")).max() > 0.1


def test_keras_conv2d_computes_the_correlation_not_the_convolution():
    images = np.random.default_rng(3).uniform(0, 1, (4, 12, 12)).astype("float32")
    layer = keras.layers.Conv2D(1, 3, padding="same", use_bias=False)
    layer.build((None, 12, 12, 1))
    layer.set_weights([lesson3.EDGE[:, :, None, None]])
    np.testing.assert_allclose(np.asarray(layer(images[..., None]))[..., 0],
                               lesson3.correlate(images, lesson3.EDGE), atol=1e-5)


def test_block_max_keeps_each_blocks_largest_number_and_drops_ragged_edges():
    maps = np.random.default_rng(4).normal(size=(3, 30, 29))
    pooled = lesson3.block_max(maps, 7)
    assert pooled.shape == (3, 4, 4)
    for i, r, c in np.ndindex(pooled.shape):
        assert pooled[i, r, c] == maps[i, 7 * r:7 * r + 7, 7 * c:7 * c + 7].max()
    assert lesson3.block_max(maps[0], 2).shape == (15, 14)


def test_filter_features_are_every_filters_pooled_map():
    bank = lesson3.edge_bank()
    images = np.random.default_rng(5).uniform(0, 1, (6, 28, 28))
    feats = lesson3.filter_features(images, bank)
    assert feats.shape == (6, 8, 4, 4)
    np.testing.assert_allclose(feats[2, 5], lesson3.block_max(lesson3.correlate(images[2], bank[5])))
    np.testing.assert_allclose(lesson3.filter_features(images[2], bank), feats[2])


def test_closer_average_picks_the_nearest_and_tells_bars_from_rings_with_no_training():
    averages = np.stack([np.zeros((1, 2, 2)), np.ones((1, 2, 2))])  # two averages of one 2x2 map
    feats = np.stack([np.full((1, 2, 2), v) for v in (0.1, 0.9, 0.4, 0.6)])
    assert list(lesson3.closer_average(feats, averages)) == [0, 1, 0, 1]
    # Digits-like pictures: a "1" is an upright bar, an "8" a stack of two rings, each drawn at a
    # random shift. Averages of the training ones label new ones.
    rng = np.random.default_rng(6)

    def draw(kind):
        img = np.zeros((28, 28))
        dy, dx = rng.integers(-2, 3, 2)
        if kind == 1:
            img[5 + dy:23 + dy, 13 + dx:15 + dx] = 1
        else:
            for top in (4, 14):
                img[top + dy:top + dy + 10, 9 + dx:19 + dx] = 1
                img[top + dy + 2:top + dy + 8, 11 + dx:17 + dx] = 0
        return img

    bank = lesson3.edge_bank()
    trn = {k: lesson3.filter_features(np.stack([draw(k) for _ in range(20)]), bank) for k in (8, 1)}
    typical = np.stack([trn[8].mean(axis=0), trn[1].mean(axis=0)])
    test_kinds = rng.choice([8, 1], 40)
    test = lesson3.filter_features(np.stack([draw(k) for k in test_kinds]), bank)
    guess = np.array([8, 1])[lesson3.closer_average(test, typical)]
    assert (guess == test_kinds).all()


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
