"""Lesson 5's models and GloVe matrix as the notes write them (each tagged cell's own source,
executed) compute what the kit's helpers compute, given the same weights and inputs."""
import numpy as np
import pytest

from utils.datasets import glove, imdb
from utils.models import text as tm

from notebook_cells import run_cell

VOCAB, SEQ_LEN, DIM = 40, 12, 6


# Exact comparisons need one precision: float32, whatever another test left set.
pytestmark = pytest.mark.usefixtures("float32_policy")


def model_cells():
    """The namespace after lesson 5's model-definition cells, run in the notebook's order."""
    ns = run_cell("lesson5", "def-sentiment-nn")
    for tag in ("def-sentiment-conv1d", "def-sentiment-multi-cnn", "def-sentiment-lstm"):
        ns = run_cell("lesson5", tag, **ns)
    return ns


def randomise(model, seed=0):
    """Weights far from their initial values, so that any difference in the maths shows."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if layer.weights and layer.trainable:
            layer.set_weights([rng.uniform(-0.5, 0.5, w.shape) for w in layer.get_weights()])


def copy_into(src, dst):
    """Copy weights layer by layer between two models built from the same kinds of layer."""
    a, b = ([layer for layer in m.layers if layer.weights] for m in (src, dst))
    assert [type(x) for x in a] == [type(x) for x in b]
    assert [x.trainable for x in a] == [x.trainable for x in b]
    for x, y in zip(a, b):
        y.set_weights(x.get_weights())


def reviews(n=9, seed=1):
    return np.random.default_rng(seed).integers(0, VOCAB, (n, SEQ_LEN)).astype("int32")


def assert_same_model(ours, ref):
    assert ours.count_params() == ref.count_params()
    assert len(ours.trainable_weights) == len(ref.trainable_weights)
    randomise(ref)
    copy_into(ref, ours)
    x = reviews()
    np.testing.assert_allclose(ours.predict(x, verbose=0), ref.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_one_hidden_layer_cell_is_the_helpers_model():
    ns = model_cells()
    assert_same_model(ns["sentiment_nn"](VOCAB, SEQ_LEN, DIM), tm.sentiment_nn(VOCAB, SEQ_LEN, DIM))


def test_conv1d_cell_is_the_helpers_model():
    ns = model_cells()
    assert_same_model(ns["sentiment_conv1d"](VOCAB, SEQ_LEN, DIM),
                      tm.sentiment_conv1d(VOCAB, SEQ_LEN, DIM))


@pytest.mark.parametrize("trainable", [False, True])
def test_conv1d_cell_starts_from_the_given_vectors_like_the_helper(trainable):
    ns = model_cells()
    matrix = np.random.default_rng(2).normal(size=(VOCAB, DIM)).astype("float32")
    ours = ns["sentiment_conv1d"](1, SEQ_LEN, weights=matrix, trainable=trainable)
    ref = tm.sentiment_conv1d(1, SEQ_LEN, weights=matrix, trainable=trainable)
    assert ours.get_layer("embedding").trainable is trainable
    np.testing.assert_array_equal(ours.get_layer("embedding").get_weights()[0], matrix)
    assert_same_model(ours, ref)


def test_multi_size_cnn_cell_is_the_helpers_model():
    ns = model_cells()
    matrix = np.random.default_rng(3).normal(size=(VOCAB, DIM)).astype("float32")
    assert_same_model(ns["sentiment_multi_cnn"](VOCAB, SEQ_LEN, weights=matrix),
                      tm.sentiment_multi_cnn(VOCAB, SEQ_LEN, weights=matrix))


def test_lstm_cell_is_the_helpers_model():
    ns = model_cells()
    assert_same_model(ns["sentiment_lstm"](VOCAB, SEQ_LEN, DIM, units=7),
                      tm.sentiment_lstm(VOCAB, SEQ_LEN, DIM, units=7))


def test_glove_matrix_cell_is_the_helpers_recipe():
    ns = run_cell("lesson5", "def-glove-matrix", np=np)
    word_index = {"the": 1, "Film": 2, "zzyzx": 3, "great": 4, "awful": 5}  # Keras's ranks
    id_to_word = imdb.index_to_word(word_index)
    words = ["the", "film", "great", "awful", "plot"]  # GloVe is lowercase; "zzyzx" is missing
    vectors = np.random.default_rng(4).normal(size=(len(words), 8)).astype("float32")
    matrix, missing = ns["glove_matrix"](id_to_word, 10, words, vectors, seed=5)
    ref_matrix, ref_missing = glove.glove_matrix(id_to_word, 10, words, vectors, seed=5)
    np.testing.assert_array_equal(matrix, ref_matrix)
    assert missing == ref_missing == ["zzyzx"]
    np.testing.assert_array_equal(matrix[2 + imdb.INDEX_FROM], vectors[1])  # "Film" -> "film"
    assert not matrix[0].any()  # padding
