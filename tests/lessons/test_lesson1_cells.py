"""Lesson 1's ideas as the notes write them (each tagged cell's own source, executed) compute what
the kit's helpers compute on the same inputs: the hand-built VGG16 and the one-hot encoding."""
import keras
import numpy as np
import pytest

from utils.images import onehot
from utils.models import vgg16

from notebook_cells import run_cell

SIZE = 32  # five 2x2 pools leave 1x1x512: the smallest VGG16 there is, quick to build


# Exact comparisons need one precision: float32, whatever another test left set.
pytestmark = pytest.mark.usefixtures("float32_policy")


@pytest.fixture(scope="module")
def vgg_cell():
    """The namespace lesson 1's VGG16 cell leaves (it builds and summarises one model)."""
    keras.config.set_dtype_policy("float32")
    return run_cell("lesson1", "vgg16-by-hand", keras=keras, np=np, IMAGE_SIZE=SIZE)


def images(n=3, seed=0):
    """Random 0-255 RGB images, as uint8: the preprocessing must not wrap them around."""
    return np.random.default_rng(seed).integers(0, 256, (n, SIZE, SIZE, 3)).astype("uint8")


def test_preprocessing_cell_is_the_kits_layer(vgg_cell):
    ims = images()
    ours = np.asarray(vgg_cell["Preprocess"]()(ims))
    np.testing.assert_allclose(ours, np.asarray(vgg16.VggPreprocess()(ims)), rtol=0, atol=1e-4)
    assert ours.min() < 0  # centred: uint8 arithmetic would have wrapped to large positives


@pytest.mark.parametrize("dropout", [0.0, 0.5])
def test_vgg16_cell_is_the_kits_vgg16(vgg_cell, dropout):
    keras.utils.set_random_seed(0)  # the same random weights whatever ran before
    ours = vgg_cell["vgg16_by_hand"]((SIZE, SIZE), dropout=dropout)
    kit = vgg16.sharpen(vgg16.vgg16_by_hand((SIZE, SIZE)))  # sure answers: differences show
    ours.set_weights(kit.get_weights())
    assert ours.count_params() == kit.count_params()
    kinds = [type(layer).__name__ for layer in ours.layers if type(layer).__name__ != "Dropout"]
    # the same layers in the same order, after the input and the preprocessing
    assert kinds[2:] == [type(layer).__name__ for layer in kit.layers][2:]
    assert [l.rate for l in ours.layers if isinstance(l, keras.layers.Dropout)] == (
        [dropout, dropout] if dropout else [])
    ims = images()
    expected = kit.predict(ims, verbose=0)
    assert expected.max(axis=1).min() > 0.2  # far from 1/1000 each: a real test
    np.testing.assert_allclose(ours.predict(ims, verbose=0), expected, atol=1e-5)


def test_vgg16_cell_at_width_8_is_the_standin_vgg16(vgg_cell):
    """The notes' VGG16 with `width=8` takes the kit's stand-in weights and gives its answers."""
    from utils.models import vgg16_standin
    kit = vgg16.vgg16_model("standin", (64, 64))
    ours = vgg_cell["vgg16_by_hand"]((64, 64), kit.output_shape[-1], width=8)
    assert [w.shape for w in ours.weights] == [w.shape for w in kit.weights]
    ours.set_weights(kit.get_weights())
    ims = np.random.default_rng(1).integers(0, 256, (3, 64, 64, 3)).astype("uint8")
    np.testing.assert_allclose(ours.predict(ims, verbose=0), kit.predict(ims, verbose=0),
                               atol=1e-5)
    assert kit.get_layer("fc1").units == 4096 // 8 == 4096 // vgg16_standin.RECIPE["width"]


def test_the_summary_the_notes_show_is_the_course_training_form(vgg_cell):
    hand = vgg_cell["hand"]
    assert sum(isinstance(l, keras.layers.Dropout) for l in hand.layers) == 2
    assert hand.output_shape == (None, 1000)


def test_onehot_cell_is_the_kits_onehot():
    cell = run_cell("lesson1", "onehot", np=np, keras=keras, **_notebook_names())
    labels = np.array([0, 2, 1, 2, 0, 3])
    np.testing.assert_array_equal(cell["onehot"](labels, 4), onehot(labels, 4))
    np.testing.assert_array_equal(cell["onehot"](labels, 5), onehot(labels, 5))
    assert cell["onehot_same"] and cell["xent_gap"] < 1e-5


def _notebook_names():
    """What the one-hot cell reads from the notebook: a model and unshuffled labelled batches."""
    rng = np.random.default_rng(3)
    classes = rng.integers(0, 2, 10)
    x = rng.uniform(0, 255, (10, 4)).astype("float32")

    class Batches:  # the two things the cell reads, and iteration giving (images, one-hot labels)
        num_classes = 2

        def __iter__(self):
            yield x[:8], np.eye(2, dtype="float32")[classes[:8]]

    Batches.classes = classes
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])

    class Vgg:
        pass

    vgg = Vgg()
    vgg.model = model
    return {"val_batches": Batches(), "vgg": vgg}
