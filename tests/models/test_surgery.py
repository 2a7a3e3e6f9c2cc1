"""Model surgery (split_at, heads, vgg_ft, copies, insert_layer), ensembles, schedules, batches."""
import keras
import numpy as np
import pytest

from utils.ensemble import accuracy, average_predictions, ensemble_predict, train_ensemble
from utils.learning_rate import expand_schedule, fit_schedule, scale_schedule
from utils.lessons import lesson3
from utils.models.surgery import (
    adjust_dropout,
    copy_layers,
    copy_model,
    copy_weights,
    dense_head,
    insert_layer,
    set_trainable,
    split_at,
    vgg_ft,
    vgg_ft_fresh_bn,
)
from utils.models.vgg16 import vgg16_model
from utils.outofcore import ArrayBatches


def _chain_model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="c1")(inputs)
    x = keras.layers.MaxPooling2D(name="p1")(x)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="c2")(x)
    x = keras.layers.Flatten(name="flat")(x)
    x = keras.layers.Dense(5, activation="relu", name="d1")(x)
    return keras.Model(inputs, keras.layers.Dense(2, activation="softmax", name="out")(x))


X = np.random.default_rng(0).random((6, 8, 8, 3)).astype("float32")


def test_split_at_last_layer_of_a_type_and_by_name():
    model = _chain_model()
    bottom, top = split_at(model, keras.layers.Conv2D)
    assert bottom.layers[-1].name == "c2" and [l.name for l in top.layers[1:]] == ["flat", "d1", "out"]
    np.testing.assert_allclose(top.predict(bottom.predict(X, verbose=0), verbose=0),
                               model.predict(X, verbose=0), atol=1e-6)
    bottom, top = split_at(model, "MaxPooling2D")  # a class name works too
    assert bottom.output_shape == (None, 4, 4, 4)
    bottom, _ = split_at(model, "d1")  # and a layer name
    assert bottom.output_shape == (None, 5)
    # The parts share the layers: training the top changes the model.
    assert top.get_layer("out") is model.get_layer("out")


def test_split_at_says_what_is_wrong():
    model = _chain_model()
    with pytest.raises(ValueError, match="no layer named or of type 'LSTM'"):
        split_at(model, "LSTM")
    with pytest.raises(ValueError, match="nothing would be left"):
        split_at(model, "out")


def test_vgg_split_at_its_convolutions_matches_the_whole():
    model = vgg16_model(weights=None, size=(32, 32))
    bottom, top = split_at(model, "MaxPooling2D")
    assert bottom.layers[-1].name == "block5_pool"
    imgs = np.random.default_rng(1).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(top.predict(bottom.predict(imgs, verbose=0), verbose=0),
                               model.predict(imgs, verbose=0), rtol=1e-4, atol=1e-7)


def test_vgg_ft_freezes_all_but_a_new_last_layer():
    model = vgg_ft(3, weights=None, size=(32, 32))
    assert model.output_shape == (None, 3)
    assert [l.name for l in model.layers if l.trainable and l.weights] == ["finetune_3"]


def test_vgg_ft_fresh_bn_has_batch_norm_in_trainable_dense_layers():
    model = vgg_ft_fresh_bn(2, weights=None, size=(32, 32), units=16)
    assert model.output_shape == (None, 2)
    head = model.get_layer("bn_head")
    assert sum(isinstance(l, keras.layers.BatchNormalization) for l in head.layers) == 2
    trainable = {w.path.split("/")[0] for w in model.trainable_weights}
    assert trainable and all(name.startswith("bn_head") for name in trainable)
    model.fit(np.zeros((4, 32, 32, 3)), np.eye(2)[[0, 1, 0, 1]], verbose=0)  # it trains


def test_dense_head_options():
    head = dense_head((2, 2, 8), 3, units=16, bn=True, dropout=0.5)
    kinds = [type(l).__name__ for l in head.layers]
    assert kinds.count("Dense") == 3 and kinds.count("BatchNormalization") == 2
    assert kinds.count("Dropout") == 2 and head.output_shape == (None, 3)
    assert head.optimizer is not None  # compiled, ready to fit


def test_adjust_dropout_is_a_no_op_under_inverted_dropout():
    w = [np.ones((3, 2)), np.zeros(2)]
    out = adjust_dropout(w, 0.5, 0.0)
    assert all(np.array_equal(a, b) for a, b in zip(out, w))
    with pytest.raises(ValueError):
        adjust_dropout(w, 0.5, 1.0)
    # Why: Keras's dropout keeps the expected output unchanged while training.
    x = np.ones((2000, 50), "float32")
    dropped = keras.layers.Dropout(0.5)(x, training=True)
    assert float(np.mean(dropped)) == pytest.approx(1.0, abs=0.02)


def test_copy_model_is_independent_with_equal_weights():
    model = _chain_model()
    twin = copy_model(model)
    np.testing.assert_allclose(twin.predict(X, verbose=0), model.predict(X, verbose=0))
    twin.get_layer("out").set_weights([np.zeros((5, 2)), np.zeros(2)])
    assert not np.allclose(twin.predict(X, verbose=0), model.predict(X, verbose=0))


def test_copy_layers_and_copy_weights():
    model = _chain_model()
    fresh = copy_layers(model.layers)
    assert [l.name for l in fresh] == [l.name for l in model.layers[1:]]
    rebuilt = keras.Sequential([keras.Input((8, 8, 3)), *fresh])
    copy_weights(model.layers, rebuilt.layers)
    np.testing.assert_allclose(rebuilt.predict(X, verbose=0), model.predict(X, verbose=0), atol=1e-6)
    with pytest.raises(ValueError, match="cannot pair"):
        copy_weights(model.layers, rebuilt.layers[:-1])


def test_insert_layer_adds_a_layer_and_keeps_the_rest():
    model = _chain_model()
    idx = [l.name for l in model.layers].index("d1")
    bigger = insert_layer(model, keras.layers.Dropout(0.3, name="extra"), idx)
    names = [l.name for l in bigger.layers]
    assert names.index("extra") == names.index("d1") - 1
    # Dropout does nothing when predicting, so the predictions are unchanged.
    np.testing.assert_allclose(bigger.predict(X, verbose=0), model.predict(X, verbose=0), atol=1e-6)
    branched = keras.Model(model.input, keras.layers.Add()([model.get_layer("d1").output,
                                                            model.get_layer("d1").output]))
    with pytest.raises(ValueError, match="single chain"):
        insert_layer(branched, keras.layers.Dropout(0.1), 2)


def test_set_trainable_freezes_below_a_layer():
    model = _chain_model()
    n = set_trainable(model, "d1")
    assert n == (4 * 4 * 4) * 5 + 5 + 5 * 2 + 2  # d1 on 4x4x4 inputs, then out
    assert [l.name for l in model.layers if l.trainable] == ["d1", "out"]
    with pytest.raises(ValueError):
        set_trainable(model, "nope")


def test_average_predictions_and_accuracy():
    a = np.array([[0.9, 0.1], [0.4, 0.6]])
    b = np.array([[0.3, 0.7], [0.2, 0.8]])
    np.testing.assert_allclose(average_predictions([a, b]), [[0.6, 0.4], [0.3, 0.7]])
    np.testing.assert_allclose(average_predictions([a, b], weights=[3, 1]), 0.75 * a + 0.25 * b)
    assert accuracy(a, [0, 1]) == 1.0 and accuracy(b, np.eye(2)[[0, 1]]) == 0.5
    with pytest.raises(ValueError, match="same shape"):
        average_predictions([a, b[:1]])
    with pytest.raises(ValueError, match="weights"):
        average_predictions([a, b], weights=[1, -1])


def test_ensemble_of_models_trains_each_from_its_own_seed():
    x = np.random.default_rng(2).random((40, 4)).astype("float32")
    y = (x[:, 0] > 0.5).astype("int32")

    def build():
        m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
        m.compile("adam", "sparse_categorical_crossentropy")
        return m

    models = train_ensemble(build, lambda m: m.fit(x, y, epochs=1, verbose=0), n=3)
    assert len(models) == 3
    assert not np.allclose(models[0].get_weights()[0], models[1].get_weights()[0])
    avg, each = ensemble_predict(models, x)
    np.testing.assert_allclose(avg, np.mean(each, axis=0), rtol=1e-6)


def test_schedules_change_the_real_learning_rate_each_epoch():
    assert expand_schedule([(0.1, 2), (0.01, 1)]) == [0.1, 0.1, 0.01]
    with pytest.raises(ValueError):
        expand_schedule([(0.1, 1.5)])
    with pytest.raises(ValueError, match="is \\(learning_rate, epochs\\)") as err:
        expand_schedule([0.1])
    assert err.value.__context__ is None or err.value.__suppress_context__  # one traceback
    assert scale_schedule(((0.003, 8), (0.001, 7), (0.0003, 5)), 10) == ((0.003, 4), (0.001, 4),
                                                                         (0.0003, 2))
    assert scale_schedule(((0.003, 8), (0.001, 7)), 1) == ((0.003, 1),)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.5), "mse")
    seen = []
    spy = keras.callbacks.LambdaCallback(on_epoch_begin=lambda e, logs: seen.append(
        float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))))
    h = fit_schedule(model, np.ones((8, 2)), np.ones(8), schedule=[(0.1, 2), (0.01, 1)],
                     callbacks=[spy], verbose=0)
    assert len(h.history["loss"]) == 3
    assert seen == pytest.approx([0.1, 0.1, 0.01])


def test_array_batches_read_memmaps_a_batch_at_a_time(tmp_path):
    from utils.arrays import load_array, save_array
    save_array(tmp_path / "f.bc", np.arange(20, dtype="float32").reshape(10, 2))
    x = load_array(tmp_path / "f.bc", mmap=True)
    y = np.arange(10)
    batches = ArrayBatches(x, y, batch_size=4, seed=1)
    assert len(batches) == 3
    seen = np.concatenate([batches[i][1] for i in range(3)])
    assert sorted(seen) == list(range(10))  # every row once per epoch
    xb, yb = batches[0]
    np.testing.assert_array_equal(xb[:, 0], yb * 2)  # rows and labels stay paired
    first = seen.copy()
    batches.on_epoch_end()
    assert not np.array_equal(np.concatenate([batches[i][1] for i in range(3)]), first)
    plain = ArrayBatches(x, batch_size=4, shuffle=False)
    np.testing.assert_array_equal(np.concatenate([plain[i] for i in range(3)]), x)
    with pytest.raises(ValueError, match="rows"):
        ArrayBatches(x, y[:3])
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(10, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    assert len(model.fit(batches, epochs=2, verbose=0).history["loss"]) == 2


def test_mnist_models_build_and_learn_a_little():
    keras.utils.set_random_seed(0)
    x = np.zeros((40, 28, 28, 1), "uint8")
    y = np.arange(40) % 2
    x[y == 1, 10:18, 10:18] = 255  # a bright square means class 1
    for build in (lesson3.linear, lesson3.hidden,
                  lambda: lesson3.cnn(augment=True, bn=True, dropout=0.5, filters=(4,), dense=8),
                  lambda: lesson3.ensemble_member({"filters": (4, 8), "dense": 8})):
        model = build()
        assert model.output_shape == (None, 10)
        model.fit(x, y, epochs=1, batch_size=8, verbose=0)  # one epoch: each model trains
    # Augmentation acts in training only: predictions are deterministic.
    np.testing.assert_allclose(model.predict(x[:4], verbose=0), model.predict(x[:4], verbose=0))
