"""Lesson 4's ideas as the notes write them: the hand convolution (its tagged cell's own source,
executed) computes what the kit's conv helpers compute, and the crosstab fitted by gradient descent
(the notes' export cells, utils.lessons.lesson4) has the right gradient and fits. (The optimizer
rules and the three Keras collaborative-filtering models are export cells too:
tests/scratch/test_scratch_optimizers.py and tests/models/test_collab.py check them.)"""
import numpy as np
import pytest

from utils.lessons import lesson2, lesson4
from utils.scratch import conv

from notebook_cells import run_cell

# Exact comparisons need one precision: float32, whatever another test left set.
pytestmark = pytest.mark.usefixtures("float32_policy")


# ---------------------------------------------------------------------------------------------
# The convolution by hand


def test_hand_convolution_cell_filters_are_the_kits():
    cell = run_cell("lesson4", "conv-by-hand", np=np)
    np.testing.assert_array_equal(cell["bottom_edge"], conv.BOTTOM_EDGE)
    np.testing.assert_array_equal(cell["right_edge"], conv.RIGHT_EDGE)


@pytest.mark.parametrize("k", [3, 5])
def test_hand_convolution_cell_is_the_kits_conv2d(k):
    conv_by_hand = run_cell("lesson4", "conv-by-hand", np=np)["conv_by_hand"]
    rng = np.random.default_rng(k)
    image = rng.uniform(0, 1, (13, 17)).astype(np.float32)
    filt = rng.normal(size=(k, k)).astype(np.float32)
    ours = conv_by_hand(image, filt)
    assert ours.shape == (13 - k + 1, 17 - k + 1)
    np.testing.assert_allclose(ours, conv.conv2d(image, filt), rtol=1e-5, atol=1e-5)
    assert ours[4, 6] == pytest.approx(float((image[4:4 + k, 6:6 + k] * filt).sum()), rel=1e-5)


def test_hand_convolution_cell_on_the_lessons_digit():
    cell = run_cell("lesson4", "conv-by-hand", np=np)
    digit, _, _ = conv.load_digit(0)
    for filt, kits in ((cell["bottom_edge"], conv.BOTTOM_EDGE), (cell["right_edge"], conv.RIGHT_EDGE)):
        np.testing.assert_allclose(cell["conv_by_hand"](digit, filt), conv.conv2d(digit, kits),
                                   atol=1e-5)


# ---------------------------------------------------------------------------------------------
# Collaborative filtering on the crosstab


def low_rank_table(n=15, k=2, missing=0.3, seed=0):
    """Ratings that k factors explain exactly, with some cells empty."""
    rng = np.random.default_rng(seed)
    table = 3 + rng.normal(0, 0.7, (n, k)) @ rng.normal(0, 0.7, (n, k)).T
    table[rng.random((n, n)) < missing] = np.nan
    return table


def test_crosstab_gradient_matches_numerical_gradients_with_l2():
    table = low_rank_table(n=5, k=2)
    rng = np.random.default_rng(3)
    params = {"users": rng.normal(size=(5, 2)), "films": rng.normal(size=(5, 2)),
              "ubias": rng.normal(size=5), "fbias": rng.normal(size=5)}
    _, grads = lesson4.crosstab_loss_grad(*params.values(), table, l2=0.01)
    numeric = lesson2.numerical_gradient(lambda p: lesson4.crosstab_loss_grad(*p.values(), table, l2=0.01),
                                         params)
    for (name, n), g in zip(numeric.items(), grads):
        np.testing.assert_allclose(g, n, rtol=1e-4, atol=1e-8, err_msg=name)


def test_crosstab_prediction_is_factors_dot_factors_plus_both_biases():
    rng = np.random.default_rng(5)
    users, films, ub, fb = rng.normal(size=(4, 3)), rng.normal(size=(6, 3)), rng.normal(size=4), rng.normal(size=6)
    pred = lesson4.crosstab_predict(users, films, ub, fb)
    assert pred.shape == (4, 6)
    assert pred[2, 5] == pytest.approx(users[2] @ films[5] + ub[2] + fb[5], rel=1e-12)


def test_fit_table_recovers_a_low_rank_table_and_fills_the_gaps():
    rng = np.random.default_rng(0)
    full = 3 + rng.normal(0, 0.7, (15, 2)) @ rng.normal(0, 0.7, (15, 2)).T
    table = full.copy()
    hidden = rng.random(full.shape) < 0.2
    table[hidden] = np.nan
    result = lesson4.fit_table(table, k=2, steps=1500, lr=0.05)
    assert result["loss"][-1] < 0.01 * result["loss"][0]
    assert result["rmse"] < 0.05
    # Cells it never saw are predicted far better than by the average rating.
    gap_rmse = np.sqrt(np.mean((result["pred"][hidden] - full[hidden]) ** 2))
    baseline = np.sqrt(np.mean((np.nanmean(table) - full[hidden]) ** 2))
    assert gap_rmse < 0.5 * baseline


def test_fit_table_refuses_an_empty_table():
    with pytest.raises(ValueError, match="no ratings"):
        lesson4.fit_table(np.full((3, 3), np.nan))


# ---------------------------------------------------------------------------------------------
# Soft targets at a temperature


def test_soften_is_the_softmax_of_the_raw_scores_over_the_temperature():
    from utils.scratch.softmax import softmax
    scores = np.random.default_rng(9).normal(0, 3, (6, 10))
    probs = softmax(scores)
    np.testing.assert_allclose(lesson4.soften(probs, 1), probs, rtol=1e-9)
    for t in (0.5, 2, 5):
        np.testing.assert_allclose(lesson4.soften(probs, t), softmax(scores / t), rtol=1e-9)


def test_a_higher_temperature_spreads_the_answer_and_keeps_its_order():
    probs = np.array([[0.9, 0.06, 0.03, 0.01, 0.0], [0.2, 0.2, 0.5, 0.1, 0.0]])
    soft = [lesson4.soften(probs, t) for t in (1, 2, 5, 1000)]
    for s in soft:
        assert np.all(np.isfinite(s)) and np.allclose(s.sum(axis=1), 1)
        np.testing.assert_array_equal(np.argsort(s[:, :4], axis=1), np.argsort(probs[:, :4], axis=1))
    largest = [s.max(axis=1) for s in soft]
    assert all((later < earlier).all() for earlier, later in zip(largest, largest[1:]))
    entropy = [-(s * np.log(s)).sum(axis=1) for s in soft]
    assert all((later > earlier).all() for earlier, later in zip(entropy, entropy[1:]))
    np.testing.assert_allclose(soft[-1], 0.2, atol=0.01)  # very hot: nearly even, over all five
    assert lesson4.soften(probs[0], 2).shape == (5,)  # one answer alone works too



# ---------------------------------------------------------------------------------------------
# Look, diagnose, try one thing: the linear model and the look at its answers


def test_prediction_spread_counts_each_class_and_the_confidence():
    probs = np.array([[0.7, 0.2, 0.1, 0.0],
                      [0.1, 0.8, 0.1, 0.0],
                      [0.6, 0.3, 0.1, 0.0],
                      [0.2, 0.2, 0.5, 0.1]])
    spread = lesson4.prediction_spread(probs)
    assert spread["photos_per_class"] == [2, 1, 1, 0]  # one count per class, unused ones too
    assert spread["classes_predicted"] == 3
    assert spread["top_two_share"] == pytest.approx(3 / 4)
    assert spread["mean_top_probability"] == pytest.approx((0.7 + 0.8 + 0.6 + 0.5) / 4)


def test_prediction_spread_of_a_collapsed_and_of_an_even_model():
    collapsed = np.tile([0.0, 0.99, 0.0, 0.01], (5, 1))  # every photo in one class, sure of it
    spread = lesson4.prediction_spread(collapsed)
    assert spread["photos_per_class"] == [0, 5, 0, 0] and spread["classes_predicted"] == 1
    assert spread["top_two_share"] == 1.0 and spread["mean_top_probability"] == pytest.approx(0.99)
    even = np.eye(10)[np.arange(20) % 10] * 0.5 + 0.05  # each class chosen twice, half sure
    spread = lesson4.prediction_spread(even)
    assert spread["classes_predicted"] == 10 and spread["top_two_share"] == pytest.approx(0.2)
    assert spread["mean_top_probability"] == pytest.approx(0.55)


def test_linear_model_is_one_dense_softmax_on_the_scaled_pixels():
    import keras

    from utils.training import get_lr
    model = lesson4.linear_model((6, 8, 3), 3e-4)
    assert model.count_params() == 10 * 6 * 8 * 3 + 10  # a weight per pixel and colour and class
    assert [type(layer).__name__ for layer in model.layers] == ["Rescaling", "Flatten", "Dense"]
    assert get_lr(model) == pytest.approx(3e-4)
    x = np.random.default_rng(0).uniform(0, 255, (4, 6, 8, 3)).astype("float32")
    probs = np.asarray(model(x))
    assert probs.shape == (4, 10) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    # It scales the pixels itself: the Dense layer sees x / 255.
    dense = model.layers[-1]
    w, b = (v.numpy() for v in dense.weights)
    expected = keras.ops.convert_to_numpy(keras.ops.softmax(x.reshape(4, -1) / 255 @ w + b))
    np.testing.assert_allclose(probs, expected, rtol=1e-4, atol=1e-6)


def test_a_too_high_rate_makes_the_linear_model_sure_of_everything():
    """The notes' diagnosis on random photos and labels: at 0.1 the weights blow up and almost
    every answer is near certain; at 3e-4 the model stays unsure, as it should on noise."""
    import keras
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (64, 48, 64, 3)).astype("float32")  # the stand-in's size
    y = np.eye(10, dtype="float32")[rng.integers(0, 10, 64)]
    sure = {}
    for lr in (0.1, 3e-4):
        keras.utils.set_random_seed(0)
        model = lesson4.linear_model(x.shape[1:], lr)
        model.fit(x, y, batch_size=16, epochs=3, verbose=0)
        sure[lr] = lesson4.prediction_spread(np.asarray(model(x)))["mean_top_probability"]
    assert sure[0.1] > 0.9 and sure[3e-4] < 0.5, sure
