"""Lesson 6's models as the notes write them: the exported definitions (utils.lessons.lesson6) share
their weights, keep their state, read any length of text; the notes' own cells (each tagged cell's
source, executed) compute what Keras and the numpy RNN compute, given the same weights and inputs."""
import copy

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from utils.lessons import lesson6
from utils.models import text as tm
from utils.scratch import rnn as nprnn

from notebook_cells import run_cell

VOCAB, N_FAC, N_HIDDEN, CS = 11, 4, 6, 5
KERAS_NAMES = {"keras": keras, "layers": layers}


# Exact comparisons need one precision: float32, whatever another test left set.
pytestmark = pytest.mark.usefixtures("float32_policy")


def cell(tag, **names):
    """The namespace left by lesson 6's cell tagged `tag`, run with Keras imported."""
    return run_cell("lesson6", tag, **KERAS_NAMES, **names)


def weighted(model):
    """The layers of `model` that hold weights, in order."""
    return [layer for layer in model.layers if layer.weights]


def randomise(model, seed=0):
    """Weights far from their initial values, so that any difference in the maths shows."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.uniform(0.5, 1.5, w.shape) if "variance" in w.path
                       else rng.uniform(-0.6, 0.6, w.shape) for w in model.weights])


def copy_into(src, dst):
    """Copy weights layer by layer between two models built from the same kinds of layer."""
    a, b = weighted(src), weighted(dst)
    assert [type(x) for x in a] == [type(x) for x in b]
    for x, y in zip(a, b):
        y.set_weights(x.get_weights())


def chars(shape, seed=1):
    """Random character ids."""
    return np.random.default_rng(seed).integers(0, VOCAB, shape).astype("int32")


def assert_same(ours, theirs):
    np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-5, atol=1e-6)


def test_three_char_model_reads_each_character_with_the_same_layers():
    model = lesson6.char3_model(VOCAB, N_FAC, N_HIDDEN)
    assert [layer.name for layer in weighted(model)] == ["embed", "to_hidden", "hidden_to_hidden", "next_char"]
    x = lesson6.as_columns(chars((7, 3)))
    assert len(x) == 3 and x[0].shape == (7, 1)
    assert model.predict(x, verbose=0).shape == (7, VOCAB)


def test_unrolled_rnn_shares_its_weights_across_steps():
    build = lesson6.unrolled_rnn
    assert build(VOCAB, 3, N_FAC, N_HIDDEN).count_params() == \
        build(VOCAB, 16, N_FAC, N_HIDDEN).count_params()


def keras_sequence_model(seed=0):
    """Lesson 6's SimpleRNN with return_sequences, weights randomised; and its weights."""
    ref = lesson6.simple_rnn_model(VOCAB, CS, N_FAC, N_HIDDEN, return_sequences=True)
    randomise(ref, seed)
    (embedding,), (kernel, recurrent, bias), (w_out, b_out) = \
        [layer.get_weights() for layer in weighted(ref)]
    return ref, embedding, kernel, recurrent, bias, w_out, b_out


def test_sequence_model_by_hand_is_keras_simple_rnn():
    ours = cell("def-seq-by-hand")["seq_rnn_by_hand"](VOCAB, CS, N_FAC, N_HIDDEN)
    ref, embedding, kernel, recurrent, bias, w_out, b_out = keras_sequence_model()
    ours.get_layer("embed").set_weights([embedding])
    ours.get_layer("to_hidden").set_weights([kernel, bias])
    ours.get_layer("hidden_to_hidden").set_weights([recurrent])
    ours.get_layer("next_char").set_weights([w_out, b_out])
    x = chars((7, CS))
    out = ours.predict(x, verbose=0)
    assert out.shape == (7, CS, VOCAB)  # a guess after every character
    assert_same(out, ref.predict(x, verbose=0))


def test_one_hot_cell_is_an_embedding_folded_into_the_input_weights():
    ours = cell("def-one-hot-rnn")["one_hot_rnn"](VOCAB, CS, N_HIDDEN)
    ref, embedding, kernel, recurrent, bias, w_out, b_out = keras_sequence_model()
    ours.get_layer("rnn").set_weights([embedding @ kernel, recurrent, bias])
    ours.get_layer("next_char").set_weights([w_out, b_out])
    x = chars((7, CS))
    one_hot = keras.utils.to_categorical(x, VOCAB)
    assert_same(ours.predict(one_hot, verbose=0), ref.predict(x, verbose=0))


def test_stateful_model_carries_its_state_and_the_stateless_one_does_not():
    batch = 3
    first, second = chars((batch, CS), 1), chars((batch, CS), 2)
    stateful = lesson6.stateful_model(VOCAB, batch, CS, N_FAC, N_HIDDEN)
    stateless = lesson6.stateful_model(VOCAB, batch, CS, N_FAC, N_HIDDEN, stateful=False)
    randomise(stateful)
    copy_into(stateful, stateless)
    assert tm.reset_states(stateful) == 1 and tm.reset_states(stateless) == 0
    assert_same(stateful.predict_on_batch(first), stateless.predict_on_batch(first))  # both from zero
    carried = stateful.predict_on_batch(second)
    assert not np.allclose(carried, stateless.predict_on_batch(second), atol=1e-4)  # the first batch was remembered
    tm.reset_states(stateful)
    assert_same(stateful.predict_on_batch(second), stateless.predict_on_batch(second))


def test_char_rnn_recipe_is_two_lstm_layers_reading_any_length_of_text():
    model = lesson6.char_rnn(VOCAB, N_FAC, N_HIDDEN, cell="LSTM", n_layers=2, dropout=0.2)
    assert len([l for l in weighted(model) if isinstance(l, layers.LSTM)]) == 2
    assert len([l for l in weighted(lesson6.char_rnn(VOCAB, N_FAC, N_HIDDEN)) if isinstance(l, layers.GRU)]) == 1
    for length in (CS, 2 * CS):  # any length of text
        x = chars((4, length), length)
        assert model.predict(x, verbose=0).shape == (4, length, VOCAB)


def float64_rnn(seed=0):
    """The numpy RNN's weights, a batch of text, and a carried-in state."""
    params = nprnn.init_rnn(vocab=8, hidden=6, seed=seed)
    rng = np.random.default_rng(seed + 1)
    x, y = rng.integers(0, 8, (3, 10)), rng.integers(0, 8, (3, 10))
    return params, x, y, np.tanh(rng.normal(size=(3, 6)))


def test_tensorflow_rnn_cell_gives_the_numpy_rnns_loss_gradients_and_state():
    ns = cell("def-tf-rnn", tf=tf)
    params, x, y, h0 = float64_rnn()
    loss, grads, h = lesson6.rnn_loss_and_grads(params, x, y, h0)
    w = {k: tf.Variable(v) for k, v in params.items()}
    tf_loss, tf_grads, tf_h = ns["tf_rnn_grads"](w, x, y, tf.constant(h0))
    np.testing.assert_allclose(float(tf_loss), loss, rtol=1e-12)
    np.testing.assert_allclose(tf_h.numpy(), h, atol=1e-12)
    assert set(tf_grads) == set(nprnn.PARAMS)
    for k in nprnn.PARAMS:
        np.testing.assert_allclose(tf_grads[k].numpy(), grads[k], atol=1e-12, err_msg=k)


def test_tensorflow_rnn_update_is_the_numpy_sgd_step():
    ns = cell("def-tf-rnn", tf=tf)
    params, x, y, h0 = float64_rnn(3)
    w = {k: tf.Variable(v) for k, v in params.items()}
    loss, h = ns["tf_rnn_update"](w, x, y, tf.constant(h0), tf.constant(0.3, tf.float64))
    expected = copy.deepcopy(params)
    ref_loss, grads, ref_h = lesson6.rnn_loss_and_grads(params, x, y, h0)
    nprnn.sgd_step(expected, grads, 0.3, clip=5.0)
    np.testing.assert_allclose(float(loss), ref_loss, rtol=1e-12)
    for k in nprnn.PARAMS:
        assert not np.allclose(expected[k], params[k]), k  # the step moved every weight
        np.testing.assert_allclose(w[k].numpy(), expected[k], atol=1e-12, err_msg=k)
