"""Lesson 7's models and GRU as the notes define them (utils.lessons.lesson7, generated from the
export cells): the box head weighs its two losses and starts at the average box, the fully
convolutional head keeps or halves the map, the GRU's backward pass carries a state in, and the
heads keep float32 outputs and box loss under mixed precision."""
import keras
import numpy as np
import pytest

from utils.lessons import lesson7
from utils.lessons.lesson2 import numerical_gradient
from utils.scratch import gru, rnn as nprnn

FEATURES, CLASSES = (5, 7, 24), 8


# Exact comparisons need one precision: float32, whatever another test left set.
pytestmark = pytest.mark.usefixtures("float32_policy")


def features(n=6, seed=1):
    return np.random.default_rng(seed).normal(size=(n, *FEATURES)).astype("float32")


def test_inception_block_stacks_four_views_along_the_channels():
    x_in = keras.Input(FEATURES)
    block = keras.Model(x_in, lesson7.inception_block(x_in, 8, (6, 10), (4, 6), 5))
    assert block.output.shape[1:] == (*FEATURES[:2], 8 + 10 + 6 + 5)  # the map's size kept
    assert block.predict(features(), verbose=0).min() >= 0  # every branch ends in a ReLU


def test_size_and_box_heads_are_the_bn_head_with_one_more_part():
    """The three heads share `head_layers`: the size head adds the size's batch norm and its
    columns of the last layer; the box head adds a 4-number output on the same 128 units."""
    bn = lesson7.bn_head(FEATURES, CLASSES)
    sized = lesson7.size_head(FEATURES, 3, CLASSES)
    boxed = lesson7.box_class_head(FEATURES, CLASSES)
    assert sized.count_params() == bn.count_params() + 4 * 3 + 3 * CLASSES  # BN: 4 numbers a column
    assert boxed.count_params() == bn.count_params() + (128 + 1) * 4
    assert sized.predict([features(), np.eye(3, dtype="float32")[[0, 1, 2, 0, 1, 2]]],
                         verbose=0).shape == (6, CLASSES)


def test_box_class_head_starts_at_the_average_box_and_weighs_its_two_losses():
    mean_box, weight = (10.0, 20.0, 30.0, 40.0), 0.01
    model = lesson7.box_class_head(FEATURES, CLASSES, mean_box, weight)
    np.testing.assert_allclose(model.get_layer("bb").bias.numpy(), mean_box)  # the average box
    x = features()
    rng = np.random.default_rng(2)
    y = {"bb": rng.uniform(0, 60, (6, 4)).astype("float32"),
         "class": np.eye(CLASSES, dtype="float32")[rng.integers(0, CLASSES, 6)]}
    y["bb"][:2] = 0  # photos without a fish: no box, no box error
    pred = model.predict(x, verbose=0)
    got = model.evaluate(x, y, batch_size=6, verbose=0, return_dict=True)
    per_photo = np.mean((y["bb"] - pred["bb"]) ** 2, axis=1) * [0, 0, 1, 1, 1, 1]
    assert got["bb_loss"] == pytest.approx(per_photo.mean(), rel=1e-4)
    assert got["loss"] == pytest.approx(got["class_loss"] + weight * got["bb_loss"], rel=1e-4)


def test_fcn_head_maps_keep_the_features_resolution_and_pooling_halves_them():
    shape = (12, 20, 24)
    sharp, coarse = lesson7.fcn_head(shape, CLASSES), lesson7.fcn_head(shape, CLASSES, pool=True)
    assert sharp.get_layer(lesson7.CAM_LAYER).output.shape[1:3] == (12, 20)
    assert coarse.get_layer(lesson7.CAM_LAYER).output.shape[1:3] == (3, 5)  # halved twice
    assert coarse.count_params() == sharp.count_params()  # pooling has no weights
    x = np.random.default_rng(0).normal(size=(3, *shape)).astype("float32")
    assert lesson7.class_maps(sharp, x).shape == (3, 12, 20)  # one map per photo, its class's
    assert lesson7.class_maps(coarse, x).shape == (3, 3, 5)


def float64_gru(seed=0):
    """A small GRU's weights, a batch of text, and a carried-in state."""
    params = gru.init_gru(vocab=7, hidden=5, seed=seed)
    for k in params:  # non-zero biases, so their gradients are tested too
        params[k] = params[k] + np.random.default_rng(seed + 7).normal(0, 0.1, params[k].shape)
    rng = np.random.default_rng(seed + 1)
    x, y = rng.integers(0, 7, (3, 9)), rng.integers(0, 7, (3, 9))
    return params, x, y, np.tanh(rng.normal(size=(3, 5)))


def test_gru_backward_pass_passes_the_gradient_check_with_a_carried_in_state():
    params, x, y, h0 = float64_gru(5)
    _, analytic, h = lesson7.gru_loss_and_grads(params, x, y, h0)
    numeric = numerical_gradient(lesson7.gru_forward, params, x, y, h0)
    for k in gru.PARAMS:
        assert nprnn.relative_error(analytic[k], numeric[k]) < 1e-6, k
    _, cache = lesson7.gru_forward(params, x, y, h0)
    np.testing.assert_array_equal(h, cache["hs"][-1])  # the state the next batch starts from
    assert len(cache["gates"]) == x.shape[1]


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_heads_keep_float32_outputs_and_box_loss_under_mixed_precision(policy):
    keras.config.set_dtype_policy(policy)  # as on a GPU; the fixture restores float32 after
    for model in (lesson7.bn_head(FEATURES, CLASSES), lesson7.fcn_head(FEATURES, CLASSES),
                  lesson7.size_head(FEATURES, 3, CLASSES),
                  lesson7.box_class_head(FEATURES, CLASSES, (0, 0, 0, 0), 0.01)):
        assert all(o.dtype == "float32" for o in model.outputs), model.name
    # A 300-pixel box error squared is 90,000: past float16's largest number, fine in float32.
    model = lesson7.box_class_head(FEATURES, CLASSES, (0, 0, 0, 0), 0.01)
    y = {"bb": np.full((6, 4), 300.0, "float32"), "class": np.eye(CLASSES, dtype="float32")[:6]}
    result = model.evaluate(features(), y, batch_size=6, verbose=0, return_dict=True)
    pred = model.predict(features(), verbose=0)["bb"]
    want = np.mean((y["bb"] - pred.astype("float64")) ** 2)
    assert np.isfinite(result["bb_loss"]) and result["bb_loss"] == pytest.approx(want, rel=1e-3)
