"""Lesson 5's models, GloVe matrix and batch-norm step as the notes define them (utils.lessons.lesson5,
generated from the notes' export cells): what each model reads and returns, the vectors it starts
from, the precision its LSTM keeps, and the rows of the GloVe matrix."""
import keras
import numpy as np
import pytest

from utils.datasets import imdb
from utils.env import precision_scope
from utils.lessons import lesson5
from utils.models import text as tm

VOCAB, SEQ_LEN, DIM = 40, 12, 6


# Exact comparisons need one precision: float32, whatever another test left set.
pytestmark = pytest.mark.usefixtures("float32_policy")


def reviews(n=9, seed=1):
    return np.random.default_rng(seed).integers(0, VOCAB, (n, SEQ_LEN)).astype("int32")


def vectors(seed=2):
    return np.random.default_rng(seed).normal(size=(VOCAB, DIM)).astype("float32")


BUILDERS = {
    "sentiment_nn": lambda: lesson5.sentiment_nn(VOCAB, SEQ_LEN, DIM),
    "sentiment_conv1d": lambda: lesson5.sentiment_conv1d(VOCAB, SEQ_LEN, DIM),
    "sentiment_multi_cnn": lambda: lesson5.sentiment_multi_cnn(VOCAB, SEQ_LEN, DIM),
    "sentiment_lstm": lambda: lesson5.sentiment_lstm(VOCAB, SEQ_LEN, DIM, units=7),
}


@pytest.mark.parametrize("name", BUILDERS)
def test_each_model_reads_word_ids_and_gives_a_probability_uncompiled(name):
    keras.utils.set_random_seed(0)
    model = BUILDERS[name]()
    assert not model.compiled  # the caller compiles it, at its own rate (the notes: `compiled`)
    assert model.get_layer("embedding").input_dim == VOCAB  # the name unfreeze_embedding finds
    p = model.predict(reviews(), verbose=0)
    assert p.shape == (9, 1) and p.dtype == np.float32 and ((p > 0) & (p < 1)).all()


@pytest.mark.parametrize("trainable", [False, True])
def test_conv1d_net_starts_from_the_given_vectors(trainable):
    matrix = vectors()
    model = lesson5.sentiment_conv1d(1, SEQ_LEN, weights=matrix, trainable=trainable)  # sizes from the matrix
    emb = model.get_layer("embedding")
    assert emb.trainable is trainable and (emb.input_dim, emb.output_dim) == matrix.shape
    np.testing.assert_array_equal(emb.get_weights()[0], matrix)
    if not trainable:  # a frozen embedding can be let go, at a lower rate, as the notes do
        tm.unfreeze_embedding(model)
        assert emb.trainable and emb.embeddings.path in [w.path for w in model.trainable_weights]


def test_multi_size_cnn_runs_one_convolution_per_width_on_the_given_vectors():
    matrix = vectors(3)
    model = lesson5.sentiment_multi_cnn(1, SEQ_LEN, weights=matrix, widths=(2, 3, 5))
    assert [l.kernel_size for l in model.layers if isinstance(l, keras.layers.Conv1D)] == [(2,), (3,), (5,)]
    np.testing.assert_array_equal(model.get_layer("embedding").get_weights()[0], matrix)
    assert model.get_layer("embedding").trainable  # the notes keep training GloVe here


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_the_lstm_keeps_its_state_in_float32_under_mixed_precision(policy):
    with precision_scope(policy):
        model = lesson5.sentiment_lstm(VOCAB, SEQ_LEN, DIM, units=7)
    [lstm] = [l for l in model.layers if isinstance(l, keras.layers.LSTM)]
    assert lstm.compute_dtype == "float32"
    assert model.get_layer("embedding").compute_dtype == policy.removeprefix("mixed_")  # the rest in 16 bits


def test_glove_matrix_rows_follow_kerass_word_ids():
    word_index = {"the": 1, "Film": 2, "zzyzx": 3, "great": 4, "awful": 5}  # Keras's ranks
    id_to_word = imdb.index_to_word(word_index)
    words = ["the", "film", "great", "awful", "plot"]  # GloVe is lowercase; "zzyzx" is missing
    vecs = np.random.default_rng(4).normal(size=(len(words), 8)).astype("float32")
    matrix, missing = lesson5.glove_matrix(id_to_word, 10, words, vecs, seed=5)
    assert missing == ["zzyzx"]
    np.testing.assert_array_equal(matrix[2 + imdb.INDEX_FROM], vecs[1])  # "Film" -> "film"
    np.testing.assert_array_equal(matrix[4 + imdb.INDEX_FROM], vecs[2])
    assert not matrix[0].any()  # padding
    again, _ = lesson5.glove_matrix(id_to_word, 10, words, vecs, seed=5)
    np.testing.assert_array_equal(matrix, again)  # seeded
