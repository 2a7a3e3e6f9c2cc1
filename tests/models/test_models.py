"""utils/models/vgg16.py and utils/training.py: the course's Vgg16 object on Keras 3.

No ImageNet weights offline, so every VGG16 here has random weights (weights=None) at 64 px.
Only two VGG16s are built: one Vgg16 shared by the module, and one vgg16_by_hand.
"""
from pathlib import Path
from types import SimpleNamespace

import keras
import numpy as np
import pytest
from PIL import Image

from utils.images import get_data
from utils.lessons.lesson1 import vgg16_by_hand
from utils.models import Vgg16, VggPreprocess, WeightsUnavailable, vgg16_model
from utils.training import Adam, compile_classifier, get_lr, set_lr

SIZE = (64, 64)
TEST_IDS = (1, 2, 10, 100, 200)  # sort as text: 1, 10, 100, 2, 200


def write_rgb(path, rgb, size=SIZE):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, tuple(int(c) for c in rgb)).save(path, "PNG")


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """train/valid with warm 'cats' and cool 'dogs', and test/unknown/<id>.png filled with id."""
    root = tmp_path_factory.mktemp("vggdata")
    rng = np.random.default_rng(0)
    for split, n in (("train", 4), ("valid", 1)):
        for i in range(n):
            write_rgb(root / split / "cats" / f"cat.{i}.png", (rng.integers(150, 255), 60, 30))
            write_rgb(root / split / "dogs" / f"dog.{i}.png", (30, 60, rng.integers(150, 255)))
    for i in TEST_IDS:
        write_rgb(root / "test" / "unknown" / f"{i}.png", (i, 255 - i, (7 * i) % 256))
    return SimpleNamespace(root=root, train=root / "train", valid=root / "valid",
                           test=root / "test")


@pytest.fixture(scope="module")
def built():
    """One Vgg16 with random weights; `base` is its model as built, before any finetune."""
    keras.utils.set_random_seed(0)
    vgg = Vgg16(weights=None, size=SIZE)
    return SimpleNamespace(vgg=vgg, base=vgg.model)


def snapshot(layers):
    return {layer.name: [w.copy() for w in layer.get_weights()] for layer in layers}


@pytest.fixture(scope="module")
def tuned(built, folders):
    """The shared Vgg16 finetuned to cats/dogs and fitted one epoch, with weights before/after."""
    vgg = built.vgg
    batches = vgg.get_batches(folders.train, batch_size=4)
    val_batches = vgg.get_batches(folders.valid, shuffle=False, batch_size=4)
    vgg.finetune(batches)
    head = vgg.model.layers[-1]
    frozen = vgg.model.layers[:-1]
    trainable_after_finetune = [w.path for w in vgg.model.trainable_weights]
    before = snapshot(vgg.model.layers)
    history = vgg.fit(batches, val_batches, nb_epoch=1, verbose=0)
    return SimpleNamespace(vgg=vgg, head=head, frozen=frozen, before=before, history=history,
                           after=snapshot(vgg.model.layers), batches=batches,
                           trainable_after_finetune=trainable_after_finetune)


def images(n=3, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, (n, *SIZE, 3)).astype("float32")


# ---------------------------------------------------------------------------------------------
# The model as built


def test_weights_the_kit_does_not_know_are_refused_saying_which_it_does():
    for wrong in ("ImageNet", "random", 0):
        with pytest.raises(ValueError, match="'imagenet'.*None.*'standin'"):
            vgg16_model(wrong, SIZE)


def test_built_model_is_vgg16_with_preprocessing_first(built):
    base = built.base
    assert base.input_shape == (None, *SIZE, 3)
    assert base.output_shape == (None, 1000)
    assert isinstance(base.layers[1], VggPreprocess)
    assert [l.name for l in base.layers[-3:]] == ["fc1", "fc2", "predictions"]
    assert built.vgg.classes[:2] == ["class_0", "class_1"] and len(built.vgg.classes) == 1000


def run(model, x):
    """An eager forward pass: no predict() tracing, so fast enough to call often."""
    return np.asarray(model(x, training=False))


def test_preprocessing_inside_the_model_matches_keras_and_leaves_input_alone(built):
    base = built.base
    x = images(2)
    original = x.copy()
    got = run(keras.Model(base.input, base.layers[1].output), x)
    np.testing.assert_array_equal(x, original)
    want = keras.applications.vgg16.preprocess_input(x.copy())
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-4)
    # running the whole model does not touch the caller's array either
    run(base, x)
    np.testing.assert_array_equal(x, original)


def test_vgg_preprocess_on_uint8_images_equals_float_images():
    """Decoded images are uint8 (tf.io.decode_jpeg, PIL): 100 - 103.939 must be -3.939, not a
    uint8 that wrapped around to 253."""
    x = np.full((1, 2, 2, 3), 100, np.uint8)
    want = run(VggPreprocess(), x.astype("float32"))
    np.testing.assert_allclose(want[0, 0, 0], [100 - 103.939, 100 - 116.779, 100 - 123.68],
                               rtol=1e-5)
    np.testing.assert_allclose(run(VggPreprocess(), x), want, rtol=1e-5)


def test_uint8_images_give_the_same_predictions_as_floats(built):
    x = images(2).round()
    np.testing.assert_allclose(run(built.base, x.astype("uint8")), run(built.base, x),
                               rtol=1e-5, atol=1e-7)


def test_second_to_last_layer_output_builds_a_new_model(built):
    """The course pattern: `Model(model.input, model.layers[-2].output)` for features."""
    base = built.base
    features = keras.Model(base.input, base.layers[-2].output)
    x = images(2)
    feats = run(features, x)
    assert feats.shape == (2, 4096)
    np.testing.assert_allclose(run(base.layers[-1], feats), run(base, x), rtol=1e-5, atol=1e-7)


def test_vgg16_by_hand_with_the_same_weights_predicts_the_same(built):
    base = built.base
    hand = vgg16_by_hand(SIZE)
    assert hand.count_params() == base.count_params()
    assert [w.shape for w in hand.weights] == [w.shape for w in base.weights]
    hand.set_weights(base.get_weights())
    x = images(2, seed=1)
    want = run(base, x)
    assert np.ptp(want) > 0  # the comparison is not between two constant outputs
    np.testing.assert_allclose(run(hand, x), want, rtol=1e-5, atol=1e-9)


# ---------------------------------------------------------------------------------------------
# Finetuning


def test_finetune_leaves_only_the_new_head_trainable(tuned):
    head = tuned.head
    assert isinstance(head, keras.layers.Dense) and head.units == 2
    assert tuned.trainable_after_finetune == [w.path for w in head.weights]
    assert len(tuned.trainable_after_finetune) == 2  # kernel and bias
    assert tuned.vgg.model.output_shape == (None, 2)
    assert tuned.vgg.model.layers[-2].name == "fc2"


def test_finetune_takes_the_class_names_of_the_batches(tuned):
    assert tuned.vgg.classes == ["cats", "dogs"] == tuned.batches.class_names


def test_fit_changes_the_head_and_nothing_else(tuned):
    assert "val_loss" in tuned.history.history and "loss" in tuned.history.history
    changed = [name for name in tuned.before
               if any(not np.array_equal(a, b)
                      for a, b in zip(tuned.before[name], tuned.after[name]))]
    assert changed == [tuned.head.name]
    frozen_weights = sum(len(tuned.before[l.name]) for l in tuned.frozen)
    assert frozen_weights == 30  # kernel and bias of 13 convolutions, fc1 and fc2
    assert len(tuned.before[tuned.head.name]) == 2


def test_predict_returns_probability_index_and_class(tuned, capsys):
    x = images(3, seed=2)
    original = x.copy()
    probs, idxs, classes = tuned.vgg.predict(x, details=True)
    np.testing.assert_array_equal(x, original)  # preprocessing happened inside the model
    assert len(probs) == len(idxs) == len(classes) == 3
    full = run(tuned.vgg.model, x)
    np.testing.assert_array_equal(idxs, full.argmax(1))
    np.testing.assert_allclose(probs, full.max(1), rtol=1e-6)
    assert all(0 <= p <= 1 for p in probs)
    assert classes == [["cats", "dogs"][i] for i in idxs]
    assert len(capsys.readouterr().out.strip().splitlines()) == 3


def test_test_predicts_every_file_in_filenames_order(tuned, folders):
    batches, preds = tuned.vgg.test(folders.test, batch_size=2)
    assert batches.filenames == ["unknown/1.png", "unknown/10.png", "unknown/100.png",
                                 "unknown/2.png", "unknown/200.png"]
    assert preds.shape == (5, 2)
    # each row equals the prediction for that file on its own
    # row k is the prediction for filenames[k], read from disk independently of the batches
    files = np.stack([np.asarray(Image.open(folders.test / f), "float32")
                      for f in batches.filenames])
    want = run(tuned.vgg.model, files)
    assert np.abs(want - want[::-1]).max() > 1e-6  # a wrong order would show
    np.testing.assert_allclose(preds, want, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(run(tuned.vgg.model, get_data(folders.test, target_size=SIZE)),
                               want, rtol=1e-4, atol=1e-7)


# ---------------------------------------------------------------------------------------------
# Learning rates


def one_step(model, seed=0):
    """One training step on two images; returns the head's weights before and after."""
    x = images(2, seed=seed)
    y = np.eye(2, dtype="float32")
    head = model.layers[-1]
    before = [w.copy() for w in head.get_weights()]
    steps = int(model.optimizer.iterations.numpy())
    model.fit(x, y, batch_size=2, epochs=1, verbose=0, shuffle=False)
    assert int(model.optimizer.iterations.numpy()) == steps + 1
    return before, head.get_weights()


def lr_variable(model):
    return float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))


def test_every_way_of_setting_the_learning_rate_takes_effect(tuned):
    model = tuned.vgg.model
    assert isinstance(model.optimizer, Adam)
    assert tuned.vgg.set_lr(0.01) == pytest.approx(0.01)
    assert lr_variable(model) == pytest.approx(0.01)
    assert set_lr(model, 0.02) == pytest.approx(0.02)
    assert lr_variable(model) == pytest.approx(0.02) == get_lr(model)
    model.optimizer.lr = 0.03  # the course's spelling
    assert lr_variable(model) == pytest.approx(0.03)
    assert model.optimizer.lr == pytest.approx(0.03)


@pytest.mark.parametrize("how", ["vgg.set_lr", "training.set_lr", "optimizer.lr"])
def test_the_compiled_train_step_uses_the_new_rate(tuned, how):
    """A rate of 0 set after the first fit freezes the head; a rate > 0 moves it again: the
    already traced train step reads the rate that was set, not the one it was compiled with."""
    vgg, model = tuned.vgg, tuned.vgg.model

    def put(lr):
        if how == "vgg.set_lr":
            vgg.set_lr(lr)
        elif how == "training.set_lr":
            set_lr(model, lr)
        else:
            model.optimizer.lr = lr

    put(0.0)
    before, after = one_step(model)
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)
    put(0.01)
    before, after = one_step(model, seed=1)
    assert any(not np.array_equal(a, b) for a, b in zip(before, after))


def test_set_lr_on_an_uncompiled_model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="Compile"):
        set_lr(model, 0.1)


# ---------------------------------------------------------------------------------------------
# Weights offline, and saving


def test_imagenet_weights_offline_raise_weights_unavailable(monkeypatch):
    def no_network(*args, **kwargs):
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: "
                        "[Errno -3] Temporary failure in name resolution")
    monkeypatch.setattr(keras.applications, "VGG16", no_network)
    with pytest.raises(WeightsUnavailable) as info:
        Vgg16(weights="imagenet")
    message = str(info.value)
    assert "weights=None" in message
    assert "URL fetch failure" in message
    assert info.value.__cause__ is None and info.value.__suppress_context__
    # with weights=None the error is not about downloads, so it passes through unchanged
    with pytest.raises(Exception, match="URL fetch failure") as info:
        vgg16_model(weights=None, size=SIZE)
    assert not isinstance(info.value, WeightsUnavailable)


def test_imagenet_top_needs_224_pixels():
    with pytest.raises(ValueError, match="224"):
        vgg16_model("imagenet", size=SIZE)


def test_saved_model_with_vgg_preprocess_and_course_adam_reloads(tmp_path):
    inputs = keras.Input((16, 16, 3))
    x = VggPreprocess(name="vgg_preprocess")(inputs)
    x = keras.layers.Conv2D(2, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))
    compile_classifier(model, lr=0.005)
    data = np.random.default_rng(0).uniform(0, 255, (4, 16, 16, 3)).astype("float32")
    model.fit(data, np.eye(2)[[0, 1, 0, 1]], epochs=1, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.layers[1], VggPreprocess)
    assert type(loaded.optimizer) is Adam
    assert loaded.optimizer.lr == pytest.approx(0.005)
    np.testing.assert_allclose(loaded.predict(data, verbose=0), model.predict(data, verbose=0),
                               rtol=1e-6)
    loaded.optimizer.lr = 0.001
    assert get_lr(loaded) == pytest.approx(0.001)
    assert int(loaded.optimizer.iterations.numpy()) == 1  # optimizer state came back too
