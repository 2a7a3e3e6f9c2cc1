"""utils/scratch/conv.py, softmax.py, collab.py: lesson 4's spreadsheet demos in numpy (the crosstab's
model and fit are lesson 4's export cells, checked in tests/lessons/test_lesson4_cells.py)."""
import keras
import numpy as np
import pandas as pd
import pytest

from utils.scratch import collab, conv, softmax

# ---------------------------------------------------------------------------------------------
# Convolution by hand


def test_load_digit_gives_a_real_digit_in_unit_range():
    image, label, source = conv.load_digit(3)
    assert image.ndim == 2 and min(image.shape) >= 20
    assert 0 <= image.min() and image.max() <= 1 and image.max() > 0.5  # ink on paper
    assert 0 <= label <= 9 and source


def test_conv_layer_matches_keras_conv2d():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 9, 11)).astype(np.float32)          # (in, H, W)
    kernels = rng.normal(size=(3, 2, 3, 3)).astype(np.float32)  # (out, in, 3, 3)
    bias = rng.normal(size=3).astype(np.float32)
    layer = keras.layers.Conv2D(3, 3, padding="valid")
    layer.build((1, 9, 11, 2))
    layer.set_weights([kernels.transpose(2, 3, 1, 0), bias])  # Keras keeps (k, k, in, out)
    expected = keras.ops.convert_to_numpy(layer(x.transpose(1, 2, 0)[None]))[0].transpose(2, 0, 1)
    np.testing.assert_allclose(conv.conv_layer(x, kernels, bias), expected, atol=1e-5)


def test_conv_layer_refuses_mismatched_channels():
    with pytest.raises(ValueError, match="input channel"):
        conv.conv_layer(np.zeros((2, 5, 5)), np.zeros((1, 3, 3, 3)))


def test_max_pool_matches_keras_and_drops_odd_edges():
    x = np.random.default_rng(1).normal(size=(2, 7, 6)).astype(np.float32)
    ours = conv.max_pool(x)
    assert ours.shape == (2, 3, 3)
    theirs = keras.layers.MaxPooling2D(2)(x.transpose(1, 2, 0)[None])
    np.testing.assert_allclose(ours, keras.ops.convert_to_numpy(theirs)[0].transpose(2, 0, 1))


def test_edge_filters_fire_on_the_bottom_and_right_edges_of_ink():
    square = np.zeros((10, 10), np.float32)
    square[3:8, 3:8] = 1  # ink on rows and columns 3..7
    bottom = conv.conv2d(square, conv.BOTTOM_EDGE)
    right = conv.conv2d(square, conv.RIGHT_EDGE)
    # Output row i covers input rows i..i+2: it is +3 only where ink lies above paper, i.e. on
    # the square's last ink rows (6 and 7), never along its top, where the response is -3.
    assert bottom.max() == 3 and set(np.nonzero(bottom == 3)[0]) == {6, 7}
    assert set(np.nonzero(bottom == -3)[0]) == {1, 2}
    assert right.max() == 3 and set(np.nonzero(right == 3)[1]) == {6, 7}
    np.testing.assert_array_equal(right, conv.conv2d(square.T, conv.BOTTOM_EDGE).T)


def test_conv_stages_shapes_and_relu():
    image, _, _ = conv.load_digit(0)
    s = conv.conv_stages(image)
    h, w = image.shape
    assert list(s) == ["input", "conv1", "relu1", "conv2", "relu2", "pool", "dense"]
    assert s["conv1"].shape == (2, h - 2, w - 2) and s["conv2"].shape == (2, h - 4, w - 4)
    assert s["pool"].shape == (2, (h - 4) // 2, (w - 4) // 2) and s["dense"].shape == (10,)
    assert s["relu1"].min() >= 0 and s["conv1"].min() < 0
    fig = conv.plot_conv_stages(s)
    assert len(fig.axes) == 7 * 2


# ---------------------------------------------------------------------------------------------
# Softmax and cross-entropy


def test_softmax_sums_to_one_and_survives_huge_scores():
    p = softmax.softmax([[1000.0, 1001.0, 999.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(p.sum(axis=1), 1)
    np.testing.assert_allclose(p[1], 1 / 3)
    assert np.isfinite(p).all() and p[0].argmax() == 1


def test_cross_entropy_matches_keras_for_int_and_one_hot_labels():
    t = softmax.example_table()
    theirs = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(
        t["labels"], t["logits"])
    assert t["mean_loss"] == pytest.approx(float(theirs), rel=1e-6)
    assert softmax.cross_entropy(t["probs"], np.eye(5)[t["labels"]]) == pytest.approx(t["mean_loss"])
    assert t["losses"][2] > t["losses"][0]  # the wrong answer costs most


def test_softmax_cross_entropy_gradient_is_p_minus_y():
    logits, labels = softmax.EXAMPLE_LOGITS, softmax.EXAMPLE_LABELS
    grad = softmax.softmax_cross_entropy_grad(logits, labels)
    h = 1e-6
    numeric = np.zeros_like(logits)
    for idx in np.ndindex(logits.shape):
        bump = np.zeros_like(logits)
        bump[idx] = h
        numeric[idx] = (softmax.cross_entropy(softmax.softmax(logits + bump), labels)
                        - softmax.cross_entropy(softmax.softmax(logits - bump), labels)) / (2 * h)
    np.testing.assert_allclose(grad, numeric, atol=1e-7)


# ---------------------------------------------------------------------------------------------
# Collaborative filtering on a crosstab


def test_top_crosstab_picks_the_most_active_users_and_movies():
    rng = np.random.default_rng(0)
    rows = [(u, m, float(rng.integers(1, 6))) for u in range(30) for m in range(30)
            if rng.random() < 0.1 + 0.8 * (u < 8) * (m < 8)]  # users and movies 0-7 are busiest
    ratings = pd.DataFrame(rows, columns=["userId", "movieId", "rating"])
    table = collab.top_crosstab(ratings, n=5)
    assert table.shape == (5, 5)
    assert set(table.index) == set(ratings.userId.value_counts().index[:5])
    assert set(table.columns) == set(ratings.movieId.value_counts().index[:5])
    given = {(u, m): r for u, m, r in rows}
    for u in table.index:
        for m in table.columns:
            if (u, m) in given:
                assert table.loc[u, m] == given[(u, m)]
            else:
                assert np.isnan(table.loc[u, m])
